#include "inference/session/batch_scheduler.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include "inference/backend/backend.h"
#include "inference/core/error.h"
#include "inference/session/reply_stream.h"
#include "inference/session/speculative.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

const char* priority_name(Priority p) {
    switch (p) {
        case Priority::Interactive: return "interactive";
        case Priority::Api: return "api";
        case Priority::Background: return "background";
    }
    return "?";
}

// One request from submit() to its finished callback.
struct BatchScheduler::Seq {
    Seq(uint64_t id_, BatchRequest r, const Tokenizer& tok)
        : id(id_),
          req(std::move(r)),
          tokens(req.prompt),
          submitted(Clock::now()),
          sampler(req.options.sampling),
          out(tok, req.options, res, req.on_text, req.prompt.back(), submitted),
          length(req.options.draft_max) {
        res.prompt_tokens = int(req.prompt.size());
    }
    void end(StopReason r, std::string why = {}) {
        done = true;
        res.stop = r;
        error = std::move(why);
    }
    // Lower runs first: priority, then arrival.
    bool before(const Seq& o) const { return req.priority != o.req.priority ? req.priority < o.req.priority : id < o.id; }
    int pending() const { return int(tokens.size()) - computed; }
    bool cancel_requested() const { return cancelled || (req.options.cancel && req.options.cancel->load()); }
    bool cancel_flag() const { return req.options.cancel && req.options.cancel->load(); }
    // Decoding past its first token with a drafter: its steps verify drafts.
    bool drafting() const { return req.options.drafter && prompt_done && pending() == 1; }
    static bool ended(const Seq& s) { return s.done; }
    static bool any(const Seq&) { return true; }

    uint64_t id;
    BatchRequest req;
    std::vector<int32_t> tokens;  // prompt + sampled tokens; the last one is not run yet while decoding
    int kv = -1;                  // its KvPool sequence while running
    int computed = 0;             // positions of tokens in the KV cache
    bool cancelled = false;  // cancel(id) asked for it
    bool done = false;       // ended: res.stop (and error) say why; finished after the step
    bool started = false, prompt_done = false, in_batch = false;
    GenerateResult res;
    std::string error;
    Clock::time_point submitted, first_start, prompt_end;
    Sampler sampler;
    ReplyStream out;  // refers to req.options, res and req.on_text (a Seq never moves)
    // Speculative decoding (a drafter): this step's draft, the adapted length, the acceptance
    // rule's state (made at the first draft).
    Draft draft;
    DraftLength length;
    std::unique_ptr<DraftJudge> judge;
};

BatchScheduler::BatchScheduler(Backend& backend, const Tokenizer& tokenizer, SchedulerOptions options)
    : backend_(backend), tok_(tokenizer), opt_(options), pool_(backend) {
    if (!backend.supports_sequences())
        fail(backend.name(), " runs one sequence at a time: batched generation needs a paged KV cache");
    if (opt_.step_tokens <= 0) opt_.step_tokens = std::max(1, backend.batch_size());
    // Every running sequence's decode token must fit one step.
    opt_.max_sequences = std::clamp(opt_.max_sequences, 1, opt_.step_tokens);
    prompt_budget_ = opt_.step_tokens;
}

BatchScheduler::~BatchScheduler() {
    // The promise is one finished callback per request, also for those never run.
    try {
        cancel_all();
    } catch (...) {  // a callback that throws must not escape a destructor
    }
}

uint64_t BatchScheduler::submit(BatchRequest request) {
    if (request.prompt.empty()) fail("the prompt is empty");
    if (int64_t(request.prompt.size()) > backend_.context_size())
        fail("the prompt is ", request.prompt.size(), " tokens, longer than the ", backend_.context_size(), "-token context");
    const int n_vocab = backend_.vocab_size();
    for (size_t i = 0; i < request.prompt.size(); ++i)
        if (request.prompt[i] < 0 || request.prompt[i] >= n_vocab)
            fail("token id ", request.prompt[i], " (prompt position ", i, ") is outside the vocabulary (", n_vocab, " tokens)");
    if (request.options.drafter && (request.options.draft_max < 1 || request.options.draft_max > 16))
        fail("the draft length must be 1 to 16, got ", request.options.draft_max);
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t id = next_id_++;
    inbox_.push_back(std::make_unique<Seq>(id, std::move(request), tok_));
    wake_.notify_all();
    return id;
}

