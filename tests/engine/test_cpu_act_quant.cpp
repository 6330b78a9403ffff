// The CPU backend's AVX-512 activation conversion writes the reference's bytes
// (quantize_activation): rows of several scales, exact rounding ties, zero blocks, a largest
// magnitude present with both signs, one element far above the others, tiny blocks.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "inference/cpu/act_quant.h"

namespace ld::cpu {
namespace {

std::vector<float> rows_to_convert(int64_t n, int block, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    const int64_t blocks = n / block;
    for (int64_t b = 0; b < blocks; ++b) {
        float* v = x.data() + b * block;
        const int kind = int(b % 6);
        const float scale = std::ldexp(1.0f, int(b % 13) - 6);
        for (int j = 0; j < block; ++j) v[j] = d(rng) * scale;
        if (kind == 1) {  // integers and halves with a largest magnitude of 127: scale 1, many ties
            for (int j = 0; j < block; ++j)
                v[j] = std::clamp(std::round(d(rng) * 40.0f), -120.0f, 120.0f) + (j % 2 ? 0.5f : 0.0f);
            v[block / 3] = b % 4 == 1 ? 127.0f : -127.0f;
        } else if (kind == 2) {  // all zero
            for (int j = 0; j < block; ++j) v[j] = 0.0f;
        } else if (kind == 3) {  // the largest magnitude twice, both signs, in either order
            v[5] = b % 4 == 3 ? 9.0f : -9.0f;
            v[block - 7] = -v[5];
        } else if (kind == 4) {  // one spike: most values round to 0 or +-1
            v[block / 2] = 1e4f;
        } else if (kind == 5) {  // tiny (d stays a normal float) and a negative zero
            for (int j = 0; j < block; ++j) v[j] = d(rng) * 1e-30f;
            v[0] = -0.0f;
        }
    }
    return x;
}

void expect_reference_bytes(GgmlType t, int block) {
    for (int64_t n : {int64_t(block), int64_t(8) * block, int64_t(64) * block}) {
        const std::vector<float> x = rows_to_convert(n, block, uint32_t(n));
        const size_t bytes = row_size(t, n);
        std::vector<uint8_t> want(bytes, 0xAA), got(bytes, 0x55), via(bytes, 0x33);
        quantize_activation(t, x.data(), want.data(), n);
        ASSERT_TRUE(quantize_act_avx512(t, x.data(), got.data(), n));
        quantize_act(t, x.data(), via.data(), n);
        for (size_t i = 0; i < bytes; ++i)
            ASSERT_EQ(got[i], want[i]) << type_name(t) << ", n " << n << ": byte " << i << " (block "
                                       << i / (bytes / size_t(n / block)) << ")";
        EXPECT_EQ(via, want);
    }
}

TEST(CpuActQuant, Avx512WritesTheReferenceBytes) {
    if (detected_isa() != Isa::AVX512) GTEST_SKIP() << "no AVX-512 on this CPU (the reference is used)";
    expect_reference_bytes(GgmlType::Q8_0, 32);
    expect_reference_bytes(GgmlType::Q8_K, 256);
}

TEST(CpuActQuant, OtherTypesAndLengthsGoToTheReference) {
    const std::vector<float> x = rows_to_convert(64, 32, 3);
    std::vector<uint8_t> buf(row_size(GgmlType::Q8_1, 64));
    EXPECT_FALSE(quantize_act_avx512(GgmlType::Q8_1, x.data(), buf.data(), 64));
    EXPECT_FALSE(quantize_act_avx512(GgmlType::Q8_0, x.data(), buf.data(), 33));
    std::vector<uint8_t> want(buf.size());
    quantize_activation(GgmlType::Q8_1, x.data(), want.data(), 64);
    quantize_act(GgmlType::Q8_1, x.data(), buf.data(), 64);
    EXPECT_EQ(buf, want);
}

}  // namespace
}  // namespace ld::cpu
