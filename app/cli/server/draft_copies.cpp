#include "app/cli/server/draft_copies.h"

#include <algorithm>
#include <exception>

#include "app/cli/server/draft_pool.h"
#include "inference/core/error.h"

namespace ld::server {

namespace {

// "weights 1.1 MiB + KV cache 2.0 MiB (512 positions) + buffers 0.3 MiB = 3.4 MiB"
std::string one_copy(const DraftCopyPlan& plan) {
    MemoryPlan p = plan.one;
    p.free = 0;  // said apart, with what it is free beside
    return describe(p);
}

}  // namespace

int DraftCopyPlan::fitting() const {
    if (one.free == 0) return wanted;
    const uint64_t each = std::max<uint64_t>(1, one.need());
    return int(std::min<uint64_t>(uint64_t(std::max(wanted, 0)), one.free / each));
}

DraftCopyPlan plan_draft_copies(const Model& draft, const BackendOptions& o, int wanted, uint64_t available) {
    const LlamaParams& p = draft.params;
    DraftCopyPlan plan;
    plan.wanted = std::max(1, wanted);
    plan.one.weights = draft.weight_bytes();
    plan.one.n_ctx = o.n_ctx;
    plan.one.kv_per_position = kv_cache_bytes(p, 1, o.kv_type == GgmlType::F32 ? 4 : 2);
    plan.one.kv_cache = plan.one.kv_per_position * uint64_t(std::max(o.n_ctx, 0));
    // The CPU backend's activations: a pass of up to n_batch tokens (256 when the backend
    // chooses, at most 512) through the residual, attention and feed-forward buffers.
    const uint64_t tokens = uint64_t(o.n_batch > 0 ? std::min(o.n_batch, 512) : 256);
    plan.one.buffers = 4 * tokens *
                       (3 * uint64_t(p.dim) + 2 * uint64_t(p.q_dim()) + 2 * uint64_t(p.kv_dim()) + 2 * uint64_t(p.ffn_dim));
    plan.one.free = available;
    return plan;
}

DraftCopies make_draft_copies(const Model& target, const Model& draft, const std::string& label, const BackendOptions& o,
                              int wanted, bool on_cpu, uint64_t available, const std::string& beside) {
    DraftCopies c;
    int n = std::max(1, wanted);
    if (on_cpu) {
        const DraftCopyPlan plan = plan_draft_copies(draft, o, n, available);
        const int fit = plan.fitting();
        if (fit == 0)
            fail("the draft model ", label, " needs ", one_copy(plan), n > 1 ? " a copy" : "", ", more than the ",
                 format_bytes(available), " of memory available", beside);
        if (fit < n)
            c.note = std::to_string(fit) + " of " + std::to_string(n) + " copies of the draft model " + label + " fit in the " +
                     format_bytes(available) + " of memory available" + beside + " (each " + one_copy(plan) + ")";
        n = fit;
    }
    std::vector<std::unique_ptr<Drafter>> copies;
    for (int i = 0; i < n; ++i) {
        try {
            c.backends.push_back(create_backend(draft, o));
        } catch (const std::exception& e) {
            if (i == 0) throw;  // not even one: the backend's own reason
            // A GPU backend refuses what its device memory cannot hold (memory_plan.h): keep
            // the copies made so far.
            c.note = "copy " + std::to_string(i + 1) + " of " + std::to_string(n) + " of the draft model " + label +
                     " could not be made (" + e.what() + "): " + std::to_string(i) + " copies";
            break;
        }
        copies.push_back(std::make_unique<DraftModel>(target, draft, *c.backends.back()));
    }
    if (copies.size() == 1) c.drafter = std::move(copies.front());
    else c.drafter = std::make_unique<DraftPool>(std::move(copies));
    return c;
}

}  // namespace ld::server
