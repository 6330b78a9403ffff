// The packed 16-row weight layout (inference/quant/repack.h): packed matvec/matmul against the
// scalar per-row dot product, for odd row counts (zero-padded last group), row ranges that split
// groups (as threads do), token counts around the kernels' tile sizes, and packing done in
// separate group ranges.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "inference/quant/fp16.h"
#include "inference/quant/quant.h"
#include "inference/quant/repack.h"

namespace {

using ld::GgmlType;

struct Fixture {
    GgmlType t;
    int64_t n, rows;
    std::vector<uint8_t> w, packed;
};

Fixture make(GgmlType t, int64_t n, int64_t rows, uint32_t seed) {
    Fixture f{t, n, rows, {}, {}};
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const size_t rs = ld::row_size(t, n);
    f.w.resize(rs * size_t(rows));
    std::vector<float> tmp(static_cast<size_t>(n));
    for (int64_t r = 0; r < rows; ++r) {
        // Rows of different magnitudes so the per-row scales differ.
        const float mag = 0.1f + 0.05f * float(r % 7);
        for (float& v : tmp) v = nd(rng) * mag;
        ld::quantize_row(t, tmp.data(), f.w.data() + size_t(r) * rs, n);
    }
    f.packed.resize(ld::packed_size(t, n, rows));
    // Pack in two ranges to exercise the group-range API the backend parallelises with.
    const int64_t ng = (rows + ld::kPackRows - 1) / ld::kPackRows;
    ld::repack_groups(t, n, rows, f.w.data(), f.packed.data(), 0, ng / 2);
    ld::repack_groups(t, n, rows, f.w.data(), f.packed.data(), ng / 2, ng);
    return f;
}

std::vector<uint8_t> activations(GgmlType t, int64_t n, int64_t nb, uint32_t seed) {
    const GgmlType at = ld::vec_dot_type(t);
    const size_t xs = ld::row_size(at, n);
    std::vector<uint8_t> xq(xs * size_t(nb));
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> tmp(static_cast<size_t>(n));
    for (int64_t b = 0; b < nb; ++b) {
        for (float& v : tmp) v = nd(rng);
        ld::quantize_activation(at, tmp.data(), xq.data() + size_t(b) * xs, n);
    }
    return xq;
}

// y_ref[b * rows + r] from the scalar dot product.
std::vector<float> reference(const Fixture& f, const std::vector<uint8_t>& xq, int64_t nb) {
    const ld::VecDotFn dot = ld::vec_dot_fn(f.t, ld::Isa::Scalar);
    const size_t rs = ld::row_size(f.t, f.n), xs = ld::row_size(ld::vec_dot_type(f.t), f.n);
    std::vector<float> y(size_t(nb * f.rows));
    for (int64_t b = 0; b < nb; ++b)
        for (int64_t r = 0; r < f.rows; ++r)
            dot(f.n, &y[size_t(b * f.rows + r)], f.w.data() + size_t(r) * rs, xq.data() + size_t(b) * xs);
    return y;
}

void expect_close(const std::vector<float>& ref, const std::vector<float>& got, const char* what) {
    ASSERT_EQ(ref.size(), got.size());
    double scale = 0;
    for (float v : ref) scale = std::max(scale, double(std::fabs(v)));
    for (size_t i = 0; i < ref.size(); ++i)
        ASSERT_NEAR(got[i], ref[i], 2e-5 * scale + 1e-6) << what << " at " << i;
}

const GgmlType kTypes[] = {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K};

TEST(QuantRepack, AvailabilityFollowsIsa) {
    for (GgmlType t : kTypes) {
        EXPECT_EQ(ld::can_repack(t, 256), ld::detected_isa() == ld::Isa::AVX512) << ld::type_name(t);
        EXPECT_FALSE(ld::can_repack(t, 100));
    }
    EXPECT_FALSE(ld::can_repack(GgmlType::Q5_1, 256));
}

TEST(QuantRepack, MatvecMatchesScalarDot) {
    for (GgmlType t : kTypes) {
        if (!ld::can_repack(t, 256)) GTEST_SKIP() << "no packed kernels on this CPU / ISA cap";
        // 96: an odd number of 32-element blocks, so Q4_0/Q8_0's last run of two blocks holds one.
        std::vector<int64_t> ns = {256, 768};
        if (ld::can_repack(t, 96)) ns.push_back(96);
        for (int64_t rows : {1, 15, 16, 37, 64}) {
            for (int64_t n : ns) {
                const Fixture f = make(t, n, rows, uint32_t(rows * 31 + n));
                const auto xq = activations(t, n, 1, uint32_t(n + 7));
                const auto ref = reference(f, xq, 1);
                std::vector<float> y(size_t(rows), -1.0f);
                ld::packed_matvec(t, n, rows, f.packed.data(), xq.data(), y.data(), 0, rows);
                expect_close(ref, y, ld::type_name(t));
                // Thread-like splits, aligned and not: each range writes only its rows.
                for (int64_t cut : {int64_t(0), rows / 3, int64_t(16) < rows ? int64_t(16) : rows, rows}) {
                    std::vector<float> z(size_t(rows), -1.0f);
                    ld::packed_matvec(t, n, rows, f.packed.data(), xq.data(), z.data(), 0, cut);
                    for (int64_t r = cut; r < rows; ++r) ASSERT_EQ(z[size_t(r)], -1.0f);
                    ld::packed_matvec(t, n, rows, f.packed.data(), xq.data(), z.data(), cut, rows);
                    expect_close(ref, z, ld::type_name(t));
                }
            }
        }
    }
}

TEST(QuantRepack, MatmulMatchesScalarDot) {
    for (GgmlType t : kTypes) {
        if (!ld::can_repack(t, 256)) GTEST_SKIP() << "no packed kernels on this CPU / ISA cap";
        const int64_t n = 512, rows = 40;
        const Fixture f = make(t, n, rows, 5);
        for (int64_t nb : {1, 2, 3, 5, 8, 67}) {
            const auto xq = activations(t, n, nb, uint32_t(nb));
            const auto ref = reference(f, xq, nb);
            std::vector<float> y(size_t(nb * rows), -1.0f);
            ld::packed_matmul(t, n, rows, f.packed.data(), xq.data(), nb, y.data(), rows, 0, 21);
            ld::packed_matmul(t, n, rows, f.packed.data(), xq.data(), nb, y.data(), rows, 21, rows);
            expect_close(ref, y, ld::type_name(t));
        }
    }
}

// Decode (one token) has its own K-quant kernels. The integer part of every block's dot is
// exact and the float steps per block run in the same order, so one token's results must equal
// the batch kernels' bit for bit, whatever tile a token lands in: 4 tokens run as one 4-token
// tile, 15 as 8 + 4 + 2 + 1 for Q4_0 (its 8-token tiles) and 4 + 4 + 4 + 2 + 1 for the others.
TEST(QuantRepack, MatvecEqualsMatmulBitwise) {
    for (GgmlType t : kTypes) {
        if (!ld::can_repack(t, 256)) GTEST_SKIP() << "no packed kernels on this CPU / ISA cap";
        const int64_t n = 768, rows = 37;
        const Fixture f = make(t, n, rows, 11);
        for (int64_t nb : {4, 15}) {
            const auto xq = activations(t, n, nb, 12);
            const size_t xs = ld::row_size(ld::vec_dot_type(t), n);
            std::vector<float> y(size_t(nb * rows));
            ld::packed_matmul(t, n, rows, f.packed.data(), xq.data(), nb, y.data(), rows, 0, rows);
            for (int64_t b = 0; b < nb; ++b) {
                std::vector<float> z(size_t(rows), -1.0f);
                ld::packed_matvec(t, n, rows, f.packed.data(), xq.data() + size_t(b) * xs, z.data(), 0, rows);
                ASSERT_EQ(0, std::memcmp(z.data(), y.data() + b * rows, sizeof(float) * size_t(rows)))
                    << ld::type_name(t) << " token " << b << " of " << nb;
            }
        }
    }
}

// Every bit pattern of the weight bytes, against activations that reach the int8 limits. The
// decode kernels dot the low and the high bits of each value separately (the high ones in place,
// up to 64x their value, inside int32 lanes), so their sums must stay exact over the whole range,
// not only for what the quantizer happens to produce.
TEST(QuantRepack, RandomBitPatternsMatchScalarDot) {
    for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q6_K}) {
        if (!ld::can_repack(t, 256)) GTEST_SKIP() << "no packed kernels on this CPU / ISA cap";
        const int64_t n = 768, rows = 35, nblk = n / 256;
        std::mt19937 rng(21);
        Fixture f{t, n, rows, std::vector<uint8_t>(ld::row_size(t, n) * size_t(rows)), {}};
        for (uint8_t& b : f.w) b = uint8_t(rng());
        // Finite, varied super-block scales (random fp16 bits could be Inf/NaN).
        for (int64_t k = 0; k < rows * nblk; ++k) {
            const uint16_t d = ld::fp32_to_fp16(0.001f * float(1 + k % 7)), m = ld::fp32_to_fp16(0.002f * float(1 + k % 3));
            if (t == GgmlType::Q4_K) {
                auto* b = reinterpret_cast<ld::block_q4_K*>(f.w.data()) + k;
                b->d = d;
                b->dmin = m;
            } else {
                reinterpret_cast<ld::block_q6_K*>(f.w.data())[k].d = d;
            }
        }
        f.packed.resize(ld::packed_size(t, n, rows));
        ld::repack_groups(t, n, rows, f.w.data(), f.packed.data(), 0, (rows + ld::kPackRows - 1) / ld::kPackRows);
        std::vector<ld::block_q8_K> x(static_cast<size_t>(nblk));
        for (int64_t k = 0; k < nblk; ++k) {
            ld::block_q8_K& b = x[size_t(k)];
            b.d = 0.01f;
            for (int i = 0; i < 256; ++i)  // block 0 at the limits, the others random
                b.qs[i] = k == 0 ? int8_t(i % 3 == 0 ? 127 : -128) : int8_t(rng());
            for (int g = 0; g < 16; ++g) {
                int sum = 0;
                for (int i = 0; i < 16; ++i) sum += b.qs[16 * g + i];
                b.bsums[g] = int16_t(sum);
            }
        }
        std::vector<uint8_t> xq(sizeof(ld::block_q8_K) * x.size());
        std::memcpy(xq.data(), x.data(), xq.size());
        const auto ref = reference(f, xq, 1);
        std::vector<float> y(static_cast<size_t>(rows));
        ld::packed_matvec(t, n, rows, f.packed.data(), xq.data(), y.data(), 0, rows);
        expect_close(ref, y, ld::type_name(t));
    }
}

