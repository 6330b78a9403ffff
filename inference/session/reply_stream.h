#pragma once
// The text side of a reply, shared by the plain and the speculative decode loops: takes each
// accepted token in order, streams valid UTF-8, holds back text that may start a stop string, and
// says when the reply ends (end of generation, a stop string, the caller's callback). With
// GenerateOptions::trim_leading_space it drops the reply's leading whitespace: stop strings are
// matched on the text as decoded, and the trim applies to what is emitted, only until the first
// visible character (text already streamed is never taken back).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "inference/session/session.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld {

class ReplyStream {
public:
    // `previous`: the prompt's last token (the reply continues it). `t_start` is when generate()
    // was called (time to first token).
    ReplyStream(const Tokenizer& tok, const GenerateOptions& opt, GenerateResult& res, const TextCallback& on_text,
                int32_t previous, std::chrono::steady_clock::time_point t_start);
    // Takes the next token and the logits it was drawn from; false when the reply ends here
    // (res.stop is then set; an end-of-generation token is not added to res.tokens).
    bool push(int32_t id, const float* logits, int n_vocab);
    // Streams what was held back for a stop string that never came and any partial UTF-8 (not
    // after a stop string or a callback that asked to stop).
    void finish();

private:
    bool emit(std::string_view s);

    const Tokenizer& tok_;
    const GenerateOptions& opt_;
    GenerateResult& res_;
    const TextCallback& on_text_;
    StreamDecoder decoder_;
    std::chrono::steady_clock::time_point t_start_;
    std::string pending_;  // decoded text not yet streamed (may start a stop string)
    bool first_text_ = true;
    bool leading_;             // still dropping leading whitespace (trim_leading_space)
    bool ended_hard_ = false;  // stop string or callback: nothing more is streamed
};

}  // namespace ld
