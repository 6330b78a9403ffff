#include "inference/session/reply_stream.h"

#include <algorithm>

namespace ld {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

size_t stop_string_hold(std::string_view text, const std::vector<std::string>& stops) {
    size_t keep = 0;
    for (const std::string& s : stops) {
        for (size_t n = std::min(text.size(), s.size() - 1); n > keep; --n) {
            if (text.substr(text.size() - n) == std::string_view(s).substr(0, n)) {
                keep = n;
                break;
            }
        }
    }
    return keep;
}

ReplyStream::ReplyStream(const Tokenizer& tok, const GenerateOptions& opt, GenerateResult& res,
                         const TextCallback& on_text, int32_t previous, std::chrono::steady_clock::time_point t_start)
    : tok_(tok), opt_(opt), res_(res), on_text_(on_text), decoder_(tok, previous), t_start_(t_start) {}

bool ReplyStream::emit(std::string_view s) {
    if (s.empty()) return true;
    if (first_text_) {
        res_.ttft_ms = ms_since(t_start_);
        first_text_ = false;
    }
    res_.text += s;
    return on_text_ ? on_text_(s) : true;
}

bool ReplyStream::push(int32_t id, const float* logits, int n_vocab) {
    if (tok_.is_end_of_generation(id)) {
        res_.stop = StopReason::EndOfGeneration;
        return false;
    }
    res_.tokens.push_back(id);
    if (opt_.on_token) opt_.on_token(id, logits, n_vocab);
    pending_ += decoder_.push(id);
    size_t cut = std::string::npos;
    for (const std::string& s : opt_.stop_strings) {
        const size_t at = s.empty() ? std::string::npos : pending_.find(s);
        if (at != std::string::npos && at < cut) cut = at;
    }
    if (cut != std::string::npos) {
        emit(std::string_view(pending_).substr(0, cut));
        res_.stop = StopReason::StopString;
        ended_hard_ = true;
        return false;
    }
    const size_t hold = stop_string_hold(pending_, opt_.stop_strings);
    if (!emit(std::string_view(pending_).substr(0, pending_.size() - hold))) {
        res_.stop = StopReason::Cancelled;
        ended_hard_ = true;
        return false;
    }
    pending_.erase(0, pending_.size() - hold);
    return true;
}

void ReplyStream::finish() {
    if (ended_hard_) return;
    pending_ += decoder_.flush();
    emit(pending_);
    pending_.clear();
}

}  // namespace ld
