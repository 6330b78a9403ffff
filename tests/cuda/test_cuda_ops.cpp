// Every CUDA kernel against the CPU reference (inference/cpu/ops.h, inference/quant/quant.h) on
// random inputs of awkward sizes: rows not a multiple of the rows per block, row widths that
// leave lanes idle, 1 / 7 / 64 / 300 tokens, several dequantized tiles per matrix.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <string>

#include "cuda_test_util.h"
#include "inference/cpu/ops.h"
#include "inference/quant/quant.h"

namespace ld::test {
namespace {

// Random weights of `type` (rows x ne0): GGUF bytes and their exact values.
struct TestWeight {
    std::vector<uint8_t> bytes;
    std::vector<float> values;
};
TestWeight make_weight(GgmlType type, int rows, int ne0, uint32_t seed) {
    TestWeight w;
    const std::vector<float> src = random_floats(static_cast<size_t>(rows) * ne0, seed);
    const size_t rb = row_size(type, ne0);
    w.bytes.resize(rb * static_cast<size_t>(rows));
    w.values.resize(src.size());
    for (int r = 0; r < rows; ++r) {
        quantize_row(type, src.data() + size_t(r) * ne0, w.bytes.data() + rb * size_t(r), ne0);
        dequantize_row(type, w.bytes.data() + rb * size_t(r), w.values.data() + size_t(r) * ne0, ne0);
    }
    return w;
}

// want (cols, rows) and the per-element tolerance tol_rel * sum_k |w_k x_k| (+ a floor), a bound
// that holds for any summation order and for f16 rounding of either factor. int8_x: x is
// quantized per 32 values (scale max / 127) before the product, which adds at most
// sum_k |w_k| * max|x of k's group| / 254.
void reference_product(const TestWeight& w, const std::vector<float>& x, int rows, int ne0, int cols, double tol_rel,
                       std::vector<float>* want, std::vector<double>* tol, bool int8_x = false) {
    want->assign(static_cast<size_t>(cols) * rows, 0.0f);
    tol->assign(want->size(), 0.0);
    std::vector<double> step(static_cast<size_t>(ne0), 0.0);
    for (int c = 0; c < cols; ++c) {
        if (int8_x)
            for (int g = 0; g * 32 < ne0; ++g) {
                double amax = 0;
                for (int k = g * 32; k < std::min(ne0, g * 32 + 32); ++k) amax = std::max(amax, double(std::abs(x[size_t(c) * ne0 + k])));
                for (int k = g * 32; k < std::min(ne0, g * 32 + 32); ++k) step[size_t(k)] = amax / 254 * 1.001;
            }
        for (int r = 0; r < rows; ++r) {
            double s = 0, l1 = 0, q8 = 0;
            for (int i = 0; i < ne0; ++i) {
                const double wv = w.values[size_t(r) * ne0 + i];
                const double p = wv * x[size_t(c) * ne0 + i];
                s += p;
                l1 += std::abs(p);
                q8 += std::abs(wv) * step[size_t(i)];
            }
            (*want)[size_t(c) * rows + r] = float(s);
            (*tol)[size_t(c) * rows + r] = tol_rel * l1 + q8 + 1e-5;
        }
    }
}

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                           GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

int width_for(GgmlType type) {
    const int bs = traits(type).block_size;
    return bs == 256 ? 768 : bs > 1 ? 160 : 200;  // 160, 200: lanes left idle in the last pass
}
// Widths to test: the awkward one above and, for Q4_0 / Q8_0 / Q6_K, one of a multiple of 8
// blocks (regrouped on the device: 1280 = 40 blocks of 32, 2048 = 8 blocks of 256).
std::vector<int> widths_for(GgmlType type) {
    const int bs = traits(type).block_size;
    if (type == GgmlType::F32 || type == GgmlType::F16) return {width_for(type), 172, 66};
    return {width_for(type), bs == 256 ? 2048 : 1280};
}

// How far each path may be from the exact product, relative to sum |w x|: the matvec is f32
// throughout; the prompt path rounds activations (and dequantized weights) to f16, except for
// F32 (cublasSgemm) and F16 weights (activations split in hi + lo halves).
//
// One token (cols 1) of Q4_0, Q8_0, Q6_K rows of a multiple of 8 blocks (regrouped on the
// device) and of Q4_1, Q4_K, Q5_K runs on int8 activations: f32 sums, plus reference_product's
// int8 bound.
bool int8_path(GgmlType type, int ne0) {
    const int bs = traits(type).block_size;
    switch (type) {
    case GgmlType::Q4_1: case GgmlType::Q4_K: case GgmlType::Q5_K: return true;
    case GgmlType::Q4_0: case GgmlType::Q8_0: case GgmlType::Q6_K: return ne0 % (8 * bs) == 0;
    default: return false;
    }
}

// Steps of 2 .. Tuning::cuda_small_batch tokens (the ops' tuning, from the environment) take the
// small-batch kernel on int8 activations for the same types and widths as one token.
bool small_batch_int8(GgmlType type, int ne0, int cols) {
    return cols >= 2 && cols <= Tuning::from_env().cuda_small_batch && int8_path(type, ne0);
}
bool int8_cols(GgmlType type, int ne0, int cols) {
    return (cols == 1 && int8_path(type, ne0)) || small_batch_int8(type, ne0, cols);
}

double tolerance(GgmlType type, int cols, int ne0) {
    if (cols == 1 || type == GgmlType::F32 || small_batch_int8(type, ne0, cols)) return 2e-5;
    if (type == GgmlType::F16) return 5e-5;
    return 2.5e-3;
}

class CudaTyped : public ::testing::TestWithParam<GgmlType> {};

TEST_P(CudaTyped, MatmulMatchesDequantizedDot) {
    LD_REQUIRE_CUDA(ops);
    const GgmlType type = GetParam();
    // 172 = stories260K's ffn: not a multiple of 8, the one-element-per-lane kernels.
    for (int ne0 : widths_for(type))
    for (int rows : {37, 300}) {
        const TestWeight w = make_weight(type, rows, ne0, 7);
        for (int cols : {1, 7, 64, 300}) {
            const std::vector<float> x = random_floats(size_t(cols) * ne0, 11 + cols);
            std::vector<float> want;
            std::vector<double> tol;
            reference_product(w, x, rows, ne0, cols, tolerance(type, cols, ne0), &want, &tol,
                              int8_cols(type, ne0, cols));
            const std::vector<float> got = ops->matmul(type, ne0, rows, w.bytes.data(), x, cols, false, {});
            expect_close(got, want, 0, 0,
                         std::string("matmul ") + type_name(type) + " ne0 " + std::to_string(ne0) + " rows " +
                             std::to_string(rows) + " cols " + std::to_string(cols),
                         &tol);
        }
    }
}

// y += W x: the residual add fused into the output projections.
TEST_P(CudaTyped, MatmulAccumulates) {
    LD_REQUIRE_CUDA(ops);
    const GgmlType type = GetParam();
    const int ne0 = widths_for(type).back(), rows = 45;
    const TestWeight w = make_weight(type, rows, ne0, 21);
    for (int cols : {1, 9}) {
        const std::vector<float> x = random_floats(size_t(cols) * ne0, 5);
        const std::vector<float> y0 = random_floats(size_t(cols) * rows, 6, 3.0f);
        std::vector<float> want;
        std::vector<double> tol;
        reference_product(w, x, rows, ne0, cols, tolerance(type, cols, ne0), &want, &tol, int8_cols(type, ne0, cols));
        for (size_t i = 0; i < want.size(); ++i) {
            want[i] += y0[i];
            tol[i] += 1e-6 * std::abs(y0[i]);
        }
        expect_close(ops->matmul(type, ne0, rows, w.bytes.data(), x, cols, true, y0), want, 0, 0,
                     std::string("accumulate ") + type_name(type) + " cols " + std::to_string(cols), &tol);
    }
}

// silu(g x) * (u x) for one token and its tolerance.
void swiglu_reference(const TestWeight& g, const TestWeight& u, const std::vector<float>& x, int rows, int ne0, bool q8,
                      std::vector<float>* want, std::vector<double>* tol) {
    std::vector<float> uw;
    std::vector<double> gt, ut;
    reference_product(g, x, rows, ne0, 1, 2e-5, want, &gt, q8);
    reference_product(u, x, rows, ne0, 1, 2e-5, &uw, &ut, q8);
    // silu(g) * u moves by at most ~1.1 |u| per unit of g and |silu(g)| per unit of u.
    tol->assign(static_cast<size_t>(rows), 0.0);
    for (size_t r = 0; r < tol->size(); ++r) {
        const double sg = (*want)[r] / (1.0 + std::exp(-double((*want)[r])));
        (*tol)[r] = 1.1 * (std::abs(double(uw[r])) + ut[r]) * gt[r] + std::abs(sg) * ut[r] + 1e-5;
    }
    cpu::silu_mul(want->data(), uw.data(), rows);
}

TEST_P(CudaTyped, FusedGateUpMatchesCpu) {
    LD_REQUIRE_CUDA(ops);
    const GgmlType type = GetParam();
    const bool any_width = type == GgmlType::F32 || type == GgmlType::F16;
    for (int ne0 : any_width ? std::vector<int>{width_for(type), 172} : widths_for(type)) {
    const int rows = 43;
    const TestWeight g = make_weight(type, rows, ne0, 31), u = make_weight(type, rows, ne0, 32);
    const std::vector<float> x = random_floats(size_t(ne0), 33, 0.2f);
    std::vector<float> gw;
    std::vector<double> tol;
    swiglu_reference(g, u, x, rows, ne0, int8_path(type, ne0), &gw, &tol);
    expect_close(ops->matvec_swiglu(type, ne0, rows, g.bytes.data(), u.bytes.data(), x), gw, 0, 0,
                 std::string("gate/up ") + type_name(type) + " ne0 " + std::to_string(ne0), &tol);
    }
}

TEST_P(CudaTyped, GetRowsDequantizesExactly) {
    LD_REQUIRE_CUDA(ops);
    const GgmlType type = GetParam();
    const bool any_width = type == GgmlType::F32 || type == GgmlType::F16;
    for (int ne0 : any_width ? std::vector<int>{width_for(type), 172} : widths_for(type)) {
    const int rows = 53;
    const TestWeight w = make_weight(type, rows, ne0, 41);
    const std::vector<int32_t> ids = {0, 52, 7, 7, 31, 1};
    std::vector<float> want;
    for (int32_t id : ids)
        want.insert(want.end(), w.values.begin() + long(size_t(id) * ne0), w.values.begin() + long(size_t(id + 1) * ne0));
    expect_close(ops->get_rows(type, ne0, rows, w.bytes.data(), ids), want, 1e-6, 1e-6,
                 std::string("get_rows ") + type_name(type) + " ne0 " + std::to_string(ne0));
    }
}

std::vector<float> inv_freqs(int rope_dim, float theta);

// The decode q/k/v matvec with RoPE and the f16 KV store in its epilogue, against the CPU's
// dot products, rope and f16 rounding (types and widths on int8 activations only).
TEST_P(CudaTyped, QkvWithRopeMatchesCpu) {
    LD_REQUIRE_CUDA(ops);
    const GgmlType type = GetParam();
    const int ne0 = widths_for(type).back();
    if (!int8_path(type, ne0)) GTEST_SKIP() << type_name(type) << " decodes on f32 activations (separate RoPE kernel)";
    const int nh = 4, nkv = 2, hd = 64;
    const TestWeight wq = make_weight(type, nh * hd, ne0, 51), wk = make_weight(type, nkv * hd, ne0, 52),
                     wv = make_weight(type, nkv * hd, ne0, 53);
    const std::vector<float> x = random_floats(size_t(ne0), 54);
    for (int rope_dim : {hd, hd / 2})
        for (int pos : {0, 5000}) {
            const std::vector<float> inv = inv_freqs(rope_dim, 500000.0f);
            std::vector<float> q, k, v;
            std::vector<double> tq, tk, tv;
            reference_product(wq, x, nh * hd, ne0, 1, 2e-5, &q, &tq, true);
            reference_product(wk, x, nkv * hd, ne0, 1, 2e-5, &k, &tk, true);
            reference_product(wv, x, nkv * hd, ne0, 1, 2e-5, &v, &tv, true);
            std::vector<float> cs(inv.size()), sn(inv.size());
            for (size_t i = 0; i < inv.size(); ++i) {
                cs[i] = std::cos(float(pos) * inv[i]);
                sn[i] = std::sin(float(pos) * inv[i]);
            }
            cpu::rope(q.data(), nh, hd, rope_dim, cs.data(), sn.data());
            cpu::rope(k.data(), nkv, hd, rope_dim, cs.data(), sn.data());
            // A rotated pair mixes two products: each error bound counted for both.
            auto pair_tol = [](std::vector<double>* t, const std::vector<float>& val, double f16) {
                for (size_t i = 0; i + 1 < t->size(); i += 2) {
                    const double b = (*t)[i] + (*t)[i + 1] + 2e-5;
                    (*t)[i] = b + f16 * std::abs(val[i]);
                    (*t)[i + 1] = b + f16 * std::abs(val[i + 1]);
                }
            };
            pair_tol(&tq, q, 0);
            pair_tol(&tk, k, 1e-3);
            pair_tol(&tv, v, 1e-3);
            const std::vector<float> got = ops->qkv_rope(type, ne0, wq.bytes.data(), wk.bytes.data(), wv.bytes.data(), x, nh,
                                                         nkv, hd, rope_dim, inv, pos);
            const std::string what = std::string("qkv_rope ") + type_name(type) + " rope_dim " + std::to_string(rope_dim) +
                                     " pos " + std::to_string(pos);
            ASSERT_EQ(got.size(), q.size() + k.size() + v.size()) << what;
            expect_close(std::vector<float>(got.begin(), got.begin() + long(q.size())), q, 0, 0, what + " q", &tq);
            expect_close(std::vector<float>(got.begin() + long(q.size()), got.begin() + long(q.size() + k.size())), k, 0, 0,
                         what + " k cache", &tk);
            expect_close(std::vector<float>(got.begin() + long(q.size() + k.size()), got.end()), v, 0, 0, what + " v cache",
                         &tv);
        }
}

// Columns of got (cols, rows) that are not bit for bit the one-token matvec of that column alone
// (one(j): its rows values), the first few printed. The small-batch kernel sums each column in
// the one-token kernel's order, so a sequence's logits do not depend on who shares its step.
void expect_columns_exact(const std::vector<float>& got, int cols, int rows,
                          const std::function<std::vector<float>(int)>& one, const std::string& what) {
    ASSERT_EQ(got.size(), size_t(cols) * size_t(rows)) << what;
    int bad = 0;
    for (int j = 0; j < cols; ++j) {
        const std::vector<float> alone = one(j);
        ASSERT_EQ(alone.size(), size_t(rows)) << what;
        for (int r = 0; r < rows; ++r) {
            const float a = got[size_t(j) * rows + r], b = alone[size_t(r)];
            if (std::memcmp(&a, &b, sizeof a) != 0 && ++bad <= 5)
                ADD_FAILURE() << what << ": column " << j << " row " << r << " is " << a << " in the batch, " << b
                              << " alone";
        }
    }
    EXPECT_EQ(bad, 0) << what << ": values that differ from the one-token matvec";
}

// Steps of 2 to 16 tokens (sequences decoding together, a speculative verification): the
// small-batch int8 kernel (matvec_batch.cu) for the types and widths of the int8 decode matvec,
// B = 2, 3, 5 (the next size up, columns left idle), 8 and 16; the prompt path (f16 + cuBLAS) for
// the other types. Store, the fused residual add and the fused gate/up; columns bit for bit the
// one-token result, also where lanes take two chunks a step. Few rows and short rows, since the
// emulated CI run pays for every launch (about 10 s, and as much again in run_emulated.sh's pass
// with split-K forced to 4).
TEST_P(CudaTyped, MatmulSmallBatchMatchesCpu) {
    LD_REQUIRE_CUDA(ops);
    const GgmlType type = GetParam();
    const int bs = traits(type).block_size;
    const int ne0 = type == GgmlType::Q6_K ? 2048 : bs == 256 ? 512 : 256;  // Q6_K: regrouped from 8 blocks
    const int rows = type == GgmlType::Q6_K ? 13 : 37;  // partial blocks of rows (8 a block, 4 with split-K 2)
    const TestWeight w = make_weight(type, rows, ne0, 61);
    const std::string name = std::string(type_name(type)) + " ne0 " + std::to_string(ne0);
    for (int B : {2, 3, 5, 8, 16}) {
        const std::vector<float> x = random_floats(size_t(B) * ne0, 62 + uint32_t(B));
        std::vector<float> want;
        std::vector<double> tol;
        reference_product(w, x, rows, ne0, B, tolerance(type, B, ne0), &want, &tol, int8_cols(type, ne0, B));
        const std::vector<float> got = ops->matmul(type, ne0, rows, w.bytes.data(), x, B, false, {});
        const std::string what = "small batch " + name + " B " + std::to_string(B);
        expect_close(got, want, 0, 0, what, &tol);
        if (small_batch_int8(type, ne0, B) && (B == 3 || B == 16))  // a partly used and a full kernel
            expect_columns_exact(got, B, rows, [&](int j) {
                const std::vector<float> xj(x.begin() + long(size_t(j) * ne0), x.begin() + long(size_t(j + 1) * ne0));
                return ops->matmul(type, ne0, rows, w.bytes.data(), xj, 1, false, {});
            }, what);
    }
    if (int8_path(type, ne0) && small_batch_int8(type, ne0, 16) && Tuning::from_env().cuda_mv_split == 0) {
        // Rows wide enough that lanes take two chunks per step (the unrolled loop; the widths
        // above fit in one step), with split-K off as at 8B's widest matrices: a second ops
        // object whose tuning forces it (the one-token reference uses the same split). Once:
        // run_emulated.sh's forced-split pass would repeat it unchanged.
        Tuning one_warp = Tuning::from_env();
        one_warp.cuda_mv_split = 1;
        const std::unique_ptr<cuda::OpsForTest> ops1 = cuda_ops_for_test(one_warp);
        const int wide = type == GgmlType::Q6_K ? 2048 : bs == 256 ? 1536 : 1280, few = 9;
        const TestWeight ww = make_weight(type, few, wide, 75);
        for (int B : {3, 16}) {
            const std::vector<float> x = random_floats(size_t(B) * wide, 76 + uint32_t(B));
            std::vector<float> want;
            std::vector<double> tol;
            reference_product(ww, x, few, wide, B, 2e-5, &want, &tol, true);
            const std::vector<float> got = ops1->matmul(type, wide, few, ww.bytes.data(), x, B, false, {});
            const std::string what = "small batch " + std::string(type_name(type)) + " ne0 " + std::to_string(wide) +
                                     " split 1 B " + std::to_string(B);
            expect_close(got, want, 0, 0, what, &tol);
            expect_columns_exact(got, B, few, [&](int j) {
                const std::vector<float> xj(x.begin() + long(size_t(j) * wide), x.begin() + long(size_t(j + 1) * wide));
                return ops1->matmul(type, wide, few, ww.bytes.data(), xj, 1, false, {});
            }, what);
        }
    }
    {
        const int B = 5;
        const std::vector<float> x = random_floats(size_t(B) * ne0, 71), y0 = random_floats(size_t(B) * rows, 72, 3.0f);
        std::vector<float> want;
        std::vector<double> tol;
        reference_product(w, x, rows, ne0, B, tolerance(type, B, ne0), &want, &tol, int8_cols(type, ne0, B));
        for (size_t i = 0; i < want.size(); ++i) {
            want[i] += y0[i];
            tol[i] += 1e-6 * std::abs(y0[i]);
        }
        expect_close(ops->matmul(type, ne0, rows, w.bytes.data(), x, B, true, y0), want, 0, 0,
                     "small batch accumulate " + name, &tol);
    }
    {
        const int B = 5;
        const TestWeight u = make_weight(type, rows, ne0, 73);
        const std::vector<float> x = random_floats(size_t(B) * ne0, 74, 0.2f);
        std::vector<float> gw, uw;
        std::vector<double> gt, ut;
        reference_product(w, x, rows, ne0, B, tolerance(type, B, ne0), &gw, &gt, int8_cols(type, ne0, B));
        reference_product(u, x, rows, ne0, B, tolerance(type, B, ne0), &uw, &ut, int8_cols(type, ne0, B));
        std::vector<double> tol(gw.size());
        for (size_t i = 0; i < tol.size(); ++i) {  // as FusedGateUpMatchesCpu
            const double sg = gw[i] / (1.0 + std::exp(-double(gw[i])));
            tol[i] = 1.1 * (std::abs(double(uw[i])) + ut[i]) * gt[i] + std::abs(sg) * ut[i] + 1e-5;
        }
        cpu::silu_mul(gw.data(), uw.data(), int(gw.size()));
        const std::vector<float> got = ops->matvec_swiglu(type, ne0, rows, w.bytes.data(), u.bytes.data(), x);
        const std::string what = "small batch gate/up " + name + " B " + std::to_string(B);
        expect_close(got, gw, 0, 0, what, &tol);
        if (small_batch_int8(type, ne0, B))
            expect_columns_exact(got, B, rows, [&](int j) {
                const std::vector<float> xj(x.begin() + long(size_t(j) * ne0), x.begin() + long(size_t(j + 1) * ne0));
                return ops->matvec_swiglu(type, ne0, rows, w.bytes.data(), u.bytes.data(), xj);
            }, what);
    }
}

// The small-batch kernel at Llama 3.1 8B's shapes (q/o 4096 x 4096, k/v 1024 rows: split-K 4,
// gate/up 14336 rows: no split, down 14336 wide), on the device only: the emulated run would take
// hours (its filter leaves CudaModelSizes out).
TEST(CudaModelSizes, SmallBatchMatchesCpu) {
    LD_REQUIRE_CUDA(ops);
    if (Tuning::from_env().cuda_small_batch < 16) GTEST_SKIP() << "LLAMADESK_CUDA_SMALL_BATCH turns the kernel off below 16";
    struct Case {
        GgmlType type;
        int ne0, rows;
    };
    const Case cases[] = {{GgmlType::Q4_0, 4096, 4096},  {GgmlType::Q4_K, 4096, 1024}, {GgmlType::Q6_K, 14336, 4096},
                          {GgmlType::Q8_0, 4096, 14336}, {GgmlType::Q5_K, 4096, 4096}, {GgmlType::Q4_1, 4096, 1024}};
    for (const Case& c : cases) {
        const TestWeight w = make_weight(c.type, c.rows, c.ne0, 81);
        for (int B : {2, 3, 5, 8, 16}) {
            ASSERT_TRUE(small_batch_int8(c.type, c.ne0, B)) << type_name(c.type);
            const std::vector<float> x = random_floats(size_t(B) * c.ne0, 82 + uint32_t(B));
            std::vector<float> want;
            std::vector<double> tol;
            reference_product(w, x, c.rows, c.ne0, B, 2e-5, &want, &tol, true);
            const std::vector<float> got = ops->matmul(c.type, c.ne0, c.rows, w.bytes.data(), x, B, false, {});
            const std::string what = std::string("small batch ") + type_name(c.type) + " " + std::to_string(c.rows) +
                                     " x " + std::to_string(c.ne0) + " B " + std::to_string(B);
            expect_close(got, want, 0, 0, what, &tol);
            if (B == 5 || B == 16)
                expect_columns_exact(got, B, c.rows, [&](int j) {
                    const std::vector<float> xj(x.begin() + long(size_t(j) * c.ne0), x.begin() + long(size_t(j + 1) * c.ne0));
                    return ops->matmul(c.type, c.ne0, c.rows, w.bytes.data(), xj, 1, false, {});
                }, what);
        }
    }
}

// x / rms(x) * w in double (the CPU's RMSNorm).
std::vector<float> rms_normed(const std::vector<float>& x, const std::vector<float>& w, float eps) {
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const float scale = float(1.0 / std::sqrt(ss / double(x.size()) + eps));
    std::vector<float> out(x.size());
    for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] * scale * w[i];
    return out;
}

// The decode step's fused int8 epilogues (Tuning::cuda_fused_q8): a residual add that quantizes
// the next RMSNorm's x * w and sums x^2, gate/up that scales by that norm and quantizes its
// SwiGLU output, down doing the same as wo, and the output matvec scaling its sums (the chain of
// OpsForTest::fused_chain). Each stage against the CPU from the previous stage's device output,
// so the bounds are the one-token matvec's; 24 groups of 32 rows for gate/up (16 blocks a group
// in run_emulated.sh's split-K 4 pass), 45 output rows. A group that is never quantized reads
// the emulator's NaN-filled memory.
TEST_P(CudaTyped, FusedInt8EpiloguesMatchCpu) {
    LD_REQUIRE_CUDA(ops);
    const GgmlType type = GetParam();
    const int dim = type == GgmlType::Q6_K ? 2048 : 256, ffn = type == GgmlType::Q6_K ? 2048 : 768, n_out = 45;
    if (!int8_path(type, dim) || !int8_path(type, ffn)) GTEST_SKIP() << type_name(type) << " decodes on f32 activations";
    const float eps = 1e-5f;
    const TestWeight wo = make_weight(type, dim, dim, 81), wg = make_weight(type, ffn, dim, 82),
                     wu = make_weight(type, ffn, dim, 83), wd = make_weight(type, dim, ffn, 84),
                     wout = make_weight(type, n_out, dim, 85);
    const std::vector<float> x0 = random_floats(size_t(dim), 86, 2.0f), att = random_floats(size_t(dim), 87),
                             w1 = random_floats(size_t(dim), 88), w2 = random_floats(size_t(dim), 89);
    const std::vector<float> got = ops->fused_chain(type, dim, ffn, n_out, wo.bytes.data(), wg.bytes.data(),
                                                    wu.bytes.data(), wd.bytes.data(), wout.bytes.data(), x0, att, w1, w2, eps);
    const std::string what = std::string("fused chain ") + type_name(type);
    ASSERT_EQ(got.size(), size_t(2 * dim + ffn + n_out)) << what;
    auto part = [&](size_t first, int n) { return std::vector<float>(got.begin() + long(first), got.begin() + long(first) + n); };
    const std::vector<float> x1 = part(0, dim), g = part(size_t(dim), ffn), x2 = part(size_t(dim + ffn), dim),
                             y = part(size_t(2 * dim + ffn), n_out);
    // A residual add: res + W . in, in quantized per 32.
    auto residual = [&](const TestWeight& w, const std::vector<float>& in, const std::vector<float>& res, int ne0) {
        std::vector<float> want;
        std::vector<double> tol;
        reference_product(w, in, dim, ne0, 1, 2e-5, &want, &tol, true);
        for (size_t i = 0; i < want.size(); ++i) {
            want[i] += res[i];
            tol[i] += 1e-6 * std::abs(res[i]);
        }
        return std::make_pair(want, tol);
    };
    const auto [x1_want, x1_tol] = residual(wo, att, x0, dim);
    expect_close(x1, x1_want, 0, 0, what + " x1 (wo + residual)", &x1_tol);
    std::vector<float> g_want;
    std::vector<double> g_tol;
    swiglu_reference(wg, wu, rms_normed(x1, w1, eps), ffn, dim, true, &g_want, &g_tol);
    expect_close(g, g_want, 0, 0, what + " g (gate/up on the folded norm)", &g_tol);
    const auto [x2_want, x2_tol] = residual(wd, g, x1, ffn);
    expect_close(x2, x2_want, 0, 0, what + " x2 (down on the quantized SwiGLU output)", &x2_tol);
    std::vector<float> y_want;
    std::vector<double> y_tol;
    reference_product(wout, rms_normed(x2, w2, eps), n_out, dim, 1, 2e-5, &y_want, &y_tol, true);
    expect_close(y, y_want, 0, 0, what + " y (output on the folded norm)", &y_tol);
}

INSTANTIATE_TEST_SUITE_P(Types, CudaTyped, ::testing::ValuesIn(kTypes),
                         [](const ::testing::TestParamInfo<GgmlType>& i) { return std::string(type_name(i.param)); });

TEST(CudaOps, RmsNorm) {
    LD_REQUIRE_CUDA(ops);
    for (int n : {64, 100, 4096}) {
        const int rows = 3;
        const std::vector<float> x = random_floats(size_t(rows) * n, 1, 4.0f), w = random_floats(size_t(n), 2);
        std::vector<float> want(x.size());
        for (int r = 0; r < rows; ++r) cpu::rmsnorm(want.data() + size_t(r) * n, x.data() + size_t(r) * n, w.data(), n, 1e-5f);
        expect_close(ops->rmsnorm(x, w, n, 1e-5f), want, 1e-6, 1e-5, "rmsnorm n " + std::to_string(n));
    }
}

// The decode RMSNorm with its int8 output: the f32 row as the CPU's, each int8 value within half
// a step of it, and the stored half sums equal to the values they stand for.
TEST(CudaOps, RmsNormQuantizesForTheInt8Matvec) {
    LD_REQUIRE_CUDA(ops);
    for (int n : {64, 4096, 14336}) {
        std::vector<float> x = random_floats(size_t(n), 1, 4.0f), w = random_floats(size_t(n), 2);
        for (int i = 0; i < 32; ++i) x[size_t(i)] = 0.0f;  // an all-zero group must give d = 0, not NaN
        std::vector<float> want(x.size());
        cpu::rmsnorm(want.data(), x.data(), w.data(), n, 1e-5f);
        const std::vector<float> got = ops->rmsnorm_q8(x, w, n, 1e-5f);
        const std::string what = "rmsnorm_q8 n " + std::to_string(n);
        ASSERT_EQ(got.size(), size_t(n) * 2 + size_t(n / 32) * 3) << what;
        const std::vector<float> out(got.begin(), got.begin() + n), deq(got.begin() + n, got.begin() + 2 * n);
        expect_close(out, want, 1e-6, 1e-5, what);
        for (int gi = 0; gi < n / 32; ++gi) {
            const float* st = got.data() + 2 * size_t(n) + 3 * size_t(gi);
            double amax = 0, s0 = 0, s1 = 0;
            for (int k = 0; k < 32; ++k) amax = std::max(amax, double(std::abs(out[size_t(gi * 32 + k)])));
            ASSERT_NEAR(st[0], amax / 127, 1e-6 * amax + 1e-30) << what << " group " << gi;
            for (int k = 0; k < 32; ++k) {
                const size_t i = size_t(gi * 32 + k);
                ASSERT_TRUE(std::isfinite(deq[i])) << what << " element " << i;
                ASSERT_LE(std::abs(double(deq[i]) - out[i]), 0.5001 * st[0] + 1e-30) << what << " element " << i;
                (k < 16 ? s0 : s1) += deq[i];
            }
            ASSERT_NEAR(st[1], s0, 1e-5 * 16 * amax + 1e-30) << what << " group " << gi;
            ASSERT_NEAR(st[2], s1, 1e-5 * 16 * amax + 1e-30) << what << " group " << gi;
        }
    }
}

TEST(CudaOps, SwiGlu) {
    LD_REQUIRE_CUDA(ops);
    const std::vector<float> g = random_floats(1001, 3, 4.0f), u = random_floats(1001, 4);
    std::vector<float> want = g;
    cpu::silu_mul(want.data(), u.data(), int(want.size()));
    expect_close(ops->swiglu(g, u), want, 1e-6, 1e-5, "swiglu");
}

std::vector<float> inv_freqs(int rope_dim, float theta) {
    std::vector<float> f(size_t(rope_dim / 2));
    for (int i = 0; i < rope_dim / 2; ++i) f[size_t(i)] = float(1.0 / std::pow(double(theta), 2.0 * i / rope_dim));
    return f;
}

TEST(CudaOps, RopeAndCacheStore) {
    LD_REQUIRE_CUDA(ops);
    const int B = 3, nh = 4, nkv = 2;
    for (int hd : {64, 128})
        for (int rope_dim : {hd, hd / 2})
            for (int pos : {0, 5000}) {
                const std::vector<float> inv = inv_freqs(rope_dim, 500000.0f);
                const std::vector<float> q = random_floats(size_t(B) * nh * hd, 1), k = random_floats(size_t(B) * nkv * hd, 2),
                                         v = random_floats(size_t(B) * nkv * hd, 3);
                std::vector<float> wq = q, wk = k, cs(inv.size()), sn(inv.size());
                for (int t = 0; t < B; ++t) {
                    for (size_t i = 0; i < inv.size(); ++i) {
                        const float angle = float(pos + t) * inv[i];
                        cs[i] = std::cos(angle);
                        sn[i] = std::sin(angle);
                    }
                    cpu::rope(wq.data() + size_t(t) * nh * hd, nh, hd, rope_dim, cs.data(), sn.data());
                    cpu::rope(wk.data() + size_t(t) * nkv * hd, nkv, hd, rope_dim, cs.data(), sn.data());
                }
                const std::vector<float> got = ops->rope_store(q, k, v, B, nh, nkv, hd, rope_dim, inv, pos);
                const std::string what = "rope hd " + std::to_string(hd) + " rope_dim " + std::to_string(rope_dim) +
                                         " pos " + std::to_string(pos);
                ASSERT_EQ(got.size(), wq.size() + wk.size() + v.size()) << what;
                // Angles of ~5000 rad: float cos/sin of the same float angle on both sides.
                expect_close(std::vector<float>(got.begin(), got.begin() + long(wq.size())), wq, 2e-5, 2e-5, what + " q");
                // The cache holds f16.
                std::vector<float> kf(wk.size()), vf(v.size());
                for (size_t i = 0; i < wk.size(); ++i) kf[i] = fp16_to_fp32(fp32_to_fp16(wk[i]));
                for (size_t i = 0; i < v.size(); ++i) vf[i] = fp16_to_fp32(fp32_to_fp16(v[i]));
                expect_close(std::vector<float>(got.begin() + long(wq.size()), got.begin() + long(wq.size() + wk.size())), kf,
                             2e-5, 1e-3, what + " k cache");
                expect_close(std::vector<float>(got.begin() + long(wq.size() + wk.size()), got.end()), vf, 0, 0,
                             what + " v cache");
            }
}

// Causal attention of B tokens at positions pos.. (nh query heads over nkv KV heads, f16 cache
// with K scaled by k_scale) against the CPU's attend_f16, through the CUDA kernels.
void check_attention(cuda::OpsForTest* ops, int B, int pos, int hd, int n_ctx, int nh, int nkv, float k_scale) {
    const std::string what = "attention B " + std::to_string(B) + " pos " + std::to_string(pos) + " hd " +
                             std::to_string(hd) + " heads " + std::to_string(nh) + "/" + std::to_string(nkv) + " n_ctx " +
                             std::to_string(n_ctx);
    const cpu::KvKernels& kk = cpu::kv_kernels_scalar();
    const int kvd = nkv * hd, n_rows = pos + B;
    const std::vector<float> kf = random_floats(size_t(n_rows) * kvd, 5), vf = random_floats(size_t(n_rows) * kvd, 6);
    std::vector<uint16_t> kc(kf.size()), vc(vf.size());
    for (size_t i = 0; i < kf.size(); ++i) kc[i] = fp32_to_fp16(kf[i] * k_scale);
    for (size_t i = 0; i < vf.size(); ++i) vc[i] = fp32_to_fp16(vf[i]);
    const std::vector<float> q = random_floats(size_t(B) * nh * hd, 7);
    std::vector<float> want(q.size()), scores(static_cast<size_t>(n_rows));
    const float scale = 1.0f / std::sqrt(float(hd));
    for (int t = 0; t < B; ++t)
        for (int h = 0; h < nh; ++h) {
            const int g = h / (nh / nkv);
            cpu::attend_f16(kk, q.data() + (size_t(t) * nh + h) * hd, reinterpret_cast<const fp16_t*>(kc.data()) + size_t(g) * hd,
                            reinterpret_cast<const fp16_t*>(vc.data()) + size_t(g) * hd, kvd, pos + t + 1, hd, scale,
                            scores.data(), want.data() + (size_t(t) * nh + h) * hd);
        }
    std::vector<float> got;
    try {
        got = ops->attention(q, kc, vc, B, nh, nkv, hd, pos, n_ctx);
    } catch (const std::exception& e) {
        ADD_FAILURE() << what << ": " << e.what();
        return;
    }
    expect_close(got, want, 2e-5, 2e-4, what);
}

// Decode at positions 0, 1, 300 and 5000 (many chunks), prompts of 70 tokens (two token slices)
// at 0 and 300, and a long context where chunks are longer than 256.
TEST(CudaOps, AttentionMatchesCpu) {
    LD_REQUIRE_CUDA(ops);
    struct Case {
        int B, pos, hd, n_ctx;
    };
    const Case cases[] = {{1, 0, 64, 8192},   {1, 1, 64, 8192},    {1, 300, 128, 8192}, {1, 5000, 128, 8192},
                          {70, 0, 64, 8192},  {70, 300, 128, 8192}, {1, 5000, 32, 8192}, {1, 20000, 128, 40000},
                          {3, 4093, 256, 8192}, {20, 0, 8, 512},   {1, 400, 8, 512}};
    for (const Case& c : cases) check_attention(ops, c.B, c.pos, c.hd, c.n_ctx, 8, 2, 0.5f);
}

// Query groups of 1 to 16 heads (several blocks per KV head beyond 8, padded groups for 3, 6,
// 12), head sizes 2 to 256 that are not multiples of 8, tiles split across chunks, a 67-token
// batch (two slices), the 63/64-position tile edge, and the prompt kernel's token tiles.
TEST(CudaOps, AttentionGroupsAndHeadSizes) {
    LD_REQUIRE_CUDA(ops);
    struct Case {
        int B, pos, hd, n_ctx, nh, nkv;
    };
    const Case cases[] = {{1, 100, 128, 8192, 4, 4},  {5, 70, 8, 512, 8, 4},      {2, 700, 128, 8192, 16, 2},
                          {3, 130, 64, 8192, 6, 2},   {2, 200, 96, 8192, 16, 1},  {2, 150, 80, 8192, 24, 2},
                          {2, 90, 66, 8192, 4, 2},    {2, 90, 100, 8192, 4, 2},   {2, 90, 136, 8192, 4, 2},
                          {2, 90, 250, 8192, 8, 1},   {3, 65, 6, 8192, 2, 1},     {2, 63, 2, 8192, 2, 2},
                          {1, 9000, 256, 40000, 8, 1}, {67, 1, 128, 8192, 8, 2},  {1, 63, 128, 8192, 32, 8},
                          {1, 64, 128, 8192, 32, 8},
                          // Prompt token tiles (64 / group tokens a block): the last tile partial,
                          // 512-position chunks of 8 tiles with a tile's tokens on both sides of a
                          // chunk edge (9216), one head a group with 64 tokens over a tile edge.
                          {33, 100, 64, 8192, 16, 1}, {19, 9210, 128, 40000, 32, 8}, {64, 5, 128, 8192, 8, 8},
                          {40, 30, 64, 8192, 4, 2},   {2, 0, 128, 8192, 12, 1}};
    for (const Case& c : cases) check_attention(ops, c.B, c.pos, c.hd, c.n_ctx, c.nh, c.nkv, 2.0f);
}

TEST(CudaOps, RejectsUnsupportedShapes) {
    LD_REQUIRE_CUDA(ops);
    const int hd = 258;  // more than 256
    const std::vector<float> q(size_t(hd) * 8, 0.1f);
    const std::vector<uint16_t> kc(size_t(hd) * 2 * 4, 0), vc(size_t(hd) * 2 * 4, 0);
    try {
        ops->attention(q, kc, vc, 1, 8, 2, hd, 0, 16);
        ADD_FAILURE() << "expected an error for head size 258";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("head"), std::string::npos) << e.what();
    }
}