void BatchScheduler::cancel(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    cancels_.push_back(id);
    wake_.notify_all();
}

void BatchScheduler::shutdown() {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    wake_.notify_all();
}

namespace {

// Inserts s where `list` (sorted by Seq::before) keeps its order.
template <typename S>
void insert_sorted(std::vector<std::unique_ptr<S>>& list, std::unique_ptr<S> s) {
    auto at = std::upper_bound(list.begin(), list.end(), s, [](const auto& a, const auto& b) { return a->before(*b); });
    list.insert(at, std::move(s));
}

}  // namespace

void BatchScheduler::take_inbox() {
    std::vector<std::unique_ptr<Seq>> in;
    std::vector<uint64_t> cancels;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        in.swap(inbox_);
        cancels.swap(cancels_);
    }
    for (auto& s : in) insert_sorted(waiting_, std::move(s));
    for (uint64_t id : cancels)
        for (auto* list : {&running_, &waiting_})
            for (auto& s : *list)
                if (s->id == id) s->cancelled = true;
}

void BatchScheduler::finish(Seq& s) {
    s.out.finish();  // what a stop string held back, as Session does at the end
    if (s.kv >= 0) {
        pool_.close(s.kv);
        s.kv = -1;
    }
    if (s.req.on_finished) {
        BatchOutcome o;
        o.id = s.id;
        o.result = std::move(s.res);
        o.error = std::move(s.error);
        s.req.on_finished(o);
    }
}

void BatchScheduler::finish_where(std::vector<std::unique_ptr<Seq>>& list, bool (*pred)(const Seq&)) {
    std::vector<std::unique_ptr<Seq>> done;
    for (auto it = list.begin(); it != list.end();) {
        if (pred(**it)) {
            done.push_back(std::move(*it));
            it = list.erase(it);
        } else {
            ++it;
        }
    }
    // Out of the lists first: a callback may submit or cancel (those only queue).
    for (auto& s : done) finish(*s);
}

void BatchScheduler::cancel_all() {
    take_inbox();
    for (auto* list : {&running_, &waiting_})
        for (auto& s : *list)
            if (!s->done) s->end(StopReason::Cancelled);
    finish_where(running_, &Seq::any);
    finish_where(waiting_, &Seq::any);
}

bool BatchScheduler::admit(Seq& s) {
    const int kv = pool_.open(s.tokens);
    const int reused = pool_.length(kv);
    if (pool_.blocks_needed(kv, int(s.tokens.size()) - reused) > pool_.available_blocks()) {
        pool_.close(kv);  // what it adopted goes back to the cache
        return false;
    }
    s.kv = kv;
    s.computed = reused;
    stats_.prompt_reused += reused;
    if (!s.started) {
        s.started = true;
        s.first_start = Clock::now();
        s.res.evaluated_tokens = int(s.tokens.size()) - reused;
    }
    return true;
}

void BatchScheduler::admit_waiting() {
    while (!waiting_.empty()) {
        Seq& w = *waiting_.front();
        if (int(running_.size()) < opt_.max_sequences && admit(w)) {
            std::unique_ptr<Seq> s = std::move(waiting_.front());
            waiting_.erase(waiting_.begin());
            insert_sorted(running_, std::move(s));
            continue;
        }
        // No slot or no blocks: a running sequence of a lower priority makes way.
        Seq* victim = nullptr;
        for (auto it = running_.rbegin(); it != running_.rend() && !victim; ++it)
            if ((*it)->req.priority > w.req.priority) victim = it->get();
        if (victim) {
            preempt(*victim);  // it waits behind w
            continue;
        }
        if (!running_.empty()) return;  // w waits for running sequences to end (arrival order)
        // Alone with the whole cache, and still too long: it can never run.
        std::unique_ptr<Seq> s = std::move(waiting_.front());
        waiting_.erase(waiting_.begin());
        s->end(StopReason::Cancelled, "the KV cache is full: " + std::to_string(s->tokens.size()) +
                                          " positions do not fit its " + std::to_string(pool_.total_blocks()) +
                                          " blocks of " + std::to_string(pool_.block_size()));
        finish(*s);
    }
}

