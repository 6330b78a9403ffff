#pragma once
// The CUDA Backend inside the plugin (created through ld_cuda_create_backend).
#include <memory>

#include "inference/backend/backend.h"
#include "inference/cuda/cuda_api.h"

namespace ld::cuda {

std::unique_ptr<Backend> create_backend(const Model& model, const BackendOptions& options);
// Free/total memory of the device a CUDA backend runs on; false when it is not one.
bool backend_memory(const Backend& backend, MemoryInfo* out);
// Picks a device by BackendOptions::device (empty = the one with the most memory, else an index
// or a name substring); throws ld::Error naming the devices when nothing matches.
int pick_device(const std::string& spec);

}  // namespace ld::cuda