// A paged decode step's attention (attention_paged.cu) against the CPU's paged attend_f16: rows of
// several sequences at positions that are not multiples of the 64-position block (0, 5, 63, 64,
// 130, 200, 333), two rows reading one table (a fork's branches), block tables drawn in shuffled
// order, a row left out of the launch (its output must stay 0) and the cache's unused blocks NaN
// (a read through a wrong table shows). Whole rows, then split-K forced into chunks of 1, 2 and 3
// blocks (the backend splits only long contexts) merged by attention.cu's combine.
TEST(CudaOps, PagedAttentionSplitsMatchCpu) {
    LD_REQUIRE_CUDA(ops);
    constexpr int kBlock = 64, kBlocks = 24;
    struct Shape {
        int hd, nh, nkv;
    };
    // 16-byte K loads and groups of 4; 4-byte pairs, groups of 3; one head a group, hd 128.
    const Shape shapes[] = {{64, 8, 2}, {10, 6, 2}, {128, 4, 4}};
    const int row_seq[] = {0, 1, 2, 3, 4, 3, 5};
    const int row_pos[] = {200, 0, 64, 333, 63, 130, 5};
    const int n_rows = 7, n_seqs = 6;
    const std::vector<int32_t> rows = {0, 1, 2, 3, 5, 6};  // row 4 is left out
    const cpu::KvKernels& kk = cpu::kv_kernels_scalar();
    for (const Shape& sh : shapes) {
        const int kvd = sh.nkv * sh.hd, qd = sh.nh * sh.hd;
        std::vector<int32_t> pool(kBlocks);
        std::iota(pool.begin(), pool.end(), 0);
        std::shuffle(pool.begin(), pool.end(), std::mt19937(uint32_t(sh.hd)));
        std::vector<int32_t> tables, seq_off(n_seqs, 0);
        std::vector<bool> used(kBlocks, false);
        for (int s = 0; s < n_seqs; ++s) {
            int last = 0;
            for (int r = 0; r < n_rows; ++r)
                if (row_seq[r] == s) last = std::max(last, row_pos[r]);
            seq_off[size_t(s)] = int32_t(tables.size());
            for (int b = 0; b <= last / kBlock; ++b) {
                tables.push_back(pool.back());
                used[size_t(pool.back())] = true;
                pool.pop_back();
            }
        }
        const std::vector<float> kf = random_floats(size_t(kBlocks) * kBlock * kvd, 11, 2.0f),
                                 vf = random_floats(kf.size(), 12);
        std::vector<uint16_t> kc(kf.size()), vc(vf.size());
        for (size_t i = 0; i < kf.size(); ++i) {
            const bool live = used[i / (size_t(kBlock) * kvd)];
            kc[i] = live ? fp32_to_fp16(kf[i]) : uint16_t(0x7E00);  // NaN where no table points
            vc[i] = live ? fp32_to_fp16(vf[i]) : uint16_t(0x7E00);
        }
        const std::vector<float> q = random_floats(size_t(n_rows) * qd, 13);
        std::vector<int32_t> positions(row_pos, row_pos + n_rows), table_off(n_rows);
        for (int r = 0; r < n_rows; ++r) table_off[size_t(r)] = seq_off[size_t(row_seq[r])];
        std::vector<float> want(q.size(), 0.0f), scores(size_t(kBlocks) * kBlock);
        const float scale = 1.0f / std::sqrt(float(sh.hd));
        for (int32_t r : rows) {
            std::vector<cpu::KvRun> runs;
            for (int b = 0; b <= row_pos[r] / kBlock; ++b)
                runs.push_back(cpu::KvRun{int64_t(tables[size_t(table_off[size_t(r)] + b)]) * kBlock, kBlock});
            for (int h = 0; h < sh.nh; ++h) {
                const int g = h / (sh.nh / sh.nkv);
                cpu::attend_f16(kk, q.data() + size_t(r) * qd + size_t(h) * sh.hd,
                                reinterpret_cast<const fp16_t*>(kc.data()) + size_t(g) * sh.hd,
                                reinterpret_cast<const fp16_t*>(vc.data()) + size_t(g) * sh.hd, kvd, runs.data(),
                                row_pos[r] + 1, sh.hd, scale, scores.data(), want.data() + size_t(r) * qd + size_t(h) * sh.hd);
            }
        }
        for (int chunk : {0, 64, 128, 192}) {
            const std::string what = "paged attention hd " + std::to_string(sh.hd) + " heads " + std::to_string(sh.nh) +
                                     "/" + std::to_string(sh.nkv) + " chunk " + std::to_string(chunk);
            std::vector<float> got;
            try {
                got = ops->attention_paged(q, kc, vc, positions, table_off, tables, rows, sh.nh, sh.nkv, sh.hd, chunk);
            } catch (const std::exception& e) {
                ADD_FAILURE() << what << ": " << e.what();
                continue;
            }
            expect_close(got, want, 2e-5, 2e-4, what);
        }
    }
    // A split that does not fall on block boundaries is refused, not run.
    const std::vector<float> q(8 * 64, 0.1f);
    const std::vector<uint16_t> kc(size_t(2 * kBlock) * 2 * 64, 0);  // two blocks of 2 KV heads of 64
    EXPECT_THROW(ops->attention_paged(q, kc, kc, {100}, {0}, {0, 1}, {0}, 8, 2, 64, 96), std::exception);
}

}  // namespace
}  // namespace ld::test
