#include "app/cli/server/draft_pool.h"

#include <algorithm>

#include "inference/core/error.h"

namespace ld::server {

DraftPool::DraftPool(std::vector<std::unique_ptr<Drafter>> members) {
    if (members.empty()) fail("a draft pool needs at least one drafter");
    for (auto& d : members) {
        if (!d) fail("a draft pool was given no drafter");
        members_.push_back({std::move(d), {}, 0});
    }
}

std::string DraftPool::name() const {
    const std::string one = members_.front().drafter->name();
    return members_.size() == 1 ? one : one + ", " + std::to_string(members_.size()) + " copies";
}

size_t DraftPool::pick(const std::vector<int32_t>& history) const {
    size_t best = members_.size(), best_len = 0;
    for (size_t i = 0; i < members_.size(); ++i) {
        const std::vector<int32_t>& last = members_[i].last;
        if (last.empty() || last.size() > history.size() || last.size() <= best_len) continue;
        if (std::equal(last.begin(), last.end(), history.begin())) best = i, best_len = last.size();
    }
    if (best < members_.size()) return best;
    size_t lru = 0;
    for (size_t i = 1; i < members_.size(); ++i)
        if (members_[i].used < members_[lru].used) lru = i;
    return lru;
}

void DraftPool::draft(const std::vector<int32_t>& history, int k, Draft& out) {
    last_ = pick(history);
    Member& m = members_[last_];
    if (pending_) {
        m.drafter->begin(*pending_);
        pending_.reset();
    }
    m.last = history;
    m.used = ++clock_;
    m.drafter->draft(history, k, out);
}

}  // namespace ld::server
