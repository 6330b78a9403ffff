// Self-contained checks of the CPU quantization kernels: quantize/dequantize round trips, the
// fused dot products of every available ISA against dequantize-then-dot, and matvec/matmul
// against per-row dot products.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "inference/core/error.h"
#include "inference/quant/quant.h"
#include "test_util.h"

namespace {

using ld::GgmlType;

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (float& f : v) f = dist(rng);
    return v;
}

std::vector<uint8_t> quantize(GgmlType t, const std::vector<float>& x) {
    std::vector<uint8_t> q(ld::row_size(t, int64_t(x.size())));
    ld::quantize_row(t, x.data(), q.data(), int64_t(x.size()));
    return q;
}

std::vector<float> dequantize(GgmlType t, const std::vector<uint8_t>& q, size_t n) {
    std::vector<float> out(n);
    ld::dequantize_row(t, q.data(), out.data(), int64_t(n));
    return out;
}

double rms_rel_err(const std::vector<float>& a, const std::vector<float>& b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        num += double(a[i] - b[i]) * double(a[i] - b[i]);
        den += double(a[i]) * double(a[i]);
    }
    return std::sqrt(num / den);
}

std::vector<ld::Isa> available_isas() {
    std::vector<ld::Isa> out;
    for (int i = 0; i <= int(ld::detected_isa()); ++i) out.push_back(ld::Isa(i));
    return out;
}

struct RoundTripCase {
    GgmlType type;
    double max_rms;  // relative RMS error bound on N(0,1) data
};

// Bounds: ggml's own errors on the k256 model's normal weights (dequant/index.json) plus ~5%;
// float formats by their mantissa width.
const RoundTripCase kRoundTrip[] = {
    {GgmlType::Q4_0, 0.090}, {GgmlType::Q4_1, 0.083}, {GgmlType::Q5_0, 0.045},
    {GgmlType::Q5_1, 0.040}, {GgmlType::Q8_0, 0.0057}, {GgmlType::Q8_1, 0.0057},
    {GgmlType::Q4_K, 0.075}, {GgmlType::Q5_K, 0.038}, {GgmlType::Q6_K, 0.0187},
    {GgmlType::Q8_K, 0.0075}, {GgmlType::F16, 3e-4}, {GgmlType::BF16, 3e-3},
    {GgmlType::F32, 0.0},
};

TEST(QuantRoundTrip, RmsErrorWithinBounds) {
    const size_t n = 256 * 64;
    const std::vector<float> x = random_floats(n, 1234, 0.02f);
    for (const RoundTripCase& c : kRoundTrip) {
        const std::vector<float> back = dequantize(c.type, quantize(c.type, x), n);
        const double err = rms_rel_err(x, back);
        std::printf("  %-5s rms_rel_err %.6f (bound %.6f)\n", ld::type_name(c.type), err, c.max_rms);
        EXPECT_LE(err, c.max_rms) << ld::type_name(c.type);
    }
}

TEST(QuantRoundTrip, DegenerateBlocksGiveNoNan) {
    // All-zero, constant, tiny and mixed-magnitude blocks: no NaN/Inf, zeros stay zero.
    const size_t n = 256 * 4;
    std::vector<std::vector<float>> inputs;
    inputs.emplace_back(n, 0.0f);
    inputs.emplace_back(n, 0.75f);
    inputs.emplace_back(n, -3.0f);
    inputs.push_back(random_floats(n, 7, 1e-30f));
    std::vector<float> mixed = random_floats(n, 8);
    for (size_t i = 0; i < n; i += 37) mixed[i] = 0.0f;
    for (size_t i = 0; i < 256; ++i) mixed[i] = 0.0f;  // a whole zero super-block
    mixed[300] = 1000.0f;
    inputs.push_back(mixed);
    for (const RoundTripCase& c : kRoundTrip) {
        for (size_t k = 0; k < inputs.size(); ++k) {
            const std::vector<float> back = dequantize(c.type, quantize(c.type, inputs[k]), n);
            for (size_t i = 0; i < n; ++i) {
                ASSERT_TRUE(std::isfinite(back[i]))
                    << ld::type_name(c.type) << " input " << k << " element " << i;
                if (inputs[k][i] == 0.0f && c.type != GgmlType::Q4_1 && c.type != GgmlType::Q5_1 &&
                    c.type != GgmlType::Q4_K && c.type != GgmlType::Q5_K) {
                    ASSERT_EQ(back[i], 0.0f) << ld::type_name(c.type) << " input " << k << " element " << i;
                }
            }
            if (k == 0) {
                for (size_t i = 0; i < n; ++i) ASSERT_EQ(back[i], 0.0f) << ld::type_name(c.type);
            }
        }
    }
}

