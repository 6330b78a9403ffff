#include "inference/backend/backend.h"

#include <cstdio>

#include "inference/backend/cuda_plugin.h"
#include "inference/core/error.h"
#ifdef LLAMADESK_HAVE_VULKAN
#include "inference/vulkan/vk_backend.h"
#endif

namespace ld {

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