TEST(QuantRepack, RowsUnpackToTheSourceBytes) {
    // Packing is layout-only, so it works (and round-trips) without the packed kernels.
    for (GgmlType t : kTypes) {
        const int64_t n = 512, rows = 37;
        const Fixture f = make(t, n, rows, 9);
        const size_t rs = ld::row_size(t, n);
        std::vector<uint8_t> row(rs);
        for (int64_t r = 0; r < rows; ++r) {
            ld::packed_row(t, n, rows, f.packed.data(), r, row.data());
            ASSERT_EQ(0, std::memcmp(row.data(), f.w.data() + size_t(r) * rs, rs)) << ld::type_name(t) << " row " << r;
        }
    }
}

TEST(QuantRepack, RejectsBadArguments) {
    if (!ld::can_repack(GgmlType::Q4_0, 256)) GTEST_SKIP() << "no packed kernels";
    const Fixture f = make(GgmlType::Q4_0, 256, 16, 1);
    const auto xq = activations(GgmlType::Q4_0, 256, 1, 1);
    std::vector<float> y(16);
    EXPECT_ANY_THROW(ld::packed_matvec(GgmlType::Q4_0, 256, 16, f.packed.data(), xq.data(), y.data(), 0, 17));
    EXPECT_ANY_THROW(ld::packed_size(GgmlType::Q4_1, 256, 16));
}

}  // namespace