void BatchScheduler::preempt(Seq& s) {
    auto it = std::find_if(running_.begin(), running_.end(), [&](const auto& p) { return p.get() == &s; });
    std::unique_ptr<Seq> own = std::move(*it);
    running_.erase(it);
    pool_.close(s.kv);  // its full blocks stay cached: resuming adopts them again
    s.kv = -1;
    s.computed = 0;
    ++stats_.preemptions;
    insert_sorted(waiting_, std::move(own));
}

BatchScheduler::Seq* BatchScheduler::worst_running(const Seq& better_than) {
    for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
        Seq* s = it->get();
        if (s == &better_than || !better_than.before(*s)) return nullptr;  // sorted: the rest rank higher
        if (!s->in_batch) return s;
    }
    return nullptr;
}

bool BatchScheduler::make_room(Seq& s, int n, bool may_preempt) {
    for (;;) {
        try {
            if (pool_.reserve(s.kv, n)) return true;
        } catch (const std::exception& e) {  // a failed copy on write: this sequence fails
            s.end(StopReason::Cancelled, e.what());
            return false;
        }
        Seq* victim = may_preempt ? worst_running(s) : nullptr;
        if (!victim) return false;
        preempt(*victim);
    }
}

bool BatchScheduler::draft_for(Seq& s, int k) {
    Drafter& drafter = *s.req.options.drafter;
    s.draft.clear();
    try {
        if (!s.judge) {  // its first pass: the drafter learns this generation's sampling
            drafter.begin(s.req.options.sampling);
            s.judge = std::make_unique<DraftJudge>(backend_.vocab_size(), s.req.options.sampling);
        }
        if (k > 0) drafter.draft(s.tokens, k, s.draft);
        check_draft(drafter, s.draft, k, backend_.vocab_size());
    } catch (const std::exception& e) {  // a failing draft model fails its own request only
        s.end(StopReason::Cancelled, e.what());
        return false;
    }
    return true;
}

std::vector<BatchScheduler::Chunk> BatchScheduler::plan_step() {
    std::vector<Chunk> batch;
    int budget = opt_.step_tokens;
    std::vector<Seq*> full;  // alone and out of blocks
    int prompt_left = prompt_budget_;  // prompt tokens this step may still take
    // Decoding sequences not yet planned: each keeps one token of the budget from drafts. And
    // the prompt tokens of sequences ranked before the one planned: drafts come after them.
    int decoders = 0, prompt_ahead = 0;
    for (const auto& s : running_) decoders += !s->in_batch && !s->done && s->pending() == 1;
    auto add = [&](Seq& s, int n, bool verify) {
        s.in_batch = true;
        batch.push_back({&s, n, verify});
        budget -= n;
        if (s.pending() != 1) prompt_left -= n;
    };
    // One decode token of every decoding sequence first, best first, each with what drafts the
    // budget leaves; then prompt chunks (and resumed sequences) in priority order with what is left.
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < running_.size() && budget > 0 && (pass == 0 || prompt_left > 0);) {
            Seq& s = *running_[i];
            const bool decode = s.pending() == 1;
            if (s.in_batch || s.done || decode != (pass == 0)) {
                if (!s.in_batch && !s.done && !decode) prompt_ahead += s.pending();
                ++i;
                continue;
            }
            if (decode) --decoders;
            int n = std::min(s.pending(), budget);
            if (!decode) n = std::min(n, prompt_left);
            const bool verify = s.drafting();
            if (verify) {
                // Positions [h - 1, h - 1 + k] must fit the context; the accepted drafts and the
                // model's own token the token limit; the decoders after it their one token each,
                // and better sequences their prompt chunks (a drafting background job must not
                // starve an interactive prompt).
                const int h = int(s.tokens.size());
                const int room = budget - decoders - 1 - std::min(prompt_ahead, prompt_left);
                const int k = std::min({s.length.next(), backend_.context_size() - h,
                                        s.req.options.max_tokens - int(s.res.tokens.size()) - 1, room});
                if (!draft_for(s, k)) {
                    ++i;
                    continue;
                }
                n = 1 + int(s.draft.tokens.size());
                // Drafts take free blocks only; short of them the sequence decodes plainly.
                if (n > 1 && !make_room(s, n, false) && !s.done) n = 1;
            }
            while (n > 0 && !make_room(s, n) && !s.done) n = decode ? 0 : n / 2;  // a smaller chunk may fit
            if (s.done) {
                ++i;
            } else if (n > 0) {
                if (verify && int(s.draft.tokens.size()) > n - 1) {
                    s.draft.tokens.resize(size_t(n - 1));
                    if (!s.draft.q.empty()) s.draft.q.resize(size_t(n - 1));
                }
                add(s, n, verify);
                ++i;
            } else if (running_.size() == 1) {
                full.push_back(&s);  // nothing else holds blocks: the cache is too small for it
                ++i;
            } else if (decode || batch.empty()) {
                preempt(s);  // only better sequences hold blocks: s waits for them
            } else {
                ++i;  // a prompt chunk waits a step
            }
        }
    }
    for (Seq* s : full)
        s->end(StopReason::ContextFull, "the KV cache is full: its " + std::to_string(pool_.total_blocks()) +
                                            " blocks of " + std::to_string(pool_.block_size()) + " positions hold " +
                                            std::to_string(s->computed));
    return batch;
}

