#pragma once
// Prompt-lookup drafting: no second model. The last n tokens of the history (n from max_ngram
// down to min_ngram) are looked up earlier in the history and in attached documents; the tokens
// that followed the most recent match are the draft. It pays off where replies repeat their input
// (summaries quoting a document, code edits, extraction) and costs one scan when nothing matches.
#include <cstdint>
#include <string>
#include <vector>

#include "inference/session/speculative.h"

namespace ld {

class PromptLookup : public Drafter {
public:
    // Throws ld::Error unless 1 <= min_ngram <= max_ngram <= 16.
    explicit PromptLookup(int max_ngram = 4, int min_ngram = 2);
    std::string name() const override { return "prompt lookup"; }
    // Token sequences searched after the history (attached text that is not in the prompt).
    void set_documents(std::vector<std::vector<int32_t>> docs) { docs_ = std::move(docs); }
    void draft(const std::vector<int32_t>& history, int k, Draft& out) override;

private:
    int max_ngram_, min_ngram_;
    std::vector<std::vector<int32_t>> docs_;
};

}  // namespace ld
