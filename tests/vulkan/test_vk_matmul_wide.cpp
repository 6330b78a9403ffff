// The 128-wide-K tensor-core matmul (shaders/common/matmul_coopmat_wide.glsl) against the
// product in double of the exact weights: emulated (Tuning::VkMatmul::emulate, every device,
// lavapipe in CI) and, where the device has cooperative matrices, the real one (the default
// there, VkMatmul::wide).
#include <cmath>

#include "inference/quant/fp16.h"
#include "vk_test_util.h"

namespace ld::test {
namespace {

// An Ops whose prompt matmul is `kind`.
std::unique_ptr<vk::Ops> ops_with(const vk::Device& dev, Tuning::VkMatmul kind) {
    return ops_tuned(dev, [&](Tuning& t) { t.vk_matmul = kind; });
}

class VkMatmulWide : public ::testing::TestWithParam<GgmlType> {};

TEST_P(VkMatmulWide, MatchesDequantizedDotWithinF16) {
    LD_REQUIRE_VULKAN(env);
    const GgmlType type = GetParam();
    std::vector<std::unique_ptr<vk::Ops>> kernels;
    kernels.push_back(ops_with(env->dev, Tuning::VkMatmul::emulate));
    if (env->dev.coopmat()) kernels.push_back(ops_with(env->dev, Tuning::VkMatmul::wide));
    const bool k_quant = traits(type).block_size == 256;
    std::vector<int> widths = {256, 4096 + 256};
    if (!k_quant) widths.push_back(384);  // 3 K slices; K-quants come in 256s
    for (const auto& ops : kernels) {
        if (std::string(ops->matmul_kind()).rfind("coopmat-", 0) != 0)
            GTEST_SKIP() << "the emulated wide kernel needs f16 arithmetic and "
                         << vk::Ops::coopmat_wide_shared_bytes(32) << " bytes of shared memory";
        for (int ne0 : widths)
            for (int rows : {1, 7, 64, 130})
                for (int cols : {2, 7, 64, 70}) {  // 70: a last, mostly empty column tile
                    if (ne0 > 1024 && rows * cols > 2000) continue;  // keeps lavapipe fast
                    const TestWeight w = make_weight(type, rows, ne0, uint32_t(rows * 7 + ne0 + cols));
                    const std::vector<float> x = random_floats(size_t(cols) * ne0, 31);
                    const std::vector<float> want = reference_product(w, x, rows, ne0, cols);
                    vk::Buffer wb = env->upload(w.device), xb = env->upload(x), yb = env->device(want.size() * 4);
                    vk::Buffer hb = env->device(x.size() * 2), yhb = env->device(want.size() * 4);
                    ASSERT_TRUE(ops->takes_x16(type, uint32_t(ne0), uint32_t(cols)));
                    VkCommandBuffer cmd = env->cmds.begin();
                    ops->matmul(cmd, type, wb, xb, yb, ne0, rows, cols);
                    // the same product on x converted to halves beforehand
                    ops->to_f16(cmd, xb, hb, uint32_t(x.size()));
                    env->cmds.barrier();
                    const vk::BufferRef hx(hb);
                    ops->matmul(cmd, type, wb, xb, yhb, ne0, rows, cols, false, &hx);
                    env->cmds.submit_and_wait();
                    // W and x rounded to f16 (2^-11 relative each) before an f32 sum, as the old
                    // tensor-core kernel's test allows
                    const std::string what = std::string(ops->matmul_kind()) + " " + type_name(type) + " rows " +
                                             std::to_string(rows) + " ne0 " + std::to_string(ne0) + " cols " +
                                             std::to_string(cols);
                    const std::vector<float> got = env->download<float>(yb, want.size());
                    expect_close(got, want, 2e-3 * std::sqrt(double(ne0)), 2e-3, what);
                    // both round x the same way: the same sums, up to the order of f32 additions
                    expect_close(env->download<float>(yhb, want.size()), got, 1e-5 * std::sqrt(double(ne0)), 1e-5,
                                 what + " x16");
                }
    }
}

INSTANTIATE_TEST_SUITE_P(Types, VkMatmulWide,
                         ::testing::Values(GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K),
                         [](const auto& info) { return std::string(type_name(info.param)); });

// to_f16: each float to the nearest half (ties to even where the device rounds so; within half
// an f16 ulp either way), subnormals and infinities included.
TEST(VkMatmulWide, ToF16RoundsToNearestHalf) {
    LD_REQUIRE_VULKAN(env);
    std::vector<float> x = random_floats(4096 + 4, 5, 100.0f);
    x[0] = 0.0f;
    x[1] = 1.0f + 1.0f / 4096.0f;  // between two halves
    x[2] = 1e-6f;                  // an f16 subnormal
    x[3] = 70000.0f;               // past the largest half: infinity
    vk::Buffer xb = env->upload(x), hb = env->device(x.size() * 2);
    env->ops.to_f16(env->cmds.begin(), xb, hb, uint32_t(x.size()));
    env->cmds.submit_and_wait();
    const std::vector<uint16_t> h = env->download<uint16_t>(hb, x.size());
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const float got = fp16_to_fp32(h[i]);
        const double ulp = std::max(std::ldexp(1.0, -24), std::ldexp(1.0, std::ilogb(std::max(std::fabs(x[i]), 6.1e-5f)) - 10));
        const bool ok = i == 3 ? std::isinf(got) : std::fabs(double(got) - x[i]) <= 0.5 * ulp;
        if (!ok && ++bad <= 5) ADD_FAILURE() << "to_f16[" << i << "] of " << x[i] << " = " << got;
    }
    EXPECT_EQ(bad, 0);
    EXPECT_THROW(env->ops.to_f16(env->cmds.begin(), xb, hb, 6), Error);
    env->cmds.submit_and_wait();
}

// Widths that are not a multiple of 128 and float weights take the other kernels.
TEST(VkMatmulWide, OtherShapesFallBack) {
    LD_REQUIRE_VULKAN(env);
    const std::unique_ptr<vk::Ops> ops = ops_with(env->dev, Tuning::VkMatmul::emulate);
    for (GgmlType type : {GgmlType::Q4_0, GgmlType::F16}) {
        const int rows = 33, ne0 = 160, cols = 5;
        const TestWeight w = make_weight(type, rows, ne0, 3);
        const std::vector<float> x = random_floats(size_t(cols) * ne0, 4);
        const std::vector<float> want = reference_product(w, x, rows, ne0, cols);
        vk::Buffer wb = env->upload(w.device), xb = env->upload(x), yb = env->device(want.size() * 4);
        ops->matmul(env->cmds.begin(), type, wb, xb, yb, ne0, rows, cols);
        env->cmds.submit_and_wait();
        expect_close(env->download<float>(yb, want.size()), want, 2e-4, 1e-4,
                     std::string("fallback ") + type_name(type));
    }
}

}  // namespace
}  // namespace ld::test
