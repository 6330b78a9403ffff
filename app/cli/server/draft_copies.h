#pragma once
// `serve --parallel N --draft MODEL` wants one copy of the draft model per request decoding at
// once (draft_pool.h says why one shared copy is slower than none). Each copy is a backend of
// its own and shares nothing with the others: the CPU backend repacks the weights into memory of
// its own and has its own KV cache (mmap shares only the file's pages, which the repacking
// releases); a GPU backend uploads the weights and allocates its cache on the device. N copies
// take N times the draft's memory, so they are made as memory allows:
//  - on the CPU, planned before any is built: memory_plan.h's MemoryPlan of one copy against
//    the system memory the model's engine leaves (its KV cache fills as sequences grow, so it
//    is kept out). As many copies as fit, at least one; not even one is a refusal naming the
//    numbers (the KV caches fill later: the OOM killer would come hours after the start).
//  - on a GPU each backend plans its own device memory and refuses what does not fit
//    (require_fits): the copies made before a refusal are kept; the first one's is the error.
// Fewer copies than wanted: the caller lets only that many requests decode at once (the others
// wait), so every running request keeps drafting on a copy of its own.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/backend/memory_plan.h"
#include "inference/session/speculative.h"

namespace ld::server {

struct DraftCopyPlan {
    MemoryPlan one;  // one copy on the CPU; one.free: the memory all copies may use (0: unknown)
    int wanted = 1;
    // Copies that fit one.free (wanted when it is unknown), at most wanted; 0 when not one does.
    int fitting() const;
};

// One copy's memory on the CPU backend: the weights (an upper bound: matrices the CPU cannot
// repack are read from the mapped file), a KV cache of o.n_ctx positions of o.kv_type, and the
// activation buffers of o.n_batch tokens. `available`: system memory the copies may take.
DraftCopyPlan plan_draft_copies(const Model& draft, const BackendOptions& o, int wanted, uint64_t available);

struct DraftCopies {
    std::vector<std::unique_ptr<Backend>> backends;  // one a copy
    std::unique_ptr<Drafter> drafter;                 // a DraftModel, or a DraftPool of several
    std::string note;  // why there are fewer copies than wanted (empty when there are all)
};

// Makes up to `wanted` copies of `draft` (its vocabulary already checked against `target`) with
// backend options `o`. `on_cpu`: the backends are the CPU's, planned with `available` (system
// memory for the copies; 0 = unknown; `beside` follows it in messages: what else it is free
// beside). `label` names the draft in messages (its path). Throws ld::Error when not even one
// copy can be made.
DraftCopies make_draft_copies(const Model& target, const Model& draft, const std::string& label, const BackendOptions& o,
                              int wanted, bool on_cpu, uint64_t available, const std::string& beside = {});

}  // namespace ld::server
