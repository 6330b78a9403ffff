#include "inference/session/reply_stream.h"

#include <algorithm>
#include <cstdint>

namespace ld {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Bytes of whitespace at the start of `s` (valid UTF-8, cut at character boundaries: the
// decoder streams whole characters and a stop string's held-back prefix starts at one): ASCII \t \n \v \f \r and space, and the Unicode spaces and separators (U+0085, U+00A0,
// U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000), the set QChar::isSpace()
// knows, so the engine drops what the app dropped when it trimmed replies itself.
size_t leading_space_bytes(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto b = [&](size_t k) { return i + k < s.size() ? uint8_t(s[i + k]) : 0; };
        const uint8_t c = b(0);
        size_t n = 0;
        if (c == ' ' || (c >= '\t' && c <= '\r')) n = 1;
        else if (c == 0xC2 && (b(1) == 0x85 || b(1) == 0xA0)) n = 2;
        else if (c == 0xE1 && b(1) == 0x9A && b(2) == 0x80) n = 3;
        else if (c == 0xE2 && b(1) == 0x80 && ((b(2) >= 0x80 && b(2) <= 0x8A) || b(2) == 0xA8 || b(2) == 0xA9 || b(2) == 0xAF)) n = 3;
        else if (c == 0xE2 && b(1) == 0x81 && b(2) == 0x9F) n = 3;
        else if (c == 0xE3 && b(1) == 0x80 && b(2) == 0x80) n = 3;
        if (n == 0) break;
        i += n;
    }
    return i;
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
    : tok_(tok),
      opt_(opt),
      res_(res),
      on_text_(on_text),
      decoder_(tok, previous),
      t_start_(t_start),
      leading_(opt.trim_leading_space) {}

bool ReplyStream::emit(std::string_view s) {
    if (s.empty()) return true;
    if (first_text_) {
        res_.ttft_ms = ms_since(t_start_);
        first_text_ = false;
    }
    if (leading_) {
        s.remove_prefix(leading_space_bytes(s));
        if (s.empty()) return true;  // nothing visible yet: nothing to stream
        leading_ = false;
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
