// Decode's int8 path against CPU references: quantize_q8 (activations to int8 per block of 32,
// from a copy, the SwiGLU or the RMSNorm), the int8 matvec (shaders/common/matvec_q8.glsl) and
// the matvecs' accumulate mode (decode's residual adds).
#include <cmath>

#include "inference/cpu/ops.h"
#include "inference/quant/fp16.h"
#include "vk_test_util.h"

namespace ld::test {
namespace {

using Q8From = vk::Ops::Q8From;

// The device's int8 copy of n values (Ops::q8_bytes layout) read back as values and block scales.
struct Q8 {
    std::vector<int8_t> q;
    std::vector<float> d, s0, s1;
    float value(size_t i) const { return d[i / 32] * float(q[i]); }
};
Q8 parse_q8(const std::vector<uint8_t>& bytes, size_t n) {
    Q8 r;
    r.q.resize(n);
    std::memcpy(r.q.data(), bytes.data(), n);
    for (size_t b = 0; b < n / 32; ++b) {
        float v[4];
        std::memcpy(v, bytes.data() + n + 16 * b, 16);
        r.d.push_back(v[0]);
        r.s0.push_back(v[1]);
        r.s1.push_back(v[2]);
    }
    return r;
}

// What quantize_q8 must compute in f32 for each mode (the CPU backend's ops).
std::vector<float> reference_values(Q8From mode, const std::vector<float>& a, const std::vector<float>& b) {
    std::vector<float> v = a;
    if (mode == Q8From::swiglu) cpu::silu_mul(v.data(), b.data(), int(v.size()));
    if (mode == Q8From::rmsnorm) cpu::rmsnorm(v.data(), a.data(), b.data(), int(v.size()), 1e-5f);
    return v;
}

// bytes (Ops::q8_bytes(f.size()) of them) are the int8 copy of f: per block d = amax / 127, s0 and
// s1 the scaled sums of its quants, every value within half a step.
void expect_q8_of(const std::vector<float>& f, const std::vector<uint8_t>& bytes, const std::string& what) {
    const size_t n = f.size();
    const Q8 q = parse_q8(bytes, n);
    int bad = 0;
    for (size_t blk = 0; blk < n / 32; ++blk) {
        float amax = 0;
        int s0 = 0, s1 = 0;
        for (size_t i = 32 * blk; i < 32 * blk + 32; ++i) {
            amax = std::max(amax, std::abs(f[i]));
            (i % 32 < 16 ? s0 : s1) += q.q[i];
        }
        EXPECT_NEAR(q.d[blk], amax / 127.0f, 1e-6f * amax) << what << " block " << blk;
        EXPECT_FLOAT_EQ(q.s0[blk], q.d[blk] * float(s0)) << what << " block " << blk;
        EXPECT_FLOAT_EQ(q.s1[blk], q.d[blk] * float(s1)) << what << " block " << blk;
        for (size_t i = 32 * blk; i < 32 * blk + 32; ++i)  // rounded to nearest: half a step
            if (std::abs(q.value(i) - f[i]) > 0.5001f * q.d[blk] + 1e-7f && ++bad <= 5)
                ADD_FAILURE() << what << ": [" << i << "] " << f[i] << " became " << int(q.q[i]) << " x " << q.d[blk];
    }
    EXPECT_EQ(bad, 0) << what;
}

TEST(VkQ8, QuantizeWritesValuesAndBlocks) {
    LD_REQUIRE_VULKAN(env);
    for (Q8From mode : {Q8From::copy, Q8From::swiglu, Q8From::rmsnorm})
        for (uint32_t n : {32u, 224u, 4096u + 256u, 14336u, 100u, 98u}) {  // 100, 98: f32 only (not whole blocks)
            const std::string what = "mode " + std::to_string(int(mode)) + " n " + std::to_string(n);
            std::vector<float> a = random_floats(n, n + 1, 2.0f);
            const std::vector<float> b = random_floats(n, n + 2);
            if (n >= 64) std::fill(a.begin() + 32, a.begin() + 64, 0.0f);  // an all-zero block: d = 0
            const std::vector<float> want = reference_values(mode, a, b);
            vk::Buffer ab = env->upload(a), bb = env->upload(b), fb = env->device(n * 4);
            std::vector<uint8_t> poison(vk::Ops::q8_bytes(n) + 64, 0xA5);
            vk::Buffer qb = env->upload(poison);
            env->ops.quantize_q8(env->cmds.begin(), mode, ab, bb, qb, fb, n, 1e-5f, true);
            env->cmds.submit_and_wait();
            const std::vector<float> f = env->download<float>(fb, n);
            expect_close(f, want, 1e-5, 1e-5, "quantize_q8 f32 " + what);
            const std::vector<uint8_t> bytes = env->download<uint8_t>(qb, poison.size());
            if (n % 32 != 0) {
                EXPECT_EQ(bytes, poison) << "no int8 copy without whole blocks: " << what;
                continue;
            }
            EXPECT_TRUE(std::equal(bytes.begin() + long(vk::Ops::q8_bytes(n)), bytes.end(), poison.begin()))
                << "wrote past q8_bytes: " << what;
            expect_q8_of(f, bytes, what);
        }
}

// The attention merge of decode writes the int8 copy of its output when asked (head_dim % 32
// == 0), and the same f32 output as without it.
TEST(VkQ8, AttentionMergeWritesInt8Copy) {
    LD_REQUIRE_VULKAN(env);
    const int heads = 8, kv_heads = 2;
    for (int head_dim : {64, 128, 48}) {
        const int pos = 300, ctx = pos + 1, kvd = kv_heads * head_dim, qd = heads * head_dim;
        const std::string what = "head_dim " + std::to_string(head_dim);
        const std::vector<float> q = random_floats(size_t(qd), 18);
        const KvCache cache = random_kv_cache(ctx, ctx, kvd, 2.0f, 19);
        const std::vector<fp16_t>&kh = cache.k, &vh = cache.v;
        const float scale = 1.0f / std::sqrt(float(head_dim));
        vk::Buffer qb = env->upload(q), kb = env->upload(kh), vb = env->upload(vh), ob = env->device(q.size() * 4);
        vk::Buffer scratch = env->device(vk::Ops::attention_scratch_bytes(heads, head_dim));
        EXPECT_FALSE(env->ops.attention_decode(env->cmds.begin(), qb, kb, vb, ob, scratch, heads, kv_heads, head_dim,
                                               pos, scale));
        env->cmds.submit_and_wait();
        const std::vector<float> plain = env->download<float>(ob, q.size());
        std::vector<uint8_t> poison(vk::Ops::q8_bytes(uint32_t(qd)), 0xA5);
        vk::Buffer xb = env->upload(poison), ob2 = env->device(q.size() * 4);
        const vk::BufferRef xq(xb);
        const bool wrote = env->ops.attention_decode(env->cmds.begin(), qb, kb, vb, ob2, scratch, heads, kv_heads,
                                                     head_dim, pos, scale, &xq);
        env->cmds.submit_and_wait();
        EXPECT_EQ(wrote, head_dim % 32 == 0) << what;
        const std::vector<float> f = env->download<float>(ob2, q.size());
        expect_close(f, plain, 0, 0, "merge output with the int8 copy, " + what);
        const std::vector<uint8_t> bytes = env->download<uint8_t>(xb, poison.size());
        if (wrote)
            expect_q8_of(f, bytes, what);
        else
            EXPECT_EQ(bytes, poison) << what;
    }
}

class VkQ8Typed : public ::testing::TestWithParam<GgmlType> {};

// y = W . x on the int8 copy of x, against the dot product in double of the exact weights and
// the device's own int8 values: only summation order separates them, so an index or scale slip
// in any block layout shows as an error of the order of y.
TEST_P(VkQ8Typed, MatvecMatchesDotOfInt8Values) {
    LD_REQUIRE_VULKAN(env);
    const GgmlType type = GetParam();
    if (!env->ops.has_q8_matvec(type)) {
        vk::Buffer a = env->device(4096);
        VkCommandBuffer cmd = env->cmds.begin();
        const bool ran = env->ops.matvec_q8(cmd, type, a, a, a, 256, 1, false);
        env->cmds.submit_and_wait();
        EXPECT_FALSE(ran) << "no int8 kernel: the caller falls back";
        if (env->ops.q8_enabled() && (type == GgmlType::Q8_0 || type == GgmlType::Q4_0 || type == GgmlType::Q4_K ||
                                      type == GgmlType::Q6_K))
            ADD_FAILURE() << type_name(type) << " should have an int8 matvec";
        GTEST_SKIP() << "no int8 matvec for " << type_name(type) << " on " << env->dev.info().name
                     << (env->dev.int_dot() ? "" : " (no integer dot products)");
    }
    for (int ne0 : {256, 4096 + 256})
        for (int rows : {1, 7, 33, 300}) {
            if (ne0 > 1024 && rows > 33) continue;  // keeps lavapipe fast
            const TestWeight w = make_weight(type, rows, ne0, uint32_t(rows * 13 + ne0));
            const std::vector<float> x = random_floats(size_t(ne0), uint32_t(ne0 + rows), 1.5f);
            vk::Buffer xb = env->upload(x), fb = env->device(size_t(ne0) * 4);
            vk::Buffer qb = env->device(vk::Ops::q8_bytes(uint32_t(ne0)));
            env->ops.quantize_q8(env->cmds.begin(), Q8From::copy, xb, xb, qb, fb, uint32_t(ne0), 0, true);
            env->cmds.submit_and_wait();
            const Q8 q = parse_q8(env->download<uint8_t>(qb, vk::Ops::q8_bytes(uint32_t(ne0))), size_t(ne0));
            std::vector<float> xq(static_cast<size_t>(ne0));
            for (size_t i = 0; i < xq.size(); ++i) xq[i] = q.value(i);
            const std::vector<float> prod = reference_product(w, xq, rows, ne0, 1);
            const std::vector<float> y0 = random_floats(size_t(rows), 5);
            for (bool accumulate : {false, true}) {
                std::vector<float> want = prod;
                if (accumulate)
                    for (size_t r = 0; r < want.size(); ++r) want[r] += y0[r];
                vk::Buffer wb = env->upload(w.device), yb = env->upload(y0);
                VkCommandBuffer cmd = env->cmds.begin();
                ASSERT_TRUE(env->ops.matvec_q8(cmd, type, wb, qb, yb, uint32_t(ne0), uint32_t(rows), accumulate));
                env->cmds.submit_and_wait();
                expect_close(env->download<float>(yb, want.size()), want, 1e-4 * std::sqrt(ne0 / 256.0), 1e-4,
                             std::string("matvec_q8 ") + type_name(type) + " rows " + std::to_string(rows) + " ne0 " +
                                 std::to_string(ne0) + (accumulate ? " accumulate" : ""));
            }
        }
}

// The f32 decode matvecs (wide and generic) add into y when asked: decode's residual adds.
TEST_P(VkQ8Typed, F32MatvecAccumulates) {
    LD_REQUIRE_VULKAN(env);
    const GgmlType type = GetParam();
    const std::unique_ptr<vk::Ops> generic_ops = ops_tuned(env->dev, [](Tuning& t) { t.vk_wide_matvec = false; });
    const vk::Ops& generic = *generic_ops;
    const int rows = 33, ne0 = 512;
    const TestWeight w = make_weight(type, rows, ne0, 9);
    const std::vector<float> x = random_floats(size_t(ne0), 10), y0 = random_floats(size_t(rows), 11);
    std::vector<float> want = reference_product(w, x, rows, ne0, 1);
    for (size_t r = 0; r < want.size(); ++r) want[r] += y0[r];
    for (const vk::Ops* ops : {static_cast<const vk::Ops*>(&env->ops), static_cast<const vk::Ops*>(&generic)}) {
        vk::Buffer wb = env->upload(w.device), xb = env->upload(x), yb = env->upload(y0);
        ops->matmul(env->cmds.begin(), type, wb, xb, yb, ne0, rows, 1, true);
        env->cmds.submit_and_wait();
        expect_close(env->download<float>(yb, want.size()), want, 2e-4, 1e-4,
                     std::string("accumulate ") + ops->matvec_kind() + " " + type_name(type));
    }
    vk::Buffer wb = env->upload(w.device), xb = env->upload(x), yb = env->upload(y0);
    EXPECT_THROW(env->ops.matmul(env->cmds.begin(), type, wb, xb, yb, ne0, rows, 2, true), Error)
        << "accumulating is for one column";
    env->cmds.submit_and_wait();
}

// Decode's q/k/v projections with RoPE (on the first rope_dim of each head) and the f16 cache
// store in the epilogue, against the same kernel's plain product rotated on the CPU.
TEST_P(VkQ8Typed, MatvecRopeRotatesAndStores) {
    LD_REQUIRE_VULKAN(env);
    const GgmlType type = GetParam();
    const uint32_t head_dim = 64, n_heads = 3, rope_dim = 48, rows = n_heads * head_dim, ne0 = 256, pos = 5, n_ctx = 8;
    if (!env->ops.has_matvec_rope(type, ne0, rows, head_dim)) {
        if (std::string(env->ops.matvec_kind()) == "wide" && vk::Ops::has_wide_matvec(type))
            ADD_FAILURE() << type_name(type) << " has a wide matvec, so it should have the rope epilogue";
        GTEST_SKIP() << "no rope epilogue for " << type_name(type);
    }
    EXPECT_FALSE(env->ops.has_matvec_rope(type, ne0, rows + 1, head_dim)) << "rows come in pairs";
    const TestWeight w = make_weight(type, int(rows), int(ne0), 21);
    const std::vector<float> x = random_floats(ne0, 22);
    std::vector<float> cs;
    for (uint32_t i = 0; i < rope_dim / 2; ++i) {
        const float a = 0.37f * float(i + 1);
        cs.push_back(std::cos(a));
        cs.push_back(std::sin(a));
    }
    vk::Buffer wb = env->upload(w.device), xb = env->upload(x), csb = env->upload(cs), fb = env->device(ne0 * 4);
    vk::Buffer qb = env->device(vk::Ops::q8_bytes(ne0)), plain = env->device(rows * 4);
    VkCommandBuffer cmd = env->cmds.begin();
    env->ops.quantize_q8(cmd, Q8From::copy, xb, xb, qb, fb, ne0, 0, true);
    env->cmds.barrier();
    if (!env->ops.matvec_q8(cmd, type, wb, qb, plain, ne0, rows, false)) env->ops.matmul(cmd, type, wb, xb, plain, ne0, rows, 1);
    env->cmds.submit_and_wait();
    const std::vector<float> y = env->download<float>(plain, rows);
    std::vector<float> roped = y;
    for (uint32_t r = 0; r < rows; r += 2) {
        const uint32_t d = r % head_dim;
        if (d >= rope_dim) continue;
        const float c = cs[d], sn = cs[d + 1];
        roped[r] = y[r] * c - y[r + 1] * sn;
        roped[r + 1] = y[r] * sn + y[r + 1] * c;
    }
    using Out = vk::Ops::RopeOut;
    for (Out out : {Out::query, Out::key, Out::value}) {
        const std::string what = std::string(type_name(type)) + " mode " + std::to_string(int(out));
        const std::vector<float> want = out == Out::value ? y : roped;
        std::vector<fp16_t> poison(size_t(n_ctx) * rows, fp32_to_fp16(-7.0f));
        vk::Buffer yb = env->device(rows * 4), cache = env->upload(poison);
        VkCommandBuffer c2 = env->cmds.begin();
        ASSERT_TRUE(env->ops.matvec_rope(c2, type, wb, xb, qb, yb, csb, cache, ne0, rows, out, head_dim, rope_dim, pos));
        env->cmds.submit_and_wait();
        if (out == Out::query) {
            expect_close(env->download<float>(yb, rows), want, 1e-5, 1e-5, "rope " + what);
            EXPECT_EQ(env->download<fp16_t>(cache, poison.size()), poison) << "the query leaves the cache alone";
            continue;
        }
        const std::vector<fp16_t> got = env->download<fp16_t>(cache, poison.size());
        std::vector<float> row(rows), want16(rows);
        for (uint32_t i = 0; i < rows; ++i) {
            row[i] = fp16_to_fp32(got[size_t(pos) * rows + i]);
            want16[i] = fp16_to_fp32(fp32_to_fp16(want[i]));
        }
        expect_close(row, want16, 1e-5, 2e-3, "cache row " + what);  // an f16 rounding step either way
        for (uint32_t r = 0; r < n_ctx; ++r) {
            if (r != pos) {
                EXPECT_TRUE(std::equal(got.begin() + long(r * rows), got.begin() + long((r + 1) * rows), poison.begin()))
                    << what << ": cache row " << r << " written";
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Types, VkQ8Typed,
                         ::testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0,
                                           GgmlType::Q4_1, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K),
                         [](const auto& info) { return std::string(type_name(info.param)); });

}  // namespace
}  // namespace ld::test