void BatchScheduler::run_step(const std::vector<Chunk>& batch) {
    tokens_.clear();
    positions_.clear();
    seq_index_.clear();
    want_.clear();
    views_.clear();
    int rows = 0;
    for (size_t k = 0; k < batch.size(); ++k) {
        const Seq& s = *batch[k].seq;
        views_.push_back(pool_.view(s.kv));  // after every reserve of the step: the tables are final
        for (int j = 0; j < batch[k].n; ++j) {
            const int p = s.computed + j;
            // A verification: the last token, then the draft (each row's logits judge the next).
            tokens_.push_back(batch[k].verify && j > 0 ? s.draft.tokens[size_t(j - 1)] : s.tokens[size_t(p)]);
            positions_.push_back(p);
            seq_index_.push_back(int32_t(k));
            const bool want = batch[k].verify || p + 1 == int(s.tokens.size());
            want_.push_back(want ? 1 : 0);
            rows += want;
        }
    }
    const int n_vocab = backend_.vocab_size();
    logits_.resize(size_t(rows) * size_t(n_vocab));
    SeqBatch b;
    b.n = int(tokens_.size());
    b.tokens = tokens_.data();
    b.positions = positions_.data();
    b.seq = seq_index_.data();
    b.seqs = views_.data();
    b.n_seqs = int(views_.size());
    b.want_logits = want_.data();
    b.logits = logits_.data();
    std::string failure;
    try {
        backend_.forward(b);
    } catch (const std::exception& e) {
        failure = e.what();
    }
    for (const Chunk& c : batch) c.seq->in_batch = false;
    if (!failure.empty()) {  // the step's sequences fail; the others go on
        for (const Chunk& c : batch) c.seq->end(StopReason::Cancelled, failure);
        return;
    }
    ++stats_.steps;
    stats_.tokens_run += b.n;
    stats_.max_batch_sequences = std::max(stats_.max_batch_sequences, b.n_seqs);
    int row = 0;
    for (const Chunk& c : batch) {
        Seq& s = *c.seq;
        if (c.verify) {
            after_verify(s, logits_.data() + size_t(row) * size_t(n_vocab));
            row += c.n;
            continue;
        }
        pool_.commit(s.kv, s.tokens.data() + s.computed, c.n);
        s.computed += c.n;
        if (s.computed == int(s.tokens.size())) after_logits(s, logits_.data() + size_t(row++) * size_t(n_vocab));
    }
}

