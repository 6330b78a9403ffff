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
    const bool all = all_logits && logits;  // no logits: the widest steps
    const int step = std::max(1, max_step(all));
    for (int done = 0; done < n; done += step) {
        BatchView b;
        b.tokens = tokens + done;
        b.n = std::min(step, n - done);
        b.pos = pos + done;
        b.all_logits = all;
        // Every step's rows with all_logits; otherwise only the last step has the last token.
        if (all) b.logits = logits + size_t(done) * size_t(n_vocab);
        else if (done + b.n == n) b.logits = logits;
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
