// The plugin's exported entry points (cuda_api.h). Nothing here lets an exception escape:
// failures come back as a null/negative result and a reason. The one-op test interface is not
// here: it is built only into the test plugin (tests/cuda/cuda_test_ops.cpp), so the shipped
// libllamadesk_cuda.so carries no test code.
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "inference/cuda/cuda_api.h"
#include "inference/cuda/cuda_backend.h"
#include "inference/cuda/cuda_check.h"

#define LD_EXPORT extern "C" __attribute__((visibility("default")))

LD_EXPORT uint64_t ld_cuda_abi() { return ld::cuda::abi_tag(); }

LD_EXPORT int ld_cuda_list_devices(std::vector<ld::cuda::DeviceInfo>* out, std::string* why) {
    try {
        int count = 0;
        const cudaError_t e = cudaGetDeviceCount(&count);
        if (e != cudaSuccess) {
            cudaGetLastError();
            *why = std::string("no CUDA device: ") + cudaGetErrorString(e);
            return -1;
        }
        for (int i = 0; i < count; ++i) {
            cudaDeviceProp prop{};
            LD_CUDA(cudaGetDeviceProperties(&prop, i));
            ld::cuda::DeviceInfo d;
            d.index = i;
            d.name = prop.name;
            d.total_bytes = prop.totalGlobalMem;
            d.sm_count = prop.multiProcessorCount;
            d.cc_major = prop.major;
            d.cc_minor = prop.minor;
            LD_CUDA(cudaSetDevice(i));
            size_t f = 0, t = 0;
            if (cudaMemGetInfo(&f, &t) == cudaSuccess) d.free_bytes = f;
            out->push_back(d);
        }
        if (count == 0) *why = "no CUDA device: the driver reports none";
        return count;
    } catch (const std::exception& e) {
        *why = e.what();
        return -1;
    }
}

LD_EXPORT ld::Backend* ld_cuda_create_backend(const ld::Model* model, const ld::BackendOptions* options,
                                              std::string* why) {
    try {
        return ld::cuda::create_backend(*model, *options).release();
    } catch (const std::bad_alloc&) {
        *why = "CUDA backend: out of host memory";
    } catch (const std::exception& e) {
        *why = e.what();
    }
    return nullptr;
}

LD_EXPORT int ld_cuda_backend_memory(const ld::Backend* backend, ld::cuda::MemoryInfo* out) {
    try {
        return ld::cuda::backend_memory(*backend, out) ? 0 : -1;
    } catch (const std::exception&) {
        return -1;
    }
}
