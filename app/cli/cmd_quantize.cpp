// `quantize IN OUT TYPE` and `synth NAME OUT`: write GGUF files.
#include <cstdio>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "inference/core/error.h"
#include "inference/gguf/gguf.h"
#include "inference/model/quantize_model.h"
#include "inference/model/synthetic.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::cli {

int cmd_quantize(const ArgList& argv) {
    const Args args(argv, {{"-t|--threads", true}});
    if (args.positional().size() != 3) throw UsageError("usage: quantize IN.gguf OUT.gguf TYPE");
    const auto& pos = args.positional();
    if (pos[0] == pos[1]) throw UsageError("the output must not overwrite the input");
    const QuantizeStats st = quantize_model(
        pos[0], pos[1], pos[2],
        [](int done, int total, const std::string& name) {
            std::fprintf(stderr, "\r[%d/%d] %-40s", done, total, name.c_str());
        },
        int(args.get_int("--threads", 0, 0, 1024)));
    std::fprintf(stderr, "\rquantized %d tensors: %.2f MiB -> %.2f MiB%s\n", st.tensors,
                 st.in_bytes / 1048576.0, st.out_bytes / 1048576.0,
                 st.fallbacks ? (" (" + std::to_string(st.fallbacks) + " tensors kept at a wider type: width not a block multiple)").c_str() : "");
    return 0;
}

int cmd_synth(const ArgList& argv) {
    const Args args(argv, {{"--seed", true}, {"--vocab-from", true}});
    if (args.positional().size() != 2) throw UsageError("usage: synth NAME OUT.gguf [--vocab-from MODEL.gguf]");
    const SyntheticSpec spec = synthetic_spec(args.positional()[0]);
    // The placeholder vocabulary turns text into ~1 token per byte, so token counts (and hence
    // any document timing) would be several times too high; a real tokenizer of the same
    // size makes the synthetic model tokenize like the release it imitates. Read it before
    // building gigabytes of weights so a mismatch fails fast.
    Vocab vocab;
    std::string vocab_path;
    if (args.has("--vocab-from")) {
        vocab_path = args.get("--vocab-from");
        const auto file = gguf::File::open(vocab_path);
        vocab = load_vocab(*file);
        if (int64_t(vocab.tokens.size()) != spec.params.n_vocab)
            fail("--vocab-from ", vocab_path, ": its vocabulary has ", vocab.tokens.size(), " tokens but ",
                 spec.name, " needs ", spec.params.n_vocab, " (the embedding and output rows)");
    }
    // Generated tensor by tensor as the file is written: a 70B model (42 GB) needs less than
    // 1 GB of memory here.
    write_synthetic_gguf(spec, uint64_t(args.get_int("--seed", 1, 0, INT64_MAX)), vocab_path.empty() ? nullptr : &vocab,
                         args.positional()[1]);
    std::fprintf(stderr, "wrote %s (%s:%s (synthetic), %.2f GiB of weights%s%s)\n", args.positional()[1].c_str(),
                 spec.name.c_str(), spec.mix.c_str(), synthetic_weight_bytes(spec) / 1073741824.0,
                 vocab_path.empty() ? "" : ", tokenizer from ", vocab_path.c_str());
    return 0;
}

}  // namespace ld::cli