// Session::decode_plain's loop body, one token per call.
void BatchScheduler::after_logits(Seq& s, const float* logits) {
    const auto now = Clock::now();
    GenerateResult& res = s.res;
    if (!s.prompt_done) {
        s.prompt_done = true;
        s.prompt_end = now;
        res.prompt_ms = ms_between(s.first_start, now);
    } else {
        res.decode_steps++;
        res.decode_ms = ms_between(s.prompt_end, now);
    }
    if (s.req.options.cancel && s.req.options.cancel->load()) return s.end(StopReason::Cancelled);
    if (int(res.tokens.size()) >= s.req.options.max_tokens) return s.end(StopReason::MaxTokens);
    const int n_vocab = backend_.vocab_size();
    const int32_t id = s.sampler.sample(logits, n_vocab, s.tokens);
    if (!s.out.push(id, logits, n_vocab)) return s.end(res.stop);  // push() said why
    if (s.computed >= backend_.context_size()) return s.end(StopReason::ContextFull);
    if (int(res.tokens.size()) >= s.req.options.max_tokens) return s.end(StopReason::MaxTokens);
    s.tokens.push_back(id);
}

// Session::decode_speculative's pass after its forward: the same DraftJudge, the same stats, the
// same stops, with the cancel flag checked before every token as in plain decoding.
void BatchScheduler::after_verify(Seq& s, const float* rows) {
    const auto now = Clock::now();
    GenerateResult& res = s.res;
    const int n_vocab = backend_.vocab_size();
    const int kd = int(s.draft.tokens.size());
    const int m = s.judge->judge(s.draft, rows, s.sampler, s.tokens, commit_);
    res.verify_passes++;
    res.drafted += kd;
    res.accepted += m;
    stats_.drafted += kd;
    stats_.accepted += m;
    s.length.update(kd, m);
    // The KV cache keeps the last token and the accepted drafts; the rejected ones are rolled
    // back (blocks only they reached go back to the pool) and never enter the prefix cache.
    kept_.assign(1, s.tokens.back());
    kept_.insert(kept_.end(), s.draft.tokens.begin(), s.draft.tokens.begin() + m);
    pool_.commit(s.kv, kept_.data(), m + 1);
    pool_.truncate(s.kv, pool_.length(s.kv));
    s.computed += m + 1;
    for (int i = 0; i <= m; ++i) {
        if (s.cancel_flag()) return s.end(StopReason::Cancelled);
        res.decode_steps++;
        res.decode_ms = ms_between(s.prompt_end, now);
        const int32_t t = commit_[size_t(i)];
        if (!s.out.push(t, rows + size_t(i) * size_t(n_vocab), n_vocab)) return s.end(res.stop);  // push() said why
        s.tokens.push_back(t);
    }
    if (s.computed >= backend_.context_size()) return s.end(StopReason::ContextFull);
    if (int(res.tokens.size()) >= s.req.options.max_tokens) return s.end(StopReason::MaxTokens);
}

bool BatchScheduler::step() {
    take_inbox();
    for (auto* list : {&running_, &waiting_})
        for (auto& s : *list)
            if (!s->done && s->cancel_requested()) s->end(StopReason::Cancelled);
    finish_where(running_, &Seq::ended);
    finish_where(waiting_, &Seq::ended);
    admit_waiting();
    if (!running_.empty()) {
        const std::vector<Chunk> batch = plan_step();
        if (!batch.empty()) run_step(batch);
        finish_where(running_, &Seq::ended);
    }
    if (!running_.empty() || !waiting_.empty()) return true;
    std::lock_guard<std::mutex> lock(mutex_);
    return !inbox_.empty() || !cancels_.empty();
}

void BatchScheduler::run_until_idle() {
    while (step()) {
    }
}

void BatchScheduler::run() {
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stop_) break;
        }
        if (step()) continue;
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || !inbox_.empty() || !cancels_.empty(); });
    }
    cancel_all();
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = false;  // run() may be called again
}

}  // namespace ld