TEST(QuantApi, BadArgumentsThrow) {
    std::vector<float> x(100, 1.0f);
    std::vector<uint8_t> q(1024);
    EXPECT_THROW(ld::quantize_row(GgmlType::Q4_0, x.data(), q.data(), 33), ld::Error);
    EXPECT_THROW(ld::dequantize_row(GgmlType::Q4_K, q.data(), x.data(), 32), ld::Error);
    EXPECT_THROW(ld::quantize_row(GgmlType::IQ2_XXS, x.data(), q.data(), 256), ld::Error);
    EXPECT_THROW(ld::vec_dot_type(GgmlType::Q8_K), ld::Error);
    EXPECT_THROW(ld::quantize_activation(GgmlType::Q4_0, x.data(), q.data(), 32), ld::Error);
    EXPECT_EQ(ld::vec_dot_fn(GgmlType::Q2_K, ld::Isa::Scalar), nullptr);
}

TEST(QuantApi, VecDotTypes) {
    EXPECT_EQ(ld::vec_dot_type(GgmlType::Q4_0), GgmlType::Q8_0);
    EXPECT_EQ(ld::vec_dot_type(GgmlType::Q5_0), GgmlType::Q8_0);
    EXPECT_EQ(ld::vec_dot_type(GgmlType::Q8_0), GgmlType::Q8_0);
    EXPECT_EQ(ld::vec_dot_type(GgmlType::Q4_1), GgmlType::Q8_1);
    EXPECT_EQ(ld::vec_dot_type(GgmlType::Q5_1), GgmlType::Q8_1);
    EXPECT_EQ(ld::vec_dot_type(GgmlType::Q4_K), GgmlType::Q8_K);
    EXPECT_EQ(ld::vec_dot_type(GgmlType::Q5_K), GgmlType::Q8_K);
    EXPECT_EQ(ld::vec_dot_type(GgmlType::Q6_K), GgmlType::Q8_K);
    EXPECT_EQ(ld::vec_dot_type(GgmlType::F32), GgmlType::F32);
    EXPECT_EQ(ld::vec_dot_type(GgmlType::F16), GgmlType::F32);
    EXPECT_EQ(ld::vec_dot_type(GgmlType::BF16), GgmlType::F32);
    std::printf("  detected ISA: %s\n", ld::isa_name(ld::detected_isa()));
}

const GgmlType kComputeTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
                                  GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                                  GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

std::vector<int64_t> lengths_for(GgmlType t) {
    const int bs = ld::traits(t).block_size;
    if (bs == 256) return {256, 512, 2048, 4096 + 256};
    if (bs == 32) return {32, 96, 256, 2048, 4096 + 32};
    return {1, 7, 33, 172, 256, 2048, 4099};
}

// One test per weight type (ggml test-backend-ops style): every ISA's dot product against
// dequantize(w) . dequantize(x) in double, and against the scalar kernel.
class QuantVecDot : public ::testing::TestWithParam<GgmlType> {};

