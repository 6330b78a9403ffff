// `bench`: prompt-processing and generation speed (median of repetitions), and the effective
// bandwidth of weight reads during generation — the number to compare with the memory limit.
// With --parallel N: N sequences decoding together, one SeqBatch step of N tokens over the paged
// KV cache (what the batch scheduler runs), aggregate and per-sequence tok/s.
// With --reopen N: time to first token when going back to an N-token chat (bench_reopen.cpp).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "app/cli/args.h"
#include "app/cli/bench_reopen.h"
#include "app/cli/commands.h"
#include "app/cli/engine_setup.h"
#include "inference/backend/memory_plan.h"
#include "inference/core/error.h"
#include "inference/model/synthetic.h"

namespace ld::cli {

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n == 0 ? 0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// "K,..." of integers in [lo, hi] (--verify's draft lengths, --parallel's sequence counts).
std::vector<int> int_list(const std::string& option, const std::string& list, int lo, int hi, const char* what) {
    std::vector<int> out;
    size_t at = 0;
    while (at <= list.size()) {
        const size_t comma = std::min(list.find(',', at), list.size());
        const std::string item = list.substr(at, comma - at);
        char* end = nullptr;
        const long k = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end || k < lo || k > hi)
            throw UsageError(option + " expects " + what + " " + std::to_string(lo) + ".." + std::to_string(hi) + ", got '" + item + "'");
        out.push_back(int(k));
        at = comma + 1;
    }
    return out;
}

// Sequences decoding together: each step is one SeqBatch with one token of every sequence, each
// wanting its logits (as sampling does). Sequence s owns blocks [s * per_seq, (s + 1) * per_seq)
// of the paged cache and holds `depth` positions of context (filled once, untimed); a run of
// n sequences uses the first n, so runs of different counts can alternate (their ratios then
// see the same machine load).
class ParallelDecode {
public:
    ParallelDecode(Backend& be, int max_seqs, int depth, int n_gen) : be_(be), depth_(depth), n_gen_(n_gen) {
        const int block = be.kv_block_size();
        per_seq_ = (depth + n_gen + block) / block;  // positions [0, depth + n_gen]
        if (int64_t(per_seq_) * max_seqs > be.kv_blocks())
            fail("--parallel ", max_seqs, " needs ", int64_t(per_seq_) * max_seqs, " KV blocks, the backend has ",
                 be.kv_blocks());
        tables_.resize(size_t(per_seq_) * size_t(max_seqs));
        for (size_t i = 0; i < tables_.size(); ++i) tables_[i] = int32_t(i);
        for (int s = 0; s < max_seqs; ++s) views_.push_back(SeqView{tables_.data() + size_t(s) * size_t(per_seq_), per_seq_});
        std::mt19937 rng(7);
        std::uniform_int_distribution<int32_t> tok(0, be.vocab_size() - 1);
        std::vector<int32_t> tokens, pos, seq;
        for (int s = 0; s < max_seqs; ++s) {
            for (int p = 0; p < depth; ++p) {  // different context tokens for each sequence
                tokens.push_back(tok(rng));
                pos.push_back(p);
                seq.push_back(s);
            }
            first_.push_back(tok(rng));
        }
        if (depth > 0) run(tokens, pos, seq, max_seqs, nullptr);
        logits_.resize(size_t(max_seqs) * size_t(be.vocab_size()));
    }
    // Untimed: pages in the weights and spins up the threads for this count's shapes.
    void warm_up(int n_seq) { decode(n_seq, 1); }
    // Aggregate tok/s of n_seq sequences decoding n_gen tokens each (positions depth and on,
    // written again by every run).
    double measure(int n_seq) {
        const double t0 = now_s();
        decode(n_seq, n_gen_);
        return double(n_seq) * n_gen_ / (now_s() - t0);
    }

private:
    void run(const std::vector<int32_t>& tokens, const std::vector<int32_t>& pos, const std::vector<int32_t>& seq,
             int n_seqs, float* logits) {
        want_.assign(tokens.size(), logits ? 1 : 0);
        SeqBatch b;
        b.n = int(tokens.size());
        b.tokens = tokens.data();
        b.positions = pos.data();
        b.seq = seq.data();
        b.seqs = views_.data();
        b.n_seqs = n_seqs;
        b.want_logits = want_.data();
        b.logits = logits;
        be_.forward(b);
    }
    void decode(int n_seq, int steps) {
        const int n_vocab = be_.vocab_size();
        std::vector<int32_t> tokens(first_.begin(), first_.begin() + n_seq), pos(static_cast<size_t>(n_seq)),
            seq(static_cast<size_t>(n_seq));
        for (int s = 0; s < n_seq; ++s) seq[size_t(s)] = s;
        for (int i = 0; i < steps; ++i) {
            std::fill(pos.begin(), pos.end(), depth_ + i);
            run(tokens, pos, seq, n_seq, logits_.data());
            for (int32_t& t : tokens) t = int32_t((size_t(t) * 7919 + 13) % size_t(n_vocab));
        }
    }

