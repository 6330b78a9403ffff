#pragma once
// `serve --parallel N --draft MODEL`: N copies of the draft model, each with its own KV cache,
// behind the one Drafter that the BatchScheduler shares between its requests. One draft model
// alone rewinds its cache to whichever request it drafts for, so with requests alternating every
// step it re-reads each request's whole history (prompt and reply) every step: measured 10x
// slower than not drafting at all with two clients (benchmarks/speculative.md). Here each request
// keeps drafting on the copy that holds its history, and only new requests take a copy over.
//
// Which copy: the one whose last history is a prefix of this one (the same request, one pass
// later; or a chat's next turn), else the least recently used (a new request, or one whose copy
// was taken over). A generation's begin() (its sampling) goes to the copy its first draft uses.
// The choice only moves work around: any copy drafts correctly for any history (it rewinds), and
// the scheduler's acceptance rule is right for whatever a copy proposes.
//
// Threads: like every drafter, called from one thread at a time (the scheduler's).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "inference/session/speculative.h"

namespace ld::server {

class DraftPool final : public Drafter {
public:
    // Throws ld::Error for an empty list or a null member.
    explicit DraftPool(std::vector<std::unique_ptr<Drafter>> members);
    std::string name() const override;
    void begin(const SamplerParams& sampling) override { pending_ = sampling; }
    void draft(const std::vector<int32_t>& history, int k, Draft& out) override;

    size_t size() const { return members_.size(); }
    // The copy that drafted last (tests).
    size_t last_used() const { return last_; }

private:
    struct Member {
        std::unique_ptr<Drafter> drafter;
        std::vector<int32_t> last;  // the history it last drafted for
        uint64_t used = 0;          // when (0: never)
    };
    size_t pick(const std::vector<int32_t>& history) const;

    std::vector<Member> members_;
    uint64_t clock_ = 0;
    size_t last_ = 0;
    std::optional<SamplerParams> pending_;  // begin() of the generation whose first draft is next
};

}  // namespace ld::server
