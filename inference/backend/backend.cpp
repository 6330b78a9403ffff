#include "inference/backend/backend.h"

#include "inference/core/error.h"

namespace ld {

std::unique_ptr<Backend> create_backend(const Model& model, const BackendOptions& options) {
    if (options.kind == "cpu" || options.kind == "auto" || options.kind.empty())
        return create_cpu_backend(model, options);
    if (options.kind == "vulkan" || options.kind == "cuda")
        fail("the ", options.kind, " backend is not part of this build");
    fail("unknown backend '", options.kind, "' (cpu, vulkan, cuda or auto)");
}

}  // namespace ld
