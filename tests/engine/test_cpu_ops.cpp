// CPU forward-pass helpers against plain double-precision references, and the thread pool.
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "inference/cpu/ops.h"
#include "inference/cpu/thread_pool.h"

namespace ld::cpu {
namespace {

std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double abs_tol, double rel_tol) {
    int bad = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_FALSE(std::isnan(got[i])) << i;
        if (std::abs(got[i] - want[i]) > abs_tol + rel_tol * std::abs(want[i]) && bad++ < 5)
            ADD_FAILURE() << "index " << i << ": got " << got[i] << ", want " << want[i];
    }
}

TEST(CpuOps, RmsNorm) {
    const int n = 777;
    auto x = random_vec(n, 1, 3.0f), w = random_vec(n, 2);
    std::vector<float> out(n);
    rmsnorm(out.data(), x.data(), w.data(), n, 1e-5f);
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double s = 1.0 / std::sqrt(ss / n + 1e-5);
    std::vector<double> want(n);
    for (int i = 0; i < n; ++i) want[size_t(i)] = x[size_t(i)] * s * w[size_t(i)];
    expect_close(out, want, 1e-6, 1e-5);
}

TEST(CpuOps, SoftmaxAndSiluMul) {
    auto x = random_vec(1000, 3, 10.0f);
    std::vector<float> sm = x;
    softmax(sm.data(), 1000);
    double mx = -1e30, sum = 0;
    for (float v : x) mx = std::max(mx, double(v));
    for (float v : x) sum += std::exp(v - mx);
    std::vector<double> want(1000);
    for (size_t i = 0; i < 1000; ++i) want[i] = std::exp(x[i] - mx) / sum;
    expect_close(sm, want, 1e-9, 1e-5);

    auto g = random_vec(513, 4, 4.0f), u = random_vec(513, 5);
    std::vector<float> out = g;
    silu_mul(out.data(), u.data(), 513);
    std::vector<double> w2(513);
    for (size_t i = 0; i < 513; ++i) w2[i] = g[i] / (1.0 + std::exp(-double(g[i]))) * u[i];
    expect_close(out, w2, 1e-6, 1e-5);
}

// The vectorized SwiGLU: within a few ulp of the scalar formula (its exp is ~1 ulp), finite and
// near the limits far out (the exp's clamps), and an element's bits the same whatever chunk it
// is computed in (the feed-forward block applies it to chunks of rows of varying size).
TEST(CpuOps, SiluMulVectorMatchesScalarAndIgnoresChunking) {
    const SiluMulFn avx2 = silu_mul_avx2_fn();
    if (!avx2) GTEST_SKIP() << "no AVX2/FMA on this CPU";
    const int n = 1027;
    auto g = random_vec(n, 14, 6.0f), u = random_vec(n, 15);
    const float far[] = {-200.0f, -100.0f, -88.5f, -87.0f, -30.0f, -1e-30f, 0.0f, 1e-30f, 30.0f, 87.5f, 89.0f, 150.0f};
    for (size_t i = 0; i < std::size(far); ++i) g[i] = far[i];
    std::vector<float> scalar = g, whole = g, chunks = g;
    silu_mul_scalar(scalar.data(), u.data(), n);
    avx2(whole.data(), u.data(), n);
    for (int lo = 0, len = 1; lo < n; lo += len, len = len % 13 + 1)
        avx2(chunks.data() + lo, u.data() + lo, std::min(len, n - lo));
    int bad = 0;
    for (int i = 0; i < n; ++i) {
        ASSERT_TRUE(std::isfinite(whole[size_t(i)])) << "g = " << g[size_t(i)];
        EXPECT_EQ(std::memcmp(&whole[size_t(i)], &chunks[size_t(i)], sizeof(float)), 0) << i;
        const double want = scalar[size_t(i)];
        if (std::abs(whole[size_t(i)] - want) > 1e-30 + 4e-7 * std::abs(want) && bad++ < 5)
            ADD_FAILURE() << "g = " << g[size_t(i)] << ": " << whole[size_t(i)] << " vs scalar " << want;
    }
}

