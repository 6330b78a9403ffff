// The CPU-side repack of quantized weights into the Vulkan device layout (inference/vulkan/
// vk_repack.h): every block's quants in order, then every block's f16 scale. No device needed.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "inference/core/error.h"
#include "inference/quant/quant.h"
#include "inference/vulkan/vk_repack.h"

namespace ld::test {
namespace {

std::vector<uint8_t> quantized(GgmlType t, int rows, int ne0) {
    std::mt19937 rng(5);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> src(static_cast<size_t>(rows) * ne0);
    for (float& v : src) v = d(rng);
    const size_t rb = row_size(t, ne0);
    std::vector<uint8_t> out(rb * rows);
    for (int r = 0; r < rows; ++r) quantize_row(t, src.data() + size_t(r) * ne0, out.data() + rb * r, ne0);
    return out;
}

struct Case { GgmlType type; size_t quant_bytes, scale_at, quants_at; };

TEST(VkRepack, SplitsQuantsAndScales) {
    for (const Case c : {Case{GgmlType::Q4_0, 16, 0, 2}, Case{GgmlType::Q8_0, 32, 0, 2}, Case{GgmlType::Q6_K, 208, 208, 0}}) {
        ASSERT_EQ(vk::repack_quant_bytes(c.type), c.quant_bytes) << type_name(c.type);
        const std::vector<uint8_t> src = quantized(c.type, 3, 512);
        const std::vector<uint8_t> dev = vk::repack_weight(c.type, src.data(), src.size());
        ASSERT_EQ(dev.size(), src.size()) << "the device layout keeps the byte count";
        const size_t bb = traits(c.type).type_size, n = src.size() / bb;
        for (size_t b = 0; b < n; ++b) {
            EXPECT_EQ(0, std::memcmp(dev.data() + b * c.quant_bytes, src.data() + b * bb + c.quants_at, c.quant_bytes))
                << type_name(c.type) << " block " << b << " quants";
            EXPECT_EQ(0, std::memcmp(dev.data() + n * c.quant_bytes + 2 * b, src.data() + b * bb + c.scale_at, 2))
                << type_name(c.type) << " block " << b << " scale";
        }
        EXPECT_EQ(n * c.quant_bytes % 16, 0u) << "quants of a matrix end 16-byte aligned";
    }
}

TEST(VkRepack, OtherTypesAreCopied) {
    for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::Q4_K}) {
        EXPECT_EQ(vk::repack_quant_bytes(t), 0u);
        const std::vector<uint8_t> src = quantized(t, 2, 256);
        EXPECT_EQ(vk::repack_weight(t, src.data(), src.size()), src);
    }
    uint8_t q[4] = {}, s[2] = {};
    EXPECT_THROW(vk::repack_blocks(GgmlType::Q4_K, q, 0, q, s), Error);
}

TEST(VkRepack, RejectsPartialBlocks) {
    const std::vector<uint8_t> src(19, 0);
    EXPECT_THROW(vk::repack_weight(GgmlType::Q4_0, src.data(), src.size()), Error);
}

}  // namespace
}  // namespace ld::test
