#include "app/cli/server/generation_service.h"

#include "app/cli/server/chat_log.h"

namespace ld::server {

void GenJob::add_piece(std::string text, std::vector<TokenLogprob> logprobs) {
    if (record && !text.empty()) record->append(text);
    {
        std::lock_guard<std::mutex> lock(mu);
        pieces.push_back({std::move(text), std::move(logprobs)});
    }
    cv.notify_all();
}

void GenJob::end(GenerateResult res, std::string err) {
    if (record) record->finish(res, err);
    {
        std::lock_guard<std::mutex> lock(mu);
        result = std::move(res);
        error = std::move(err);
        finished = true;
    }
    cv.notify_all();
}

Usage job_usage(const GenJob& job) {
    const GenerateResult& g = job.result;
    Usage u{g.prompt_tokens, int(g.tokens.size())};
    if (job.speculative) {
        u.speculative = true;
        u.accepted_prediction_tokens = g.accepted;
        u.rejected_prediction_tokens = g.drafted - g.accepted;
    }
    return u;
}

void DraftConfig::apply(GenJob& job) const {
    if (!drafter) return;
    job.options.drafter = drafter;
    job.options.draft_max = draft_max;
    job.speculative = true;
}

void GenJob::end_cancelled() {
    cancel.store(true);
    GenerateResult r;
    r.stop = StopReason::Cancelled;
    end(std::move(r));
}

}  // namespace ld::server
