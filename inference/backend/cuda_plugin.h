#pragma once
// The engine's side of the CUDA backend: finds libllamadesk_cuda.so at run time and dlopens it
// (so binaries run unchanged on machines without CUDA). Searched in order:
// $LLAMADESK_CUDA_PLUGIN (Tuning::cuda_plugin), <exe dir>/libllamadesk_cuda.so,
// <exe dir>/../lib/llamadesk/ (in the build tree, links beside the executables play the second
// part; beside the CUDA tests the link names the test build, libllamadesk_cuda_test.so).
#include <memory>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/cuda/cuda_api.h"

namespace ld {

// Throws ld::Error saying why (plugin not found, no CUDA device, out of memory...).
std::unique_ptr<Backend> create_cuda_backend(const Model& model, const BackendOptions& options);
// True when the plugin loads and reports at least one device.
bool cuda_gpu_available();
// Devices for `llamadesk-cli devices`; empty with `why` set when none.
std::vector<cuda::DeviceInfo> list_cuda_devices(std::string* why);
// Free/total memory of the device a CUDA backend runs on (throws when `backend` is not one).
cuda::MemoryInfo cuda_device_memory(const Backend& backend);
// The one-op test interface (tests/cuda), from the test build of the plugin only, its kernels
// launched as `tuning` says; throws ld::Error when unavailable.
std::unique_ptr<cuda::OpsForTest> cuda_ops_for_test(const Tuning& tuning);
// Where the plugin was loaded from, or why it was not ("" before the first use).
std::string cuda_plugin_status();

}  // namespace ld
