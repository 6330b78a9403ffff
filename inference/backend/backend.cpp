#include "inference/backend/backend.h"

#include <algorithm>
#include <cstdio>

#include "inference/backend/cuda_plugin.h"
#include "inference/core/error.h"
#ifdef LLAMADESK_HAVE_VULKAN
#include "inference/vulkan/vk_backend.h"
#endif

namespace ld {

void Backend::forward(const int32_t* tokens, int n, int pos, float* logits, bool all_logits) {
    if (n < 0) fail("forward(): a negative token count (", n, ")");
    if (pos < 0) fail("forward(): a negative position (", pos, ")");
    const int n_ctx = context_size();
    if (int64_t(pos) + n > n_ctx)  // 64 bits: pos + n may not fit an int
        fail("context is full: ", int64_t(pos) + n, " tokens do not fit the ", n_ctx, "-token context");
    if (n == 0) return;
    if (!tokens) fail("forward(): ", n, " tokens asked for, none given");
    const int n_vocab = vocab_size();
    for (int i = 0; i < n; ++i)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            fail("token id ", tokens[i], " (position ", pos + i, ") is outside the vocabulary (", n_vocab, " tokens)");
    const int block = kv_block_size();
    const int n_blocks = (n_ctx + block - 1) / block;
    if (int(identity_.size()) < n_blocks) {
        identity_.resize(size_t(n_blocks));
        for (int b = 0; b < n_blocks; ++b) identity_[size_t(b)] = b;
    }
    std::vector<int32_t> positions(static_cast<size_t>(n)), seq(static_cast<size_t>(n), 0);
    for (int i = 0; i < n; ++i) positions[size_t(i)] = pos + i;
    const SeqView view{identity_.data(), n_blocks};
    const bool all = all_logits && logits;  // no logits: the widest steps
    std::vector<int32_t> rows;
    if (all) {
        rows.resize(size_t(n));
        for (int i = 0; i < n; ++i) rows[size_t(i)] = i;
    } else if (logits) {
        rows.push_back(n - 1);
    }
    BatchView b;
    b.tokens = tokens;
    b.n = n;
    b.contiguous = true;
    b.pos = pos;
    b.positions = positions.data();
    b.seq = seq.data();
    b.seqs = &view;
    b.n_seqs = 1;
    b.block = block;
    b.logits = logits;
    b.logit_row = rows.data();
    b.n_logits = int(rows.size());
    b.all_logits = all;
    run_steps(b, all);
}

void Backend::forward(const SeqBatch& in) {
    if (in.n < 0) fail("forward(): a negative token count (", in.n, ")");
    if (in.n == 0) return;
    if (!supports_sequences()) fail(name(), " runs one sequence at a time (no paged KV cache)");
    if (!in.tokens || !in.positions || !in.seq) fail("forward(): ", in.n, " tokens asked for, their arrays not given");
    if (in.n_seqs <= 0 || !in.seqs) fail("forward(): a batch without sequences");
    const int n_vocab = vocab_size(), n_ctx = context_size(), block = kv_block_size(), n_blocks = kv_blocks();
    for (int s = 0; s < in.n_seqs; ++s) {
        const SeqView& v = in.seqs[s];
        if (v.n_blocks < 0 || (v.n_blocks > 0 && !v.blocks)) fail("sequence ", s, ": a broken block table");
        for (int b = 0; b < v.n_blocks; ++b)
            if (v.blocks[b] < 0 || v.blocks[b] >= n_blocks)
                fail("sequence ", s, ": block ", v.blocks[b], " is outside the cache (", n_blocks, " blocks)");
    }
    std::vector<int32_t> last(size_t(in.n_seqs), -1);  // each sequence's last position so far
    std::vector<int64_t> slots(size_t(in.n));
    std::vector<int32_t> rows;
    for (int i = 0; i < in.n; ++i) {
        const int32_t t = in.tokens[i], p = in.positions[i], s = in.seq[i];
        if (t < 0 || t >= n_vocab) fail("token id ", t, " (batch row ", i, ") is outside the vocabulary (", n_vocab, " tokens)");
        if (s < 0 || s >= in.n_seqs) fail("batch row ", i, ": sequence ", s, " is not in the batch (", in.n_seqs, " sequences)");
        if (p < 0) fail("batch row ", i, ": a negative position (", p, ")");
        if (p >= n_ctx) fail("context is full: position ", p, " does not fit the ", n_ctx, "-token context");
        if (p / block >= in.seqs[s].n_blocks)
            fail("sequence ", s, ": position ", p, " is past its ", in.seqs[s].n_blocks, " blocks");
        if (p <= last[size_t(s)]) fail("sequence ", s, ": positions must rise in batch order (", p, " after ", last[size_t(s)], ")");
        last[size_t(s)] = p;
        slots[size_t(i)] = int64_t(in.seqs[s].blocks[p / block]) * block + p % block;
        if (in.want_logits && in.want_logits[i]) rows.push_back(i);
    }
    std::sort(slots.begin(), slots.end());
    if (std::adjacent_find(slots.begin(), slots.end()) != slots.end())
        fail("two tokens of the batch would write the same cache slot (sequences sharing a block must copy it first)");
    if (!rows.empty() && !in.logits) fail("forward(): logits wanted, no buffer given");
    BatchView b;
    b.tokens = in.tokens;
    b.n = in.n;
    b.contiguous = false;
    b.positions = in.positions;
    b.seq = in.seq;
    b.seqs = in.seqs;
    b.n_seqs = in.n_seqs;
    b.block = block;
    b.logits = rows.empty() ? nullptr : in.logits;
    b.logit_row = rows.data();
    b.n_logits = int(rows.size());
    run_steps(b, rows.size() > 1);
}

void Backend::run_steps(const BatchView& all, bool many_logits) {
    const int step = std::max(1, max_step(many_logits));
    const int n_vocab = vocab_size();
    std::vector<int32_t> local;
    int row = 0;  // next entry of all.logit_row
    for (int done = 0; done < all.n; done += step) {
        BatchView b = all;
        b.tokens = all.tokens + done;
        b.n = std::min(step, all.n - done);
        b.pos = all.pos + done;
        b.positions = all.positions + done;
        b.seq = all.seq + done;
        local.clear();
        const int first = row;
        while (row < all.n_logits && all.logit_row[row] < done + b.n) local.push_back(all.logit_row[row++] - done);
        b.logit_row = local.data();
        b.n_logits = int(local.size());
        b.logits = local.empty() || !all.logits ? nullptr : all.logits + size_t(first) * size_t(n_vocab);
        forward_batch(b);
    }
}

std::unique_ptr<Backend> create_backend(const Model& model, const BackendOptions& options) {
    if (options.kind == "cpu" || options.kind.empty()) return create_cpu_backend(model, options);
    if (options.kind == "cuda") return create_cuda_backend(model, options);
    // "auto": CUDA first when its plugin loads and sees a device.
    if (options.kind == "auto" && cuda_gpu_available()) {
        try {
            return create_cuda_backend(model, options);
        } catch (const Error& e) {
            std::fprintf(stderr, "CUDA backend unavailable (%s); trying the next backend\n", e.what());
        }
    }
#ifdef LLAMADESK_HAVE_VULKAN
    if (options.kind == "vulkan") return create_vulkan_backend(model, options);
    // "auto": a real GPU through Vulkan; lavapipe and other CPU devices are slower than the CPU
    // backend, so they are used only when asked for by name.
    if (options.kind == "auto" && vulkan_gpu_available()) {
        try {
            return create_vulkan_backend(model, options);
        } catch (const Error& e) {
            std::fprintf(stderr, "Vulkan backend unavailable (%s); using the CPU backend\n", e.what());
        }
    }
    if (options.kind == "auto") return create_cpu_backend(model, options);
#else
    if (options.kind == "auto") return create_cpu_backend(model, options);
#endif
    if (options.kind == "vulkan")
        fail("the ", options.kind, " backend is not part of this build");
    fail("unknown backend '", options.kind, "' (cpu, vulkan, cuda or auto)");
}

}  // namespace ld