TEST_P(QuantVecDot, MatchesDequantizedDot) {
    const GgmlType t = GetParam();
    const GgmlType at = ld::vec_dot_type(t);
    int mismatches = 0;
    for (int64_t n : lengths_for(t)) {
        for (uint32_t seed = 0; seed < 4; ++seed) {
            // Non-zero means exercise the min/offset terms.
            std::vector<float> w = random_floats(size_t(n), 100 + seed, 0.05f);
            std::vector<float> x = random_floats(size_t(n), 200 + seed, 1.0f + seed);
            for (float& v : w) v += 0.01f * float(seed);
            const std::vector<uint8_t> wq = quantize(t, w);
            std::vector<uint8_t> xq(ld::row_size(at, n));
            ld::quantize_activation(at, x.data(), xq.data(), n);
            const std::vector<float> wd = dequantize(t, wq, size_t(n));
            const std::vector<float> xd = dequantize(at, xq, size_t(n));
            double ref = 0, mag = 0;
            for (int64_t i = 0; i < n; ++i) {
                ref += double(wd[i]) * double(xd[i]);
                mag += std::fabs(double(wd[i]) * double(xd[i]));
            }
            double tol = 1e-5 + 2e-5 * mag;
            if (at == GgmlType::Q8_1) {
                // Q8_1 stores d*sum(q) as fp16 (as ggml does): the min term m*s carries that
                // rounding, up to 2^-11 of |m * s| per block; |m| <= max |w| of the block.
                for (int64_t b = 0; b < n; b += 32) {
                    double maxw = 0, sumx = 0;
                    for (int64_t i = b; i < b + 32; ++i) {
                        maxw = std::max(maxw, std::fabs(double(wd[i])));
                        sumx += xd[i];
                    }
                    tol += std::ldexp(maxw * std::fabs(sumx), -10);
                }
            }
            float scalar = 0;
            ld::vec_dot_fn(t, ld::Isa::Scalar)(n, &scalar, wq.data(), xq.data());
            for (ld::Isa isa : available_isas()) {
                const ld::VecDotFn fn = ld::vec_dot_fn(t, isa);
                ASSERT_NE(fn, nullptr) << ld::isa_name(isa);
                float got = 0;
                fn(n, &got, wq.data(), xq.data());
                const bool ok = std::fabs(got - ref) <= tol && std::fabs(got - scalar) <= tol;
                if (!ok && mismatches++ < 5)
                    std::printf("  MISMATCH %s %s n=%lld seed=%u: got %.7g ref %.7g scalar %.7g tol %.3g\n",
                                ld::type_name(t), ld::isa_name(isa), (long long)n, seed, got, ref,
                                scalar, tol);
                EXPECT_TRUE(ok) << ld::type_name(t) << " " << ld::isa_name(isa) << " n=" << n;
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantVecDot, ::testing::ValuesIn(kComputeTypes),
                         [](const auto& info) { return std::string(ld::type_name(info.param)); });

// matvec/matmul against per-row vec_dot, including row offsets, remainders of the row and token
// tiles, and an output stride wider than the row range.
class QuantMatmul : public ::testing::TestWithParam<GgmlType> {};

TEST_P(QuantMatmul, MatchesPerRowDot) {
    const GgmlType t = GetParam();
    const GgmlType at = ld::vec_dot_type(t);
    const int64_t n = ld::traits(t).block_size == 1 ? 300 : 512;
    const int64_t rows = 19, r0 = 2, r1 = 17, nb = 7, ldy = rows + 3;
    const size_t rs = ld::row_size(t, n), xs = ld::row_size(at, n);
    const std::vector<float> wf = random_floats(size_t(rows * n), 11, 0.05f);
    const std::vector<float> xf = random_floats(size_t(nb * n), 12, 1.0f);
    std::vector<uint8_t> W(rs * size_t(rows)), X(xs * size_t(nb));
    for (int64_t r = 0; r < rows; ++r) ld::quantize_row(t, wf.data() + r * n, W.data() + size_t(r) * rs, n);
    for (int64_t b = 0; b < nb; ++b)
        ld::quantize_activation(at, xf.data() + b * n, X.data() + size_t(b) * xs, n);

    const ld::VecDotFn dot = ld::vec_dot_fn(t);
    auto expect_close = [&](float got, float want, const char* what, int64_t b, int64_t r) {
        const float tol = 1e-6f + 1e-5f * std::fabs(want);
        EXPECT_NEAR(got, want, tol) << what << " " << ld::type_name(t) << " token " << b << " row " << r;
    };
    const float kSentinel = -12345.0f;

    std::vector<float> yv(size_t(rows), kSentinel);
    ld::matvec(t, n, W.data(), X.data(), yv.data(), r0, r1);
    for (int64_t r = 0; r < rows; ++r) {
        if (r < r0 || r >= r1) {
            EXPECT_EQ(yv[size_t(r)], kSentinel) << "matvec wrote outside its rows";
            continue;
        }
        float want = 0;
        dot(n, &want, W.data() + size_t(r) * rs, X.data());
        expect_close(yv[size_t(r)], want, "matvec", 0, r);
    }

    std::vector<float> ym(size_t(nb * ldy), kSentinel);
    ld::matmul(t, n, W.data(), X.data(), nb, ym.data(), ldy, r0, r1);
    for (int64_t b = 0; b < nb; ++b) {
        for (int64_t r = 0; r < ldy; ++r) {
            const float got = ym[size_t(b * ldy + r)];
            if (r < r0 || r >= r1) {
                EXPECT_EQ(got, kSentinel) << "matmul wrote outside its rows";
                continue;
            }
            float want = 0;
            dot(n, &want, W.data() + size_t(r) * rs, X.data() + size_t(b) * xs);
            expect_close(got, want, "matmul", b, r);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantMatmul, ::testing::ValuesIn(kComputeTypes),
                         [](const auto& info) { return std::string(ld::type_name(info.param)); });

// matvec/matmul pick their kernels from detected_isa(), which is fixed per process; re-run the
// matmul tests in child processes capped with LLAMADESK_CPU_ISA so that the AVX2 and scalar
// paths are checked on an AVX-512 machine too.
TEST(QuantIsa, MatmulTestsPassUnderEveryLowerIsa) {
    if (std::getenv("LLAMADESK_CPU_ISA")) GTEST_SKIP() << "already a capped child run";
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    for (int isa = 0; isa < int(ld::detected_isa()); ++isa) {
        const std::string cmd = std::string("LLAMADESK_CPU_ISA=") + ld::isa_name(ld::Isa(isa)) + " '" + self +
                                "' --gtest_filter='AllTypes/QuantMatmul.*:QuantIsa.ChildSeesCappedIsa' > /dev/null 2>&1";
        EXPECT_EQ(std::system(cmd.c_str()), 0) << "failed under " << ld::isa_name(ld::Isa(isa)) << ": " << cmd;
    }
}

TEST(QuantIsa, ChildSeesCappedIsa) {
    const char* env = std::getenv("LLAMADESK_CPU_ISA");
    if (!env) GTEST_SKIP() << "only meaningful in a capped child run";
    EXPECT_EQ(std::string(ld::isa_name(ld::detected_isa())), std::string(env));
}

}  // namespace
