// The decode matvec variants of Tuning::cuda_mv_variant (kernels.h kMvGateUp4, kMvQ6Lean), off by
// default until measured on a GPU. Each is the default kernel template with another rows-per-warp
// or another load of the same values, so at the same split-K every output must be the default
// kernel's bit for bit (test_cuda_ops checks the default against the CPU); at the split the
// variant picks for itself it is checked against the CPU reference here. Small shapes with the
// structure of the 8B ones (odd row counts that leave 4-row warps and 16-row blocks partly used,
// rows long enough for the unrolled loop and its tail): a few seconds under the emulator.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "inference/quant/quant.h"

namespace ld::test {
namespace {

constexpr int kLean = 2;  // kernels.h kMvQ6Lean (1: kMvGateUp4); 3 = both

struct Weight {
    std::vector<uint8_t> bytes;
    std::vector<float> values;  // what the bytes decode to
};
Weight random_weight(GgmlType type, int rows, int ne0, uint32_t seed) {
    const std::vector<float> src = random_floats(size_t(rows) * size_t(ne0), seed);
    const size_t rb = row_size(type, ne0);
    Weight w;
    w.bytes.resize(rb * size_t(rows));
    w.values.resize(src.size());
    for (int r = 0; r < rows; ++r) {
        quantize_row(type, src.data() + size_t(r) * ne0, w.bytes.data() + rb * size_t(r), ne0);
        dequantize_row(type, w.bytes.data() + rb * size_t(r), w.values.data() + size_t(r) * ne0, ne0);
    }
    return w;
}

// W x in double and its bound: 2e-5 of sum |w x| (f32 sums in any order) plus the int8
// activation's rounding, at most sum |w| * max|x of the group| / 254.
void product(const Weight& w, const std::vector<float>& x, int rows, int ne0, std::vector<double>* y,
             std::vector<double>* tol) {
    y->assign(size_t(rows), 0.0);
    tol->assign(size_t(rows), 0.0);
    std::vector<double> step(static_cast<size_t>(ne0));
    for (int g = 0; g < ne0 / 32; ++g) {
        double amax = 0;
        for (int k = 32 * g; k < 32 * g + 32; ++k) amax = std::max(amax, double(std::abs(x[size_t(k)])));
        for (int k = 32 * g; k < 32 * g + 32; ++k) step[size_t(k)] = amax / 254 * 1.001;
    }
    for (int r = 0; r < rows; ++r) {
        double s = 0, l1 = 0, q8 = 0;
        for (int i = 0; i < ne0; ++i) {
            const double wv = w.values[size_t(r) * ne0 + i], p = wv * x[size_t(i)];
            s += p;
            l1 += std::abs(p);
            q8 += std::abs(wv) * step[size_t(i)];
        }
        (*y)[size_t(r)] = s;
        (*tol)[size_t(r)] = 2e-5 * l1 + q8 + 1e-5;
    }
}

// Bit for bit: the variants sum the same chunks in the same order.
void expect_identical(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    int bad = 0;
    for (size_t i = 0; i < got.size(); ++i)
        if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0 && ++bad <= 5)
            ADD_FAILURE() << what << ": [" << i << "] " << got[i] << " vs the default kernel's " << want[i];
    EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " outputs differ from the default kernel";
}

// Test ops with the environment's tuning but this variant and split (0 = from the shape).
std::unique_ptr<cuda::OpsForTest> ops_with(int variant, int split) {
    Tuning t = Tuning::from_env();
    t.cuda_mv_variant = variant;
    t.cuda_mv_split = split;
    return cuda_ops_for_test(t);
}

// Regrouped Q4_0 / Q8_0 / Q6_K rows need a multiple of 8 blocks; K-quants a multiple of 256.
// The widths make split 1 run the unrolled loop (2 chunks per step) and then its tail.
int width_for(GgmlType t) { return t == GgmlType::Q6_K ? 6144 : 3 * 1024; }

std::string name(GgmlType t, int split) {
    return std::string(type_name(t)) + " split " + (split ? std::to_string(split) : std::string("auto"));
}

// Gate/up, 4 rows a warp (and Q6_K's lean loads where the type is Q6_K): 37 rows leave the last
// warp one row and the last 16-row block 5.
TEST(CudaMatvecVariants, GateUpFourRowsEqualsDefault) {
    LD_REQUIRE_CUDA(base);
    (void)base;
    const int rows = 37;
    for (GgmlType type : {GgmlType::Q4_K, GgmlType::Q4_0, GgmlType::Q6_K, GgmlType::Q5_K, GgmlType::Q8_0,
                          GgmlType::Q4_1}) {
        const int ne0 = type == GgmlType::Q6_K ? 2048 : width_for(type);
        const Weight g = random_weight(type, rows, ne0, 11), u = random_weight(type, rows, ne0, 12);
        const std::vector<float> x = random_floats(size_t(ne0), 13, 0.2f);
        // The 8B shapes' types at every split, the others at one (a forced split: the variant's
        // own choice counts 4-row warps, so it may differ from the default kernel's).
        const bool all = type == GgmlType::Q4_K || type == GgmlType::Q4_0;
        for (int split : all ? std::vector<int>{1, 2, 4} : std::vector<int>{2}) {
            const std::vector<float> want = ops_with(0, split)->matvec_swiglu(type, ne0, rows, g.bytes.data(), u.bytes.data(), x);
            const std::vector<float> got = ops_with(3, split)->matvec_swiglu(type, ne0, rows, g.bytes.data(), u.bytes.data(), x);
            expect_identical(got, want, "gate/up " + name(type, split));
        }
        // The split the variant picks for itself (4 rows a warp: fewer warps, so split-K sooner),
        // against the CPU.
        const std::vector<float> got = ops_with(3, 0)->matvec_swiglu(type, ne0, rows, g.bytes.data(), u.bytes.data(), x);
        std::vector<double> gv, gt, uv, ut;
        product(g, x, rows, ne0, &gv, &gt);
        product(u, x, rows, ne0, &uv, &ut);
        std::vector<float> want(static_cast<size_t>(rows));
        std::vector<double> tol(static_cast<size_t>(rows));
        for (size_t r = 0; r < want.size(); ++r) {
            const double sg = gv[r] / (1.0 + std::exp(-gv[r]));
            want[r] = float(sg * uv[r]);
            tol[r] = 1.1 * (std::abs(uv[r]) + ut[r]) * gt[r] + std::abs(sg) * ut[r] + 1e-5;
        }
        expect_close(got, want, 0, 0, "gate/up 4 rows a warp vs CPU " + name(type, 0), &tol);
    }
}

// Q6_K's lean loads in the other modes an 8B Q4_K_M step runs them in: the output and down
// matvecs (y = W x, y += W x) and a q/k/v launch with RoPE (layers with a Q6_K v).
TEST(CudaMatvecVariants, Q6KLeanLoadsEqualDefault) {
    LD_REQUIRE_CUDA(base);
    (void)base;
    const GgmlType type = GgmlType::Q6_K;
    const int ne0 = width_for(type), rows = 13;  // 24 blocks a row: the unrolled loop and its tail at split 1
    const Weight w = random_weight(type, rows, ne0, 21);
    const std::vector<float> x = random_floats(size_t(ne0), 22), y0 = random_floats(size_t(rows), 23, 3.0f);
    for (int split : {1, 2, 4, 0}) {
        const std::unique_ptr<cuda::OpsForTest> off = ops_with(0, split), on = ops_with(kLean, split);
        for (bool acc : {false, true})
            expect_identical(on->matmul(type, ne0, rows, w.bytes.data(), x, 1, acc, y0),
                             off->matmul(type, ne0, rows, w.bytes.data(), x, 1, acc, y0),
                             std::string(acc ? "y += W x " : "y = W x ") + name(type, split));
    }
    std::vector<double> want, tol;
    product(w, x, rows, ne0, &want, &tol);
    expect_close(ops_with(kLean, 0)->matmul(type, ne0, rows, w.bytes.data(), x, 1, false, {}),
                 std::vector<float>(want.begin(), want.end()), 0, 0, "Q6_K lean vs CPU", &tol);

    const int q6 = 2048, nh = 4, nkv = 2, hd = 64;
    const Weight wq = random_weight(type, nh * hd, q6, 31), wk = random_weight(type, nkv * hd, q6, 32),
                 wv = random_weight(type, nkv * hd, q6, 33);
    const std::vector<float> xq = random_floats(size_t(q6), 34);
    std::vector<float> inv(hd / 2);
    for (int i = 0; i < hd / 2; ++i) inv[size_t(i)] = std::pow(500000.0f, -2.0f * float(i) / float(hd));
    expect_identical(ops_with(kLean, 0)->qkv_rope(type, q6, wq.bytes.data(), wk.bytes.data(), wv.bytes.data(), xq, nh, nkv,
                                                  hd, hd, inv, 77),
                     ops_with(0, 0)->qkv_rope(type, q6, wq.bytes.data(), wk.bytes.data(), wv.bytes.data(), xq, nh, nkv,
                                              hd, hd, inv, 77),
                     "q/k/v + RoPE Q6_K lean");
}

// With the int8 epilogues (Tuning::cuda_fused_q8's MvFuse): the 4-row gate/up blocks hold 16, 8
// or 4 rows (split 1, 2, 4), so a group of 32 is finished by 2, 4 or 8 blocks; the chain's every
// stage must be the default kernels' bit for bit.
TEST(CudaMatvecVariants, FusedEpiloguesWithFourRowsEqualDefault) {
    LD_REQUIRE_CUDA(base);
    (void)base;
    const GgmlType type = GgmlType::Q4_K;
    const int dim = 256, ffn = 768, n_out = 45;
    const Weight wo = random_weight(type, dim, dim, 41), wg = random_weight(type, ffn, dim, 42),
                 wu = random_weight(type, ffn, dim, 43), wd = random_weight(type, dim, ffn, 44),
                 wout = random_weight(type, n_out, dim, 45);
    const std::vector<float> x0 = random_floats(size_t(dim), 46, 2.0f), att = random_floats(size_t(dim), 47),
                             w1 = random_floats(size_t(dim), 48), w2 = random_floats(size_t(dim), 49);
    for (int split : {1, 4}) {  // 16-row blocks (2 finish a group) and 4-row blocks (8 do)
        auto chain = [&](int variant) {
            return ops_with(variant, split)->fused_chain(type, dim, ffn, n_out, wo.bytes.data(), wg.bytes.data(),
                                                         wu.bytes.data(), wd.bytes.data(), wout.bytes.data(), x0, att,
                                                         w1, w2, 1e-5f);
        };
        expect_identical(chain(3), chain(0), "fused chain " + name(type, split));
    }
}

}  // namespace
}  // namespace ld::test
