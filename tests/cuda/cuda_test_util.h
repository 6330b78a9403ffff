#pragma once
// Helpers for CUDA tests: the plugin's one-op interface per test binary (skipping with the
// reason when there is none) and an llm.c / test-backend-ops style comparison.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "inference/backend/cuda_plugin.h"
#include "inference/core/error.h"

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

inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

// |got - want| <= atol + rtol * |want| everywhere (or <= tol[i] when per-element tolerances are
// given), no NaN/Inf; prints the first 5 mismatches and the largest error.
inline void expect_close(const std::vector<float>& got, const std::vector<float>& want, double atol, double rtol,
                         const std::string& what, const std::vector<double>* tol = nullptr) {
    ASSERT_EQ(got.size(), want.size()) << what;
    int bad = 0;
    double worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        const double err = std::abs(double(got[i]) - double(want[i]));
        const double lim = tol ? (*tol)[i] : atol + rtol * std::abs(double(want[i]));
        const bool ok = std::isfinite(got[i]) && err <= lim;
        const double e = std::isfinite(got[i]) ? err : INFINITY;
        if (e > worst) worst = e, worst_i = i;
        if (!ok && ++bad <= 5)
            ADD_FAILURE() << what << ": [" << i << "] got " << got[i] << ", want " << want[i] << " (error " << err
                          << ", allowed " << lim << ")";
    }
    EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << want.size() << " values off (max abs error " << worst
                      << " at [" << worst_i << "])";
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
