#pragma once
// Numeric helpers the GPU backends' op tests share (tests/cuda/cuda_test_util.h,
// tests/vulkan/vk_test_util.h): seeded random inputs and an llm.c / test-backend-ops style
// comparison that names the first mismatches instead of one bare "not equal".
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ld::test {

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

// Logits with no NaN or infinity (rel_error would call them an infinite error; this says so).
inline void expect_finite(const std::vector<float>& v, const std::string& what) {
    size_t bad = 0;
    for (float x : v) bad += std::isfinite(x) ? 0 : 1;
    EXPECT_EQ(bad, 0u) << what << ": " << bad << " NaN/Inf logits";
}

}  // namespace ld::test
