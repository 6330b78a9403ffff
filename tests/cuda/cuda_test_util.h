#pragma once
// Helpers for CUDA tests: the plugin's one-op interface per test binary (skipping with the
// reason when there is none); random inputs and the comparison come from tests/gpu_test_common.h,
// shared with the Vulkan tests.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "inference/backend/cuda_plugin.h"
#include "inference/core/error.h"
#include "tests/gpu_test_common.h"

namespace ld::test {

// The shared op interface, or nullptr with `why` set.
inline cuda::OpsForTest* cuda_ops(std::string* why) {
    static std::unique_ptr<cuda::OpsForTest> ops;
    static std::string reason;
    static bool tried = false;
    if (!tried) {
        tried = true;
        try {
            ops = cuda_ops_for_test(Tuning::from_env());  // LLAMADESK_CUDA_MV_SPLIT: run_emulated.sh
            std::fprintf(stderr, "CUDA tests on %s (%s)\n", ops->device_name().c_str(), cuda_plugin_status().c_str());
        } catch (const std::exception& e) {
            reason = e.what();
        }
    }
    *why = reason;
    return ops.get();
}

}  // namespace ld::test

// Under the CPU emulator (tests/cuda/emu/run_emulated.sh sets LLAMADESK_TEST_CUDA_EMULATED=1) no
// hardware can be missing: a plugin that does not load there fails the test instead of skipping
// it, so the emulated run cannot pass with every test skipped.
#define LD_SKIP_NO_CUDA(why)                                                                \
    do {                                                                                    \
        const char* emulated_ = std::getenv("LLAMADESK_TEST_CUDA_EMULATED");                \
        if (emulated_ && *emulated_ == '1') {                                               \
            GTEST_FAIL() << "the emulated CUDA plugin did not load: " << (why);             \
        } else {                                                                            \
            GTEST_SKIP() << "no usable CUDA device: " << (why);                             \
        }                                                                                   \
    } while (0)

// Skips (fails under the emulator) when the plugin sees no device.
#define LD_REQUIRE_CUDA_DEVICE()                                                                     \
    do {                                                                                             \
        std::string why_;                                                                            \
        if (::ld::list_cuda_devices(&why_).empty()) LD_SKIP_NO_CUDA(why_);                          \
    } while (0)

#define LD_REQUIRE_CUDA(ops)                                                    \
    std::string cuda_why_;                                                      \
    ::ld::cuda::OpsForTest* ops = ::ld::test::cuda_ops(&cuda_why_);             \
    if (!ops) LD_SKIP_NO_CUDA(cuda_why_)
