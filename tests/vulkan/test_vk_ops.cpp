// Every Vulkan op against the CPU reference (inference/cpu/ops.h, inference/quant/quant.h) on
// random inputs of awkward sizes.
#include <cmath>

#include "inference/cpu/ops.h"
#include <cstdlib>

#include "vk_test_util.h"

namespace ld::test {
namespace {

// Absolute and relative bounds for y = x W^T: 1e-4, except batches of quantized weights on
// tensor cores, which take x in f16 (an f16 rounding, 2^-11 relative, per product, summed).
struct Tol { double abs, rel; };
Tol product_tolerance(const vk::Ops& ops, GgmlType type, int ne0, int cols) {
    // every tensor-core kind: "coopmat", "coopmat-wide", "coopmat-emulated"
    const bool f16_x = cols > 1 && traits(type).block_size > 1 && std::string(ops.matmul_kind()).rfind("coopmat", 0) == 0;
    return f16_x ? Tol{2e-3 * std::sqrt(double(ne0)), 2e-3} : Tol{1e-4, 1e-4};
}

class VkTyped : public ::testing::TestWithParam<GgmlType> {};

TEST_P(VkTyped, MatmulMatchesDequantizedDot) {
    LD_REQUIRE_VULKAN(env);
    const GgmlType type = GetParam();
    const bool quant = traits(type).block_size > 1;
    for (int cols : {1, 5, 70}) {  // 70: two column tiles of the matmul
        const int rows = 67, ne0 = traits(type).block_size == 256 ? 512 : quant ? 160 : 77;
        const TestWeight w = make_weight(type, rows, ne0, 7);
        const std::vector<float> x = random_floats(size_t(cols) * ne0, 11);
        const std::vector<float> want = reference_product(w, x, rows, ne0, cols);
        vk::Buffer wb = env->upload(w.device), xb = env->upload(x), yb = env->device(want.size() * 4);
        env->ops.matmul(env->cmds.begin(), type, wb, xb, yb, ne0, rows, cols);
        env->cmds.submit_and_wait();
        const Tol tol = product_tolerance(env->ops, type, ne0, cols);
        expect_close(env->download<float>(yb, want.size()), want, tol.abs, tol.rel,
                     std::string("matmul ") + type_name(type) + " cols " + std::to_string(cols));
    }
}

TEST_P(VkTyped, GetRowsDequantizesTheTokensRows) {
    LD_REQUIRE_VULKAN(env);
    const GgmlType type = GetParam();
    const int vocab = 37, ne0 = traits(type).block_size == 256 ? 256 : traits(type).block_size > 1 ? 96 : 45;
    const TestWeight w = make_weight(type, vocab, ne0, 3);
    const std::vector<int32_t> ids = {5, 0, 36, 5, 17};
    std::vector<float> want;
    for (int32_t id : ids) want.insert(want.end(), w.values.begin() + long(id) * ne0, w.values.begin() + long(id + 1) * ne0);
    vk::Buffer wb = env->upload(w.device), ib = env->upload(ids), ob = env->device(want.size() * 4);
    env->ops.get_rows(env->cmds.begin(), type, wb, ib, ob, uint32_t(ids.size()), ne0, vocab);
    env->cmds.submit_and_wait();
    expect_close(env->download<float>(ob, want.size()), want, 0, 0, std::string("get_rows ") + type_name(type));
}

// The decode matvec (one column) on row counts that do not fill a workgroup's rows and on wide
// rows, in both kernels: "wide" (the default where subgroup arithmetic exists, with 2 rows per
// 64 threads and 3 rows per 128 threads) and "generic".
TEST_P(VkTyped, MatvecAwkwardShapesBothKernels) {
    LD_REQUIRE_VULKAN(env);
    const GgmlType type = GetParam();
    const std::unique_ptr<vk::Ops> generic_ops = ops_tuned(env->dev, [](Tuning& t) { t.vk_wide_matvec = false; });
    // 3 rows per workgroup of 128: other remainders
    const std::unique_ptr<vk::Ops> rows3_ops =
        ops_tuned(env->dev, [](Tuning& t) { t.vk_matvec_rows = 3, t.vk_matvec_threads = 128; });
    const vk::Ops &generic = *generic_ops, &rows3 = *rows3_ops;
    EXPECT_STREQ(generic.matvec_kind(), "generic");
    if (env->dev.info().subgroup_arithmetic) {
        EXPECT_STREQ(env->ops.matvec_kind(), "wide");
    }
    const int64_t bs = traits(type).block_size;
    std::vector<int> widths = {256, 4096 + 256};
    if (bs == 1) widths.insert(widths.end(), {64, 172, 44});  // 44: the f16 slot (8) does not divide it
    for (int ne0 : widths)
        for (int rows : {1, 7, 33, 300}) {
            if (ne0 > 1024 && rows > 33) continue;  // keeps lavapipe fast
            const TestWeight w = make_weight(type, rows, ne0, uint32_t(rows * 31 + ne0));
            for (int cols : {1, 2}) {
                const std::vector<float> x = random_floats(size_t(cols) * ne0, 17);
                const std::vector<float> want = reference_product(w, x, rows, ne0, cols);
                vk::Buffer wb = env->upload(w.device), xb = env->upload(x), yb = env->device(want.size() * 4);
                for (const vk::Ops* ops : {static_cast<const vk::Ops*>(&env->ops), static_cast<const vk::Ops*>(&generic),
                                           static_cast<const vk::Ops*>(&rows3)}) {
                    ops->matmul(env->cmds.begin(), type, wb, xb, yb, ne0, rows, cols);
                    env->cmds.submit_and_wait();
                    const Tol tol = product_tolerance(*ops, type, ne0, cols);
                    expect_close(env->download<float>(yb, want.size()), want, std::max(tol.abs, 2e-4), tol.rel,
                                 std::string("matvec ") + ops->matvec_kind() + " " + type_name(type) + " rows " +
                                     std::to_string(rows) + " ne0 " + std::to_string(ne0) + " cols " + std::to_string(cols));
                }
            }
        }
}

// The tensor-core batch matmul (where the device has VK_NV_cooperative_matrix with f16 16x16x16)
// against the CPU and against the tiled kernel: x goes through f16, so the bound is that of an
// f16 rounding (2^-11 relative) per product, summed: 2e-3 * sqrt(ne0) absolute plus 2e-3 relative.
TEST_P(VkTyped, CoopmatMatmulMatchesWithinF16) {
    LD_REQUIRE_VULKAN(env);
    const GgmlType type = GetParam();
    if (!env->dev.info().coopmat_f16) {
        EXPECT_STREQ(env->ops.matmul_kind(), "tiled");
        GTEST_SKIP() << env->dev.info().name << " has no f16 16x16x16 cooperative matrices";
    }
    if (traits(type).block_size == 1) GTEST_SKIP() << "float weights keep the f32 tiled kernel";
    // The 32-wide kernel; the default 128-wide one has its own test (test_vk_matmul_wide).
    const std::unique_ptr<vk::Ops> classic_ops = ops_tuned(env->dev, [](Tuning& t) { t.vk_matmul = Tuning::VkMatmul::classic; });
    const vk::Ops& classic = *classic_ops;
    EXPECT_STREQ(classic.matmul_kind(), "coopmat");
    const std::unique_ptr<vk::Ops> tiled_ops = ops_tuned(env->dev, [](Tuning& t) { t.vk_matmul = Tuning::VkMatmul::tiled; });
    const vk::Ops& tiled = *tiled_ops;
    EXPECT_STREQ(tiled.matmul_kind(), "tiled");
    for (int ne0 : {256, 4096 + 256})
        for (int rows : {1, 7, 33, 300})
            for (int cols : {2, 7, 64, 300}) {
                if (ne0 > 1024 && rows * cols > 2000) continue;
                const TestWeight w = make_weight(type, rows, ne0, uint32_t(rows + ne0 + cols));
                const std::vector<float> x = random_floats(size_t(cols) * ne0, 29);
                const std::vector<float> want = reference_product(w, x, rows, ne0, cols);
                vk::Buffer wb = env->upload(w.device), xb = env->upload(x), yb = env->device(want.size() * 4);
                const std::string what = std::string(type_name(type)) + " rows " + std::to_string(rows) + " ne0 " +
                                         std::to_string(ne0) + " cols " + std::to_string(cols);
                classic.matmul(env->cmds.begin(), type, wb, xb, yb, ne0, rows, cols);
                env->cmds.submit_and_wait();
                expect_close(env->download<float>(yb, want.size()), want, 2e-3 * std::sqrt(double(ne0)), 2e-3,
                             "coopmat " + what);
                tiled.matmul(env->cmds.begin(), type, wb, xb, yb, ne0, rows, cols);
                env->cmds.submit_and_wait();
                expect_close(env->download<float>(yb, want.size()), want, 2e-4, 1e-4, "tiled " + what);
            }
}

INSTANTIATE_TEST_SUITE_P(Types, VkTyped,
                         ::testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0,
                                           GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q4_K,
                                           GgmlType::Q5_K, GgmlType::Q6_K),
                         [](const auto& info) { return std::string(type_name(info.param)); });

TEST(VkOps, RmsNorm) {
    LD_REQUIRE_VULKAN(env);
    const int rows = 4, ne0 = 300;
    const std::vector<float> x = random_floats(size_t(rows) * ne0, 1, 3.0f), w = random_floats(ne0, 2);
    for (int first : {0, 3}) {
        std::vector<float> want(size_t(rows - first) * ne0);
        for (int r = first; r < rows; ++r)
            cpu::rmsnorm(want.data() + size_t(r - first) * ne0, x.data() + size_t(r) * ne0, w.data(), ne0, 1e-5f);
        vk::Buffer xb = env->upload(x), wb = env->upload(w), ob = env->device(want.size() * 4);
        env->ops.rmsnorm(env->cmds.begin(), xb, wb, ob, rows - first, ne0, 1e-5f, first);
        env->cmds.submit_and_wait();
        expect_close(env->download<float>(ob, want.size()), want, 1e-5, 1e-5, "rmsnorm first " + std::to_string(first));
    }
}

TEST(VkOps, AddRmsNormFusesTheResidual) {
    LD_REQUIRE_VULKAN(env);
    for (int ne0 : {300, 4096 + 256}) {
        const int rows = 3;
        const std::vector<float> x = random_floats(size_t(rows) * ne0, 21, 3.0f), o = random_floats(size_t(rows) * ne0, 22);
        const std::vector<float> w = random_floats(size_t(ne0), 23);
        std::vector<float> sum(x.size()), want(x.size());
        for (size_t i = 0; i < x.size(); ++i) sum[i] = x[i] + o[i];
        for (int r = 0; r < rows; ++r)
            cpu::rmsnorm(want.data() + size_t(r) * ne0, sum.data() + size_t(r) * ne0, w.data(), ne0, 1e-5f);
        vk::Buffer xb = env->upload(x), ob = env->upload(o), wb = env->upload(w), nb = env->device(x.size() * 4);
        env->ops.add_rmsnorm(env->cmds.begin(), xb, ob, wb, nb, rows, ne0, 1e-5f);
        env->cmds.submit_and_wait();
        expect_close(env->download<float>(xb, x.size()), sum, 0, 0, "add_rmsnorm sum " + std::to_string(ne0));
        expect_close(env->download<float>(nb, x.size()), want, 1e-5, 1e-5, "add_rmsnorm norm " + std::to_string(ne0));
    }
}

// cos and sin of each angle: interleaved as the kernels read them (cs) and apart for cpu::rope.
struct CosSin {
    std::vector<float> cs, c, s;
};
CosSin cos_sin(const std::vector<float>& angles) {
    CosSin r{std::vector<float>(angles.size() * 2), std::vector<float>(angles.size()), std::vector<float>(angles.size())};
    for (size_t i = 0; i < angles.size(); ++i) {
        r.c[i] = r.cs[2 * i] = std::cos(angles[i]);
        r.s[i] = r.cs[2 * i + 1] = std::sin(angles[i]);
    }
    return r;
}

// The K and V caches (ctx rows of kvd halves, gk and gv as read back) after `tokens` rows of k
// and v were stored at row pos: {got, want}, K and V values interleaved; want is zero outside
// the stored rows and the values rounded to f16 within them.
std::pair<std::vector<float>, std::vector<float>> stored_rows(const std::vector<fp16_t>& gk, const std::vector<fp16_t>& gv,
                                                              const std::vector<float>& k, const std::vector<float>& v,
                                                              int ctx, int kvd, int pos, int tokens) {
    std::vector<float> got, want;
    for (int p = 0; p < ctx; ++p)
        for (int i = 0; i < kvd; ++i) {
            const bool in = p >= pos && p < pos + tokens;
            const size_t src = size_t(p - pos) * kvd + i;
            got.push_back(fp16_to_fp32(gk[size_t(p) * kvd + i]));
            want.push_back(in ? fp16_to_fp32(fp32_to_fp16(k[src])) : 0.0f);
            got.push_back(fp16_to_fp32(gv[size_t(p) * kvd + i]));
            want.push_back(in ? fp16_to_fp32(fp32_to_fp16(v[src])) : 0.0f);
        }
    return {got, want};
}

// rope_store = rope(q) + rope(k) + kv_store, checked against those ops' CPU references.
TEST(VkOps, RopeStoreMatchesRopeThenStore) {
    LD_REQUIRE_VULKAN(env);
    const int tokens = 3, heads = 6, kv_heads = 2, head_dim = 16, pos = 4, ctx = 9;
    for (int rope_dim : {16, 8}) {
        const int nf = rope_dim / 2, qd = heads * head_dim, kvd = kv_heads * head_dim;
        const std::vector<float> q = random_floats(size_t(tokens) * qd, 24), k = random_floats(size_t(tokens) * kvd, 25),
                                 v = random_floats(size_t(tokens) * kvd, 26);
        const std::vector<float> angles = random_floats(size_t(tokens) * nf, 27, 10.0f);
        const auto [cs, c, s] = cos_sin(angles);
        std::vector<float> wq = q, wk = k;
        for (int t = 0; t < tokens; ++t) {
            cpu::rope(wq.data() + size_t(t) * qd, heads, head_dim, rope_dim, c.data() + t * nf, s.data() + t * nf);
            cpu::rope(wk.data() + size_t(t) * kvd, kv_heads, head_dim, rope_dim, c.data() + t * nf, s.data() + t * nf);
        }
        std::vector<fp16_t> zeros(size_t(ctx) * kvd, 0);
        vk::Buffer qb = env->upload(q), kb = env->upload(k), vb = env->upload(v), cb = env->upload(cs);
        vk::Buffer kc = env->upload(zeros), vc = env->upload(zeros);
        env->ops.rope_store(env->cmds.begin(), qb, kb, vb, cb, kc, vc, tokens, heads, kv_heads, head_dim, rope_dim, pos);
        env->cmds.submit_and_wait();
        expect_close(env->download<float>(qb, q.size()), wq, 1e-6, 1e-6, "rope_store q dims " + std::to_string(rope_dim));
        const std::vector<fp16_t> gk = env->download<fp16_t>(kc, zeros.size()), gv = env->download<fp16_t>(vc, zeros.size());
        const auto [got, want] = stored_rows(gk, gv, wk, v, ctx, kvd, pos, tokens);
        expect_close(got, want, 1e-6, 1e-3, "rope_store caches dims " + std::to_string(rope_dim));
    }
}

TEST(VkOps, RopeRotatesAdjacentPairs) {
    LD_REQUIRE_VULKAN(env);
    const int tokens = 3, heads = 5, head_dim = 12;
    for (int rope_dim : {12, 8}) {
        const int nf = rope_dim / 2;
        std::vector<float> x = random_floats(size_t(tokens) * heads * head_dim, 4);
        const std::vector<float> angles = random_floats(size_t(tokens) * nf, 5, 10.0f);
        const auto [cs, c, s] = cos_sin(angles);
        vk::Buffer xb = env->upload(x), cb = env->upload(cs);
        std::vector<float> want = x;
        for (int t = 0; t < tokens; ++t)
            cpu::rope(want.data() + size_t(t) * heads * head_dim, heads, head_dim, rope_dim, c.data() + t * nf, s.data() + t * nf);
        env->ops.rope(env->cmds.begin(), xb, cb, tokens, heads, head_dim, rope_dim);
        env->cmds.submit_and_wait();
        expect_close(env->download<float>(xb, x.size()), want, 1e-6, 1e-6, "rope dims " + std::to_string(rope_dim));
    }
}

TEST(VkOps, KvStoreWritesF16AtPos) {
    LD_REQUIRE_VULKAN(env);
    const int tokens = 3, kvd = 40, pos = 5, ctx = 10;
    const std::vector<float> k = random_floats(size_t(tokens) * kvd, 6), v = random_floats(size_t(tokens) * kvd, 7);
    std::vector<fp16_t> zeros(size_t(ctx) * kvd, 0);
    vk::Buffer kb = env->upload(k), vb = env->upload(v), kc = env->upload(zeros), vc = env->upload(zeros);
    env->ops.kv_store(env->cmds.begin(), kb, vb, kc, vc, tokens, kvd, pos);
    env->cmds.submit_and_wait();
    const std::vector<fp16_t> gk = env->download<fp16_t>(kc, zeros.size()), gv = env->download<fp16_t>(vc, zeros.size());
    const auto [got, want] = stored_rows(gk, gv, k, v, ctx, kvd, pos, tokens);
    expect_close(got, want, 0, 1e-3, "kv_store");  // 1e-3: a driver may round f16 differently
}

// Causal attention of one query row over n_kv rows of the f16 cache (stride floats apart), in
// double: the f32 CPU kernel itself rounds as much as the GPU at sharp scores and long contexts.
void attend_f64(const float* q, const fp16_t* k, const fp16_t* v, int stride, int n_kv, int head_dim, float scale,
                float* out) {
    std::vector<double> w(static_cast<size_t>(n_kv));
    double mx = -INFINITY, l = 0;
    for (int j = 0; j < n_kv; ++j) {
        double s = 0;
        for (int d = 0; d < head_dim; ++d) s += double(q[d]) * fp16_to_fp32(k[size_t(j) * stride + d]);
        w[size_t(j)] = s * scale;
        mx = std::max(mx, w[size_t(j)]);
    }
    for (double& x : w) l += x = std::exp(x - mx);
    for (int d = 0; d < head_dim; ++d) {
        double o = 0;
        for (int j = 0; j < n_kv; ++j) o += w[size_t(j)] * fp16_to_fp32(v[size_t(j) * stride + d]);
        out[d] = float(o / l);
    }
}

// Prompt attention (a batch of tokens, causal per token) against the CPU (in double). A workgroup takes a KV
// head's group of query heads (up to 16; 8 past head_dim 128, larger groups several workgroups)
// for a tile of consecutive tokens (16 / group of them), so the cases cover groups of 1, 3, 4,
// 5, 8, 12 and 16; 1, 5, 17 and 64+ tokens (partial token tiles; rows of one tile whose causal
// ends differ); pos 0 and a prompt continuing a cache (more than one 64-position tile, several
// past 8192 positions); head_dim 8, 40, 64, 128, 256 (16-byte keys), 20 (8-byte values), 7, 6
// and 130 (scalar loads, a partial vec4 of q). Sharp cases have scores spread over tens of units
// so that a wrong rescale shows. Rows past the last token hold NaN, as a rewound cache holds
// stale rows: they must not leak in.
TEST(VkOps, AttentionMatchesCpu) {
    LD_REQUIRE_VULKAN(env);
    struct Case { int heads, kv_heads, head_dim, tokens, pos; float k_scale; };
    std::vector<Case> cases;
    for (int head_dim : {8, 40, 128})
        for (int pos : {0, 70, 300}) cases.push_back({6, 2, head_dim, 5, pos, 2.0f});
    const Case more[] = {
        {4, 4, 64, 17, 0, 2.0f},     {4, 4, 128, 70, 130, 6.0f},  {4, 4, 128, 64, 0, 2.0f},    {2, 2, 7, 33, 61, 2.0f},
        {6, 2, 128, 64, 300, 2.0f},  {6, 2, 20, 17, 70, 2.0f},    {3, 1, 256, 19, 5, 6.0f},    {32, 8, 128, 130, 0, 2.0f},
        {8, 2, 128, 70, 300, 6.0f},  {8, 2, 64, 1, 500, 2.0f},    {8, 2, 128, 1, 9000, 6.0f},  {8, 2, 6, 5, 0, 2.0f},
        {16, 2, 128, 17, 100, 2.0f}, {8, 1, 256, 20, 50, 2.0f},   {16, 2, 130, 9, 64, 2.0f},   {16, 1, 128, 5, 70, 6.0f},
        {32, 2, 256, 9, 0, 2.0f},    {16, 1, 7, 33, 10, 2.0f},    {24, 2, 20, 10, 40, 2.0f},   {10, 2, 96, 23, 65, 2.0f},
        {4, 1, 128, 66, 8200, 6.0f},
    };
    cases.insert(cases.end(), std::begin(more), std::end(more));
    for (const Case& t : cases) {
        const int ctx = t.pos + t.tokens, rows = ctx + 70, kvd = t.kv_heads * t.head_dim, qd = t.heads * t.head_dim;
        const std::string what = "attention heads " + std::to_string(t.heads) + "/" + std::to_string(t.kv_heads) +
                                 " head_dim " + std::to_string(t.head_dim) + " tokens " + std::to_string(t.tokens) +
                                 " pos " + std::to_string(t.pos);
        const std::vector<float> q = random_floats(size_t(t.tokens) * qd, 8);
        const KvCache cache = random_kv_cache(ctx, rows, kvd, t.k_scale, 9);
        const std::vector<fp16_t>&kh = cache.k, &vh = cache.v;
        const float scale = 1.0f / std::sqrt(float(t.head_dim));
        std::vector<float> want(q.size());
        for (int tok = 0; tok < t.tokens; ++tok)
            for (int h = 0; h < t.heads; ++h) {
                const int g = h / (t.heads / t.kv_heads);
                const size_t at = size_t(tok) * qd + size_t(h) * t.head_dim;
                attend_f64(q.data() + at, kh.data() + size_t(g) * t.head_dim, vh.data() + size_t(g) * t.head_dim, kvd,
                           t.pos + tok + 1, t.head_dim, scale, want.data() + at);
            }
        vk::Buffer qb = env->upload(q), kb = env->upload(kh), vb = env->upload(vh), ob = env->device(q.size() * 4);
        env->ops.attention(env->cmds.begin(), qb, kb, vb, ob, t.tokens, t.heads, t.kv_heads, t.head_dim, t.pos, scale);
        env->cmds.submit_and_wait();
        expect_close(env->download<float>(ob, q.size()), want, 1e-5, 1e-4, what);
    }
}

// Decode attention split along the context (flash-decoding) against the CPU. A workgroup takes a
// KV head and all the query heads sharing it (up to 8; more take several workgroups), so the
// cases cover groups of 1, 3, 4, 6, 8 and 16 heads; head_dim 64, 128, 256 and 96 (16-byte keys,
// 8-byte values), 20 (8-byte values only), 6 and 7 (scalar loads, a partial vec4 of q); from one
// position (one chunk) to thousands (up to 128 chunks of one tile) and past 8192 (chunks of
// several tiles: the running max and sum carried across tiles). Sharp cases have scores spread
// over tens of units so that a wrong rescale shows. The cache has rows past the context filled
// with NaN, as a rewound cache holds stale rows: the kernel must not touch them.
TEST(VkOps, AttentionDecodeSplitMatchesCpu) {
    LD_REQUIRE_VULKAN(env);
    struct Case { int heads, kv_heads, head_dim, pos; float k_scale; };
    std::vector<Case> cases;
    for (int head_dim : {64, 128, 20, 6})
        for (int pos : {0, 1, 300, 5000})
            if (head_dim >= 64 || pos < 5000) cases.push_back({8, 2, head_dim, pos, 2.0f});
    const Case more[] = {
        {32, 8, 128, 0, 2.0f},   {32, 8, 128, 300, 2.0f},  {32, 8, 128, 5000, 2.0f}, {8, 2, 128, 17000, 6.0f},
        {8, 8, 64, 1, 2.0f},     {8, 8, 64, 5000, 2.0f},   {8, 8, 6, 300, 2.0f},     {16, 2, 128, 1, 2.0f},
        {16, 2, 128, 9000, 6.0f}, {16, 2, 20, 300, 2.0f},  {16, 2, 256, 700, 2.0f},  {32, 2, 64, 300, 2.0f},
        {32, 2, 64, 9000, 6.0f}, {12, 2, 20, 300, 2.0f},   {12, 2, 96, 5000, 2.0f},  {24, 8, 256, 1000, 6.0f},
        {8, 2, 7, 130, 2.0f},    {4, 4, 64, 8300, 6.0f},
    };
    cases.insert(cases.end(), std::begin(more), std::end(more));
    for (const Case& t : cases) {
        const int ctx = t.pos + 1, rows = ctx + 70, kvd = t.kv_heads * t.head_dim, qd = t.heads * t.head_dim;
        const std::string what = "split attention heads " + std::to_string(t.heads) + "/" + std::to_string(t.kv_heads) +
                                 " head_dim " + std::to_string(t.head_dim) + " pos " + std::to_string(t.pos);
        const std::vector<float> q = random_floats(size_t(qd), 18);
        const KvCache cache = random_kv_cache(ctx, rows, kvd, t.k_scale, 19);
        const std::vector<fp16_t>&kh = cache.k, &vh = cache.v;
        const float scale = 1.0f / std::sqrt(float(t.head_dim));
        std::vector<float> want(q.size()), scores(static_cast<size_t>(ctx), 0.0f);
        for (int h = 0; h < t.heads; ++h) {
            const int g = h / (t.heads / t.kv_heads);
            cpu::attend_f16(cpu::kv_kernels_scalar(), q.data() + size_t(h) * t.head_dim, kh.data() + size_t(g) * t.head_dim,
                            vh.data() + size_t(g) * t.head_dim, kvd, ctx, t.head_dim, scale, scores.data(),
                            want.data() + size_t(h) * t.head_dim);
        }
        vk::Buffer qb = env->upload(q), kb = env->upload(kh), vb = env->upload(vh), ob = env->device(q.size() * 4);
        vk::Buffer scratch = env->device(vk::Ops::attention_scratch_bytes(t.heads, t.head_dim));
        env->ops.attention_decode(env->cmds.begin(), qb, kb, vb, ob, scratch, t.heads, t.kv_heads, t.head_dim, t.pos, scale);
        env->cmds.submit_and_wait();
        expect_close(env->download<float>(ob, q.size()), want, 1e-5, 1e-4, what);
    }
}

TEST(VkOps, SwigluAndAdd) {
    LD_REQUIRE_VULKAN(env);
    const int n = 1003;
    const std::vector<float> g = random_floats(n, 12, 3.0f), u = random_floats(n, 13);
    std::vector<float> want = g;
    cpu::silu_mul(want.data(), u.data(), n);
    vk::Buffer gb = env->upload(g), ub = env->upload(u);
    env->ops.swiglu(env->cmds.begin(), gb, ub, n);
    env->cmds.submit_and_wait();
    expect_close(env->download<float>(gb, n), want, 1e-6, 1e-5, "swiglu");

    std::vector<float> sum(n);
    for (int i = 0; i < n; ++i) sum[i] = g[i] + u[i];
    vk::Buffer ab = env->upload(g);
    env->ops.add(env->cmds.begin(), ab, ub, n);
    env->cmds.submit_and_wait();
    expect_close(env->download<float>(ab, n), sum, 0, 0, "add");
}

TEST(VkOps, DispatchChecksPushConstantSize) {
    LD_REQUIRE_VULKAN(env);
    vk::Program prog(env->dev, "add", 2, 4);
    vk::Buffer a = env->device(16), b = env->device(16);
    const uint64_t wrong = 0;
    VkCommandBuffer cmd = env->cmds.begin();
    EXPECT_THROW(vk::dispatch(env->dev, cmd, prog, {a, b}, wrong, 1), Error);
    EXPECT_THROW(vk::dispatch(env->dev, cmd, prog, {a}, uint32_t(4), 1), Error);
    env->cmds.submit_and_wait();
}

}  // namespace
}  // namespace ld::test