TEST(CpuOps, RopeRotatesAdjacentPairs) {
    const int heads = 3, hd = 16, rd = 12;
    auto x = random_vec(size_t(heads * hd), 6);
    std::vector<float> c(rd / 2), s(rd / 2);
    for (int i = 0; i < rd / 2; ++i) {
        c[size_t(i)] = std::cos(0.3f * float(i + 1));
        s[size_t(i)] = std::sin(0.3f * float(i + 1));
    }
    std::vector<float> y = x;
    rope(y.data(), heads, hd, rd, c.data(), s.data());
    std::vector<double> want(x.begin(), x.end());
    for (int h = 0; h < heads; ++h)
        for (int i = 0; i < rd / 2; ++i) {
            const size_t a = size_t(h * hd + 2 * i);
            want[a] = x[a] * c[size_t(i)] - x[a + 1] * s[size_t(i)];
            want[a + 1] = x[a] * s[size_t(i)] + x[a + 1] * c[size_t(i)];
        }
    expect_close(y, want, 1e-6, 1e-6);  // dims past rope_dim untouched
}

class Attention : public ::testing::TestWithParam<bool> {};  // param: use the AVX2 kernels

TEST_P(Attention, MatchesNaiveSoftmaxAttention) {
    const KvKernels* kk = GetParam() ? kv_kernels_avx2() : &kv_kernels_scalar();
    if (!kk) GTEST_SKIP() << "no AVX2/F16C on this CPU";
    const int hd = 72, n_kv = 37, stride = 3 * hd;  // KV head 1 of 3
    auto q = random_vec(hd, 7), k = random_vec(size_t(n_kv * stride), 8), v = random_vec(size_t(n_kv * stride), 9);
    std::vector<fp16_t> k16(k.size()), v16(v.size());
    for (size_t i = 0; i < k.size(); ++i) {
        k16[i] = fp32_to_fp16(k[i]);
        v16[i] = fp32_to_fp16(v[i]);
        k[i] = fp16_to_fp32(k16[i]);  // same inputs for both paths
        v[i] = fp16_to_fp32(v16[i]);
    }
    const float scale = 1.0f / std::sqrt(float(hd));
    std::vector<double> sc(n_kv), want(hd, 0.0);
    double mx = -1e30, sum = 0;
    for (int j = 0; j < n_kv; ++j) {
        double d = 0;
        for (int i = 0; i < hd; ++i) d += double(q[size_t(i)]) * k[size_t(j * stride + hd + i)];
        sc[size_t(j)] = d * scale;
        mx = std::max(mx, sc[size_t(j)]);
    }
    for (double& s : sc) sum += (s = std::exp(s - mx));
    for (int j = 0; j < n_kv; ++j)
        for (int i = 0; i < hd; ++i) want[size_t(i)] += sc[size_t(j)] / sum * v[size_t(j * stride + hd + i)];
    std::vector<float> scores(n_kv), out16(hd), out32(hd);
    attend_f16(*kk, q.data(), k16.data() + hd, v16.data() + hd, stride, n_kv, hd, scale, scores.data(), out16.data());
    attend_f32(*kk, q.data(), k.data() + hd, v.data() + hd, stride, n_kv, hd, scale, scores.data(), out32.data());
    expect_close(out16, want, 1e-5, 1e-4);
    expect_close(out32, want, 1e-5, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Kernels, Attention, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "avx2" : "scalar"; });

TEST(ThreadPool, EveryThreadRunsEveryJobOnce) {
    for (int n : {1, 2, 5}) {
        ThreadPool pool(n);
        std::atomic<int> calls{0}, mask{0};
        for (int job = 0; job < 1000; ++job) {
            pool.run([&](int ith, int nth) {
                EXPECT_EQ(nth, n);
                calls++;
                mask |= 1 << ith;
            });
        }
        EXPECT_EQ(calls.load(), 1000 * n);
        EXPECT_EQ(mask.load(), (1 << n) - 1);
    }
}

TEST(ThreadPool, SplitRangeCoversEverythingOnce) {
    for (int64_t n : {0, 1, 15, 16, 17, 1000, 128256})
        for (int nth : {1, 2, 3, 7}) {
            int64_t covered = 0, prev_end = 0;
            for (int i = 0; i < nth; ++i) {
                int64_t b, e;
                split_range(n, i, nth, 16, &b, &e);
                EXPECT_EQ(b, prev_end);
                EXPECT_LE(b, e);
                if (e < n) {
                    EXPECT_EQ(e % 16, 0);
                }
                covered += e - b;
                prev_end = e;
            }
            EXPECT_EQ(covered, n);
        }
}

}  // namespace
}  // namespace ld::cpu
