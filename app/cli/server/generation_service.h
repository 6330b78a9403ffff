#pragma once
// The engine behind the API server, as the HTTP layer sees it: which model it serves and a FIFO
// that runs jobs. `llamadesk-cli serve` implements it with its own Session (GenerationQueue);
// the app with the model it already has loaded (app/server/engine_host_service), so the app's
// server never loads the weights a second time. Everything here may be called from any thread.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "app/cli/server/api_format.h"
#include "inference/chat/chat_format.h"
#include "inference/chat/tool_format.h"
#include "inference/session/session.h"

namespace ld {
class Drafter;
class Tokenizer;
}

namespace ld::server {

class ChatRecord;

struct GenJob {
    // Input, set before submit().
    std::vector<int32_t> prompt;        // the rendered prompt (chat template or tool prompt applied)
    std::vector<ChatMessage> messages;  // a plain chat request's turns (services that render themselves)
    // cancel and on_token are set by the service, and drafter / draft_max by a service that
    // speculates (in submit(), on the submitting thread); trim_leading_space is set for chat replies.
    GenerateOptions options;
    int logprobs_top = -1;              // -1: no logprobs; else how many alternatives per token
    std::shared_ptr<ChatRecord> record;  // `serve --db`: where the reply is saved as it grows

    std::atomic<bool> cancel{false};

    // Output: written by the service, read by the HTTP thread under `mu`.
    struct Piece {
        std::string text;
        std::vector<TokenLogprob> logprobs;  // the tokens that produced this text
    };
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Piece> pieces;
    bool finished = false;
    GenerateResult result;
    std::string error;  // the engine failed (result is partial)
    // A drafter served this job: usage then reports result.drafted / accepted as prediction
    // tokens. Set before end() by the service: at submit (DraftConfig::apply, serve --draft /
    // --lookup), or with the result (the app's engine, which decides per request).
    bool speculative = false;

    // For services: the next piece of the reply, and its end (exactly once; the HTTP thread
    // answers once `finished` is set). A job that never ran ends with StopReason::Cancelled.
    void add_piece(std::string text, std::vector<TokenLogprob> logprobs = {});
    void end(GenerateResult result, std::string error = {});
    void end_cancelled();
};

// The usage of a finished job: prompt and completion tokens, and when the service drafted for
// it (`speculative`) the accepted and rejected drafted tokens. Read once `finished` is set.
Usage job_usage(const GenJob& job);

// `serve --draft MODEL` / `--lookup`: the drafter a service gives every request (not owned; the
// service calls it from its one generating thread only). Null: no speculation.
struct DraftConfig {
    Drafter* drafter = nullptr;
    int draft_max = 8;  // 1..16
    // Sets job.options' drafter and draft_max (nothing without a drafter).
    void apply(GenJob& job) const;
};

// What the service serves right now (the app's model can change while the server runs).
struct ServedModel {
    std::string id;                            // empty: none to serve (requests get 503) ...
    std::string unavailable;                   // ... and why, when not simply "none is loaded"
    int n_ctx = 0;                             // the backend's context
    std::shared_ptr<const Tokenizer> tokenizer;
    ChatTemplate chat_template = ChatTemplate::Llama3;
    ToolCallFormat tool_format = ToolCallFormat::Json;
    // Prompt tokens the engine keeps free for the reply beyond what a request asks (the app's
    // engine drops old turns rather than fill the window; refusing first keeps the API honest).
    int reply_reserve = 0;
};

// What a service can run beyond plain chat turns with temperature, top_p, seed, max_tokens and
// stop strings. The app's engine takes chat turns only (GenerationRequest); requests needing
// more get a 400 that says to use `llamadesk-cli serve`.
struct ServiceFeatures {
    bool raw_prompts = true;  // /v1/completions
    bool tools = true;        // tools, tool calls and tool results
    bool logprobs = true;
    bool penalties = true;    // frequency_penalty / presence_penalty
};

class GenerationService {
public:
    virtual ~GenerationService() = default;
    virtual ServedModel model() const = 0;
    virtual ServiceFeatures features() const = 0;
    // Queues `job` (FIFO); false when the queue is full (the caller answers 503).
    virtual bool submit(const std::shared_ptr<GenJob>& job) = 0;
    // The client is gone: a waiting job ends at once, a running one at its next token.
    virtual void cancel(const std::shared_ptr<GenJob>& job) = 0;
};

}  // namespace ld::server
