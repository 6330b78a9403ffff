#include "inference/session/prompt_lookup.h"

#include <algorithm>

#include "inference/core/error.h"

namespace ld {

namespace {

// Start of the last occurrence of key (n tokens) in seq[0, end) that has at least one token
// after it before end; -1 when none. With end = seq.size() and key = seq's last n tokens, the
// suffix itself is never found (nothing follows it).
long find_last(const std::vector<int32_t>& seq, size_t end, const int32_t* key, size_t n) {
    if (end > seq.size()) end = seq.size();
    if (end < n + 1) return -1;
    for (size_t i = end - n; i-- > 0;) {  // i + n < end: a continuation token exists
        if (seq[i] == key[0] && std::equal(key, key + n, seq.begin() + long(i))) return long(i);
    }
    return -1;
}

}  // namespace

PromptLookup::PromptLookup(int max_ngram, int min_ngram) : max_ngram_(max_ngram), min_ngram_(min_ngram) {
    if (min_ngram < 1 || min_ngram > max_ngram || max_ngram > 16)
        fail("prompt lookup needs 1 <= min n-gram <= max n-gram <= 16, got ", min_ngram, " and ", max_ngram);
}

void PromptLookup::draft(const std::vector<int32_t>& history, int k, Draft& out) {
    out.clear();
    if (k <= 0) return;
    const size_t h = history.size();
    // Longest n-gram first: a longer match predicts its continuation better.
    for (int n = std::min<int>(max_ngram_, int(h) - 1); n >= min_ngram_; --n) {
        const int32_t* key = history.data() + (h - size_t(n));
        const std::vector<int32_t>* src = nullptr;
        long at = find_last(history, h, key, size_t(n));
        if (at >= 0) {
            src = &history;
        } else {
            for (const std::vector<int32_t>& d : docs_) {
                if ((at = find_last(d, d.size(), key, size_t(n))) >= 0) {
                    src = &d;
                    break;
                }
            }
        }
        if (!src) continue;
        // In the history, the continuation may run past its end (a repeating pattern): the
        // sequence there is the draft itself.
        for (size_t i = size_t(at) + size_t(n); int(out.tokens.size()) < k; ++i) {
            if (i < src->size()) out.tokens.push_back((*src)[i]);
            else if (src == &history) out.tokens.push_back(out.tokens[i - h]);
            else break;
        }
        return;
    }
}

}  // namespace ld
