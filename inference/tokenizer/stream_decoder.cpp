#include "inference/tokenizer/tokenizer.h"
#include "inference/tokenizer/unicode.h"

namespace ld {

std::string StreamDecoder::push(int32_t id) {
    if (id >= 0 && id == tok_.bos()) {
        at_start_ = true;  // a new sequence: its first text gets a dummy prefix again
        return {};
    }
    std::string piece = tok_.token_bytes(id);
    if (piece.empty()) return {};
    if (at_start_) {
        at_start_ = false;
        if (tok_.strips_leading_space() && piece[0] == ' ') piece.erase(0, 1);
    }
    pending_ += piece;

    // Emit every complete sequence (invalid ones repaired); keep back only an incomplete tail
    // that a later token can still complete.
    std::string out;
    size_t i = 0;
    while (i < pending_.size()) {
        const auto seq = unicode::utf8_sequence(pending_.data() + i, pending_.size() - i);
        if (seq.status == unicode::Utf8Seq::Incomplete) break;
        if (seq.status == unicode::Utf8Seq::Valid) out.append(pending_, i, seq.len);
        else unicode::append_utf8(out, 0xFFFD);
        i += seq.len;
    }
    pending_.erase(0, i);
    return out;
}

std::string StreamDecoder::flush() {
    std::string out = unicode::repair_utf8(pending_);
    pending_.clear();
    return out;
}

}  // namespace ld