    Backend& be_;
    int depth_, n_gen_, per_seq_ = 0;
    std::vector<int32_t> tables_, first_;
    std::vector<SeqView> views_;
    std::vector<uint8_t> want_;
    std::vector<float> logits_;
};

}  // namespace

int cmd_bench(const ArgList& argv) {
    std::vector<OptionSpec> specs = engine_option_specs();
    specs.insert(specs.end(), {{"--synthetic", true}, {"-p|--n-prompt", true}, {"-n|--n-gen", true},
                               {"-d|--depth", true}, {"-r|--repetitions", true}, {"--json", false},
                               {"--verify", true}, {"--parallel", true}, {"--reopen", true}});
    const Args args(argv, specs);
    if (args.has("--reopen")) {
        if (args.has("--synthetic") || args.has("--parallel") || args.has("--verify") || args.has("--depth") ||
            args.has("--n-prompt"))
            throw UsageError("--reopen takes -m MODEL, -n (reply length), -r, --json and the engine options");
        return bench_reopen(args, int(args.get_int("--reopen", 4000, 64, 1 << 20)));
    }
    if (args.has("--model") == args.has("--synthetic")) throw UsageError("give exactly one of -m MODEL or --synthetic NAME");
    const int n_prompt = int(args.get_int("--n-prompt", 512, 0, 1 << 20));
    const int n_gen = int(args.get_int("--n-gen", 128, 0, 1 << 20));
    const int depth = int(args.get_int("--depth", 0, 0, 1 << 24));
    const int reps = int(args.get_int("--repetitions", 3, 1, 1000));
    // --verify K,...: the cost of a speculative verification pass (the last token and K drafts,
    // all logits) against one decode step at the same position.
    std::vector<int> verify_ks;
    if (args.has("--verify")) verify_ks = int_list("--verify", args.get("--verify"), 1, 16, "draft lengths");
    // --parallel N,...: decoding only, N sequences of depth + n_gen positions each; several
    // counts alternate rep by rep.
    std::vector<int> parallel_ns;
    if (args.has("--parallel")) parallel_ns = int_list("--parallel", args.get("--parallel"), 1, 256, "sequence counts");
    const int parallel = parallel_ns.empty() ? 0 : *std::max_element(parallel_ns.begin(), parallel_ns.end());
    if (parallel > 0 && args.has("--verify")) throw UsageError("--parallel and --verify measure different things; give one");
    if (parallel > 0 && n_gen < 1) throw UsageError("--parallel measures decoding: -n must be at least 1");

    Engine e;
    BackendOptions o = backend_options(args);
    if (args.has("--synthetic")) {
        const std::string name = args.get("--synthetic");
        const SyntheticSpec spec = synthetic_spec(name);
        // The weights are built in this process's memory (once: the GPU backends upload them
        // through a small staging buffer), so a 70B model needs ~40 GiB of RAM; say so rather
        // than meet the OOM killer.
        const uint64_t bytes = synthetic_weight_bytes(spec), avail = system_memory_available();
        if (avail > 0 && bytes + (uint64_t(1) << 30) > avail)
            fail("--synthetic ", name, " builds ", bytes >> 20, " MiB of weights in memory, but only ", avail >> 20,
                 " MiB is available; write it to disk with `synth` and bench it with -m (the file is mapped, "
                 "not copied), or use a smaller model");
        std::fprintf(stderr, "building synthetic %s (%.2f GiB of weights in memory)...\n", name.c_str(),
                     bytes / 1073741824.0);
        e.model = make_synthetic_model(spec);
        e.model_label = name + " (synthetic)";
    } else {
        e.model = load_model(args.get("--model"));
        const std::string path = args.get("--model");
        e.model_label = path.substr(path.find_last_of('/') + 1);
    }
    const int need = depth + (parallel > 0 ? n_gen : std::max({n_prompt, n_gen, verify_ks.empty() ? 0 : 18})) + 1;
    if (need > e.model->params.ctx_train)
        fail("depth + tokens (", need, ") exceed the model's context length ", e.model->params.ctx_train);
    if (!args.has("--ctx")) o.n_ctx = need;
    if (o.n_ctx < need) fail("--ctx ", o.n_ctx, " is smaller than depth + tokens (", need, ")");
    if (parallel > 0) o.kv_positions = parallel * (depth + n_gen + 1) + 256 * parallel;  // + a block each
    e.backend = create_backend(*e.model, o);
    Backend& be = *e.backend;
    const int n_vocab = be.vocab_size();
    const double wbytes = double(e.model->weight_bytes());
    if (parallel > 0) {
        if (!be.supports_sequences()) fail(be.name(), " runs one sequence at a time: --parallel needs a paged KV cache");
        ParallelDecode pd(be, parallel, depth, n_gen);
        for (int n : parallel_ns) pd.warm_up(n);
        std::vector<std::vector<double>> tps(parallel_ns.size());
        for (int r = 0; r < reps; ++r)
            for (size_t i = 0; i < parallel_ns.size(); ++i) tps[i].push_back(pd.measure(parallel_ns[i]));
        const std::string tg = "tg" + std::to_string(n_gen) + (depth ? " @ d" + std::to_string(depth) : "");
        if (!args.has("--json")) {
            std::printf("model:   %s, %.2f B params, %s, %.2f GiB of weights\n", e.model_label.c_str(),
                        e.model->parameter_count() / 1e9, e.model->dominant_type().c_str(), wbytes / 1073741824.0);
            std::printf("backend: %s\n", be.name().c_str());
            std::printf("%-16s %10s %14s %12s\n", "test", "sequences", "aggregate t/s", "per seq t/s");
        }
        for (size_t i = 0; i < parallel_ns.size(); ++i) {
            const int n = parallel_ns[i];
            const double agg = median(tps[i]), per_seq = agg / n;
            const double gbs = per_seq * wbytes / 1e9;  // one pass over the weights per step
            if (args.has("--json"))
                std::printf("{\"model\": \"%s\", \"backend\": \"%s\", \"params\": %lld, \"weight_bytes\": %.0f, "
                            "\"n_gen\": %d, \"depth\": %d, \"repetitions\": %d, \"parallel\": %d, "
                            "\"tg_aggregate\": %.2f, \"tg_per_sequence\": %.2f, \"gen_weight_gbps\": %.2f}\n",
                            e.model_label.c_str(), be.name().c_str(), (long long)e.model->parameter_count(), wbytes,
                            n_gen, depth, reps, n, agg, per_seq, gbs);
            else
                std::printf("%-16s %10d %14.2f %12.2f   (%.2f GB/s of weight reads)\n", tg.c_str(), n, agg, per_seq, gbs);
        }
        if (!args.has("--json"))
            std::printf("(sequences decoding together, one step of N tokens; median of %d repetitions, the counts "
                        "alternating)\n", reps);
        return 0;
    }

    std::mt19937 rng(42);
    std::uniform_int_distribution<int32_t> tok(0, n_vocab - 1);
    std::vector<int32_t> tokens(size_t(std::max({n_prompt, depth, 1})));
    for (int32_t& t : tokens) t = tok(rng);
    std::vector<float> logits(static_cast<size_t>(n_vocab));

    if (depth > 0) be.forward(tokens.data(), depth, 0, logits.data(), false);  // untimed fill
    // One untimed warm-up step: page in the weights and spin up the threads.
    be.forward(tokens.data(), 1, depth, logits.data(), false);

    std::vector<double> pp, tg;
    for (int r = 0; r < reps; ++r) {
        if (n_prompt > 0) {
            const double t0 = now_s();
            be.forward(tokens.data(), n_prompt, depth, logits.data(), false);
            pp.push_back(n_prompt / (now_s() - t0));
        }
        if (n_gen > 0) {
            int32_t next = tokens[0];
            const double t0 = now_s();
            for (int i = 0; i < n_gen; ++i) {
                be.forward(&next, 1, depth + i, logits.data(), false);
                next = int32_t((size_t(next) * 7919 + 13) % size_t(n_vocab));
            }
            tg.push_back(n_gen / (now_s() - t0));
        }
    }
    // Verification: per k, the median over 4 * reps pairs of (one decode step, one pass of k + 1
    // tokens with all logits), both at position depth + 1 (the cache filled before them).
    std::vector<std::pair<double, double>> verify_ms;  // (step, pass)
    if (!verify_ks.empty() && int(tokens.size()) < 17) tokens.resize(17, tokens[0]);
    for (int k : verify_ks) {
        std::vector<float> rows(size_t(k + 1) * size_t(n_vocab));
        std::vector<double> step, pass;
        be.forward(tokens.data(), k + 1, depth + 1, rows.data(), true);  // untimed: buffers, kernels
        for (int r = 0; r < 4 * reps; ++r) {
            double t0 = now_s();
            be.forward(tokens.data(), 1, depth + 1, logits.data(), false);
            step.push_back((now_s() - t0) * 1e3);
            t0 = now_s();
            be.forward(tokens.data(), k + 1, depth + 1, rows.data(), true);
            pass.push_back((now_s() - t0) * 1e3);
        }
        verify_ms.emplace_back(median(step), median(pass));
    }
    const double pp_tps = median(pp), tg_tps = median(tg);
    const double gbs = tg_tps * wbytes / 1e9;
    if (args.has("--json")) {
        std::printf("{\"model\": \"%s\", \"backend\": \"%s\", \"params\": %lld, \"weight_bytes\": %.0f, "
                    "\"n_prompt\": %d, \"n_gen\": %d, \"depth\": %d, \"repetitions\": %d, "
                    "\"prompt_tps\": %.2f, \"gen_tps\": %.2f, \"gen_weight_gbps\": %.2f",
                    e.model_label.c_str(), be.name().c_str(), (long long)e.model->parameter_count(), wbytes,
                    n_prompt, n_gen, depth, reps, pp_tps, tg_tps, gbs);
        if (!verify_ks.empty()) {
            std::printf(", \"verify\": [");
            for (size_t i = 0; i < verify_ks.size(); ++i)
                std::printf("%s{\"k\": %d, \"step_ms\": %.3f, \"pass_ms\": %.3f, \"ratio\": %.3f}", i ? ", " : "",
                            verify_ks[i], verify_ms[i].first, verify_ms[i].second,
                            verify_ms[i].second / verify_ms[i].first);
            std::printf("]");
        }
        std::printf("}\n");
    } else {
        std::printf("model:   %s, %.2f B params, %s, %.2f GiB of weights\n", e.model_label.c_str(),
                    e.model->parameter_count() / 1e9, e.model->dominant_type().c_str(), wbytes / 1073741824.0);
        std::printf("backend: %s\n", be.name().c_str());
        std::printf("%-16s %12s\n", "test", "tok/s");
        if (n_prompt > 0)
            std::printf("%-16s %12.2f\n", ("pp" + std::to_string(n_prompt) + (depth ? " @ d" + std::to_string(depth) : "")).c_str(), pp_tps);
        if (n_gen > 0)
            std::printf("%-16s %12.2f   (%.2f GB/s of weight reads)\n",
                        ("tg" + std::to_string(n_gen) + (depth ? " @ d" + std::to_string(depth) : "")).c_str(), tg_tps, gbs);
        for (size_t i = 0; i < verify_ks.size(); ++i)
            std::printf("%-16s %9.2f ms   (%.2fx a %.2f ms decode step)\n", ("verify k=" + std::to_string(verify_ks[i])).c_str(),
                        verify_ms[i].second, verify_ms[i].second / verify_ms[i].first, verify_ms[i].first);
        std::printf("(median of %d repetitions)\n", reps);
    }
    return 0;
}

}  // namespace ld::cli
