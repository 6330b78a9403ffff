// Small batches on Vulkan (issue 17, item 3): quantize_q8 over B rows at once, the int8
// small-batch matmul (Ops::matmul_q8b, shaders/common/matmul_q8b.glsl) against CPU references
// for every weight type it covers and B in {2, 3, 5, 8, 16}, and the backend's steps of 2..16
// tokens on ggml's own quantizations (the k256 files): logits of mixed many-sequence batches and
// of a contiguous all-logits step against the CPU backend, every matrix on the new kernel, and
// Tuning::vk_small_batch = 0 keeping the prompt path.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/vulkan/vk_backend.h"
#include "model_fixture.h"
#include "vk_test_util.h"

namespace ld::test {
namespace {

using Q8From = vk::Ops::Q8From;

const GgmlType kCovered[] = {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K};

// Values of the device's int8 rows (q8_bytes(n) bytes a row): d * q per element.
std::vector<float> int8_values(const std::vector<uint8_t>& bytes, size_t n, size_t rows) {
    std::vector<float> v(n * rows);
    const size_t stride = vk::Ops::q8_bytes(uint32_t(n));
    for (size_t r = 0; r < rows; ++r)
        for (size_t i = 0; i < n; ++i) {
            float d;
            std::memcpy(&d, bytes.data() + r * stride + n + 16 * (i / 32), 4);
            v[r * n + i] = d * float(int8_t(bytes[r * stride + i]));
        }
    return v;
}

// quantize_q8 over B rows in one dispatch writes, row by row, what B one-row dispatches write
// (the same bytes and f32 values), in each mode; mode 2's weights are shared by the rows, mode
// 1's second input is per row. Nothing past B rows is written.
TEST(VkSmallBatch, QuantizeRowsEqualsRowByRow) {
    LD_REQUIRE_VULKAN(env);
    const uint32_t rows = 5;
    for (Q8From mode : {Q8From::copy, Q8From::swiglu, Q8From::rmsnorm})
        for (uint32_t n : {256u, 96u, 100u}) {  // 100: f32 values only (not whole blocks)
            const std::string what = "mode " + std::to_string(int(mode)) + " n " + std::to_string(n);
            const std::vector<float> a = random_floats(size_t(n) * rows, n + 3, 2.0f);
            const std::vector<float> b = random_floats(size_t(n) * rows, n + 4);
            const size_t qb = vk::Ops::q8_bytes(n);
            std::vector<uint8_t> poison(qb * (rows + 1), 0xA5);
            vk::Buffer ab = env->upload(a), bb = env->upload(b), fb = env->device(size_t(n) * rows * 4);
            vk::Buffer qbuf = env->upload(poison);
            env->ops.quantize_q8(env->cmds.begin(), mode, ab, bb, qbuf, fb, n, 1e-5f, true, rows);
            env->cmds.submit_and_wait();
            const std::vector<float> f = env->download<float>(fb, size_t(n) * rows);
            const std::vector<uint8_t> bytes = env->download<uint8_t>(qbuf, poison.size());
            for (uint32_t r = 0; r < rows; ++r) {
                vk::Buffer a1 = env->upload(std::vector<float>(a.begin() + long(r * n), a.begin() + long((r + 1) * n)));
                vk::Buffer b1 = env->upload(mode == Q8From::rmsnorm ? std::vector<float>(b.begin(), b.begin() + n)
                                                                    : std::vector<float>(b.begin() + long(r * n),
                                                                                         b.begin() + long((r + 1) * n)));
                vk::Buffer f1 = env->device(size_t(n) * 4), q1 = env->upload(std::vector<uint8_t>(qb, 0xA5));
                env->ops.quantize_q8(env->cmds.begin(), mode, a1, b1, q1, f1, n, 1e-5f, true);
                env->cmds.submit_and_wait();
                const std::vector<float> want_f = env->download<float>(f1, n);
                EXPECT_EQ(std::vector<float>(f.begin() + long(r * n), f.begin() + long((r + 1) * n)), want_f)
                    << what << " row " << r;
                const std::vector<uint8_t> want_q = env->download<uint8_t>(q1, qb);
                EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + long(r * qb), bytes.begin() + long((r + 1) * qb)), want_q)
                    << what << " row " << r << " int8 copy";
            }
            EXPECT_TRUE(std::all_of(bytes.begin() + long(rows * qb), bytes.end(), [](uint8_t x) { return x == 0xA5; }))
                << "wrote past " << rows << " rows: " << what;
        }
}

class VkSmallBatchTyped : public ::testing::TestWithParam<GgmlType> {};

// y = x . W^T for B columns of int8 x, against the product in double of the exact weights and
// the device's own int8 values (only the summation order separates them, so an index, column or
// scale slip shows as an error of the order of y), with and without accumulating into y, from a
// later first column (x_col0), odd row counts; y past n_cols x n_rows is left alone.
TEST_P(VkSmallBatchTyped, MatmulMatchesDotOfInt8Values) {
    LD_REQUIRE_VULKAN(env);
    const GgmlType type = GetParam();
    if (!env->ops.q8_enabled())
        GTEST_SKIP() << "no int8 kernels on " << env->dev.info().name
                     << (env->dev.int_dot() ? "" : " (no integer dot products)");
    ASSERT_TRUE(env->ops.has_q8b(type, 256)) << type_name(type) << " should have the small-batch kernel";
    EXPECT_FALSE(env->ops.has_q8b(type, 48)) << "rows of whole blocks of 32 only";
    for (int ne0 : {256, 1024 + 256})
        for (int rows : {1, 37, 75}) {
            if (ne0 > 1024 && rows > 37) continue;  // keeps lavapipe fast
            const TestWeight w = make_weight(type, rows, ne0, uint32_t(rows * 7 + ne0));
            for (uint32_t B : {2u, 3u, 5u, 8u, 16u}) {
                const uint32_t col0 = B == 5 ? 2 : 0, cols = B + col0;  // B = 5 reads columns 2..6
                const std::vector<float> x = random_floats(size_t(ne0) * cols, uint32_t(ne0 + rows + B), 1.5f);
                vk::Buffer xb = env->upload(x), fb = env->device(size_t(ne0) * cols * 4);
                vk::Buffer qb = env->device(vk::Ops::q8_bytes(uint32_t(ne0)) * cols);
                env->ops.quantize_q8(env->cmds.begin(), Q8From::copy, xb, xb, qb, fb, uint32_t(ne0), 0, true, cols);
                env->cmds.submit_and_wait();
                const std::vector<float> xq_all =
                    int8_values(env->download<uint8_t>(qb, vk::Ops::q8_bytes(uint32_t(ne0)) * cols), size_t(ne0), cols);
                const std::vector<float> xq(xq_all.begin() + long(size_t(col0) * ne0), xq_all.end());
                const std::vector<float> prod = reference_product(w, xq, rows, ne0, int(B));
                std::vector<float> y0 = random_floats(size_t(rows) * B + 7, B + 5);  // 7 past the end
                for (bool accumulate : {false, true}) {
                    std::vector<float> want = prod;
                    for (size_t i = 0; i < want.size(); ++i) want[i] += accumulate ? y0[i] : 0.0f;
                    vk::Buffer wb = env->upload(w.device), yb = env->upload(y0);
                    ASSERT_TRUE(env->ops.matmul_q8b(env->cmds.begin(), type, wb, qb, yb, uint32_t(ne0), uint32_t(rows),
                                                    B, accumulate, col0));
                    env->cmds.submit_and_wait();
                    const std::vector<float> got = env->download<float>(yb, y0.size());
                    const std::string what = std::string("matmul_q8b ") + type_name(type) + " B " + std::to_string(B) +
                                             " rows " + std::to_string(rows) + " ne0 " + std::to_string(ne0) +
                                             (accumulate ? " accumulate" : "") + (col0 ? " from column 2" : "");
                    expect_close(std::vector<float>(got.begin(), got.begin() + long(want.size())), want,
                                 1e-4 * std::sqrt(ne0 / 256.0), 1e-4, what);
                    EXPECT_TRUE(std::equal(got.begin() + long(want.size()), got.end(), y0.begin() + long(want.size())))
                        << what << ": wrote past the product";
                    if (HasFailure()) return;
                }
            }
        }
}

// Column counts outside 1..16 are refused with a clear error, and types without the kernel
// report that the caller must fall back.
TEST(VkSmallBatch, BadColumnCountsAndOtherTypes) {
    LD_REQUIRE_VULKAN(env);
    vk::Buffer a = env->device(1 << 16);
    for (uint32_t n : {0u, 17u})
        EXPECT_THROW(env->ops.matmul_q8b(env->cmds.begin(), GgmlType::Q4_0, a, a, a, 256, 4, n, false), Error) << n;
    env->cmds.submit_and_wait();
    for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::Q4_1, GgmlType::Q5_K}) {
        EXPECT_FALSE(env->ops.has_q8b(t, 256)) << type_name(t);
        EXPECT_FALSE(env->ops.matmul_q8b(env->cmds.begin(), t, a, a, a, 256, 4, 2, false)) << type_name(t);
        env->cmds.submit_and_wait();
    }
}

// The backend's steps of 2..16 tokens on ggml's quantizations of the k256 model, one file per
// covered type, against the CPU backend running each sequence alone (all logits):
//  - a contiguous all-logits step of 12 prompt tokens, then a 5-token one (speculative
//    verification's shape) and a 1-row-logits one;
//  - paged steps mixing sequences: two prompts (12 rows), then two decode tokens and a third
//    sequence's 3-token prompt chunk interleaved (5 rows), then three decode tokens (3 rows);
//    logits of some rows only (the output's gather).
// Bound: max |Vulkan - CPU| <= 3e-2 of the row's largest logit, as for the int8 decode path
// (test_vk_model.cpp: both sides quantize activations, each its own way, and the roundings add);
// an index, column or scale slip moves logits by O(1). With profiling on, every matrix of the
// batch steps (q, k, v, o, gate, up, down, output) ran matmul_q8b; with Tuning::vk_small_batch 0
// none did and the same steps took the prompt path.
class VkSmallBatchModel : public ::testing::TestWithParam<GgmlType> {};

// Bounds on max |got - want| over the row's largest |want|, measured on lavapipe at about half.
// Against the CPU: both sides quantize activations, each its own way (the CPU to Q8_0 / Q8_K,
// Vulkan to int8 per 32 with f32 scales), and on this random-weight model the roundings add up
// to 0.124 (Q6_K; the prompt path, f32 activations on the GPU, 0.104 on Q4_K, and one-token
// decode steps as much), where an index, column or scale slip moves logits by O(1).
// Against Vulkan's own decode path (one token a step: the same int8 activations, matvec_q8,
// another attention kernel) rows agree to ~1e-7 until one int8 rounding flips on a near tie
// (summation order), after which the sequence's later rows differ by ~1e-2 (up to 2.7e-2, Q4_K):
// the bound is 5e-2, and the first row (position 0: no attention history) must agree to 1e-5.
constexpr double kBoundCpu = 2e-1, kBoundDecode = 5e-2, kExact = 1e-5;

std::vector<float> row_of(const std::vector<float>& all, size_t r, size_t V) {
    return std::vector<float>(all.begin() + long(r * V), all.begin() + long((r + 1) * V));
}

// Every position's logits of `t` from one-token steps (Vulkan's decode path).
std::vector<float> decoded(Backend& b, const std::vector<int32_t>& t) {
    const size_t V = size_t(b.vocab_size());
    std::vector<float> out(t.size() * V);
    for (size_t i = 0; i < t.size(); ++i) b.forward(&t[i], 1, int(i), out.data() + i * V, false);
    return out;
}

TEST_P(VkSmallBatchModel, MixedBatchesMatchCpu) {
    LD_REQUIRE_VULKAN(env);
    const GgmlType type = GetParam();
    if (!env->ops.q8_enabled()) GTEST_SKIP() << "no int8 kernels on " << env->dev.info().name;
    const std::string rel = std::string("models/k256/tiny-llama-k256-") + type_name(type) + "-pure.gguf";
    LD_REQUIRE_SHARED(rel);
    std::unique_ptr<Model> m = load_model(shared_path(rel));
    BackendOptions o;
    o.tuning = Tuning::from_env();
    o.n_threads = 2;
    o.n_ctx = 256;
    std::unique_ptr<Backend> cpu = create_cpu_backend(*m, o);
    o.kind = "vulkan";
    o.tuning.vk_small_batch = 16;
    std::unique_ptr<Backend> gpu = create_backend(*m, o);
    o.tuning.vk_small_batch = 0;
    std::unique_ptr<Backend> old = create_backend(*m, o);
    const bool profiled = vulkan_enable_profiling(*gpu).empty() && vulkan_enable_profiling(*old).empty();
    const size_t V = size_t(cpu->vocab_size());
    std::mt19937 rng(uint32_t(type) + 1);
    auto tokens = [&](int n) {
        std::vector<int32_t> t;
        for (int i = 0; i < n; ++i) t.push_back(int32_t(1 + rng() % uint32_t(V - 1)));
        return t;
    };
    struct Worst { double cpu = 0, decode = 0; int exact = 0, rows = 0; } worst, worst_old;
    // `got` against the CPU's and the decode path's logits of the same position.
    auto check = [&](const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& dec,
                     const std::string& what, Worst* w, bool sharp) {
        for (const auto& [ref, bound, worst_of, name] :
             {std::tuple<const std::vector<float>&, double, double*, const char*>{want, kBoundCpu, &w->cpu, " vs the CPU"},
              {dec, kBoundDecode, &w->decode, " vs Vulkan decode"}}) {
            const double err = rel_error(got, ref);
            *worst_of = std::max(*worst_of, err);
            if (bound == kBoundDecode) {
                w->exact += err <= kExact;
                ++w->rows;
            }
            if (err >= bound && (sharp || bound == kBoundCpu)) {
                double mx = 0;
                for (float x : ref) mx = std::max(mx, double(std::abs(x)));
                expect_close(got, ref, bound * mx, 0, what + name);  // prints the first mismatches
            }
        }
    };

    // Contiguous: 12 prompt tokens (all logits), 5 more (all logits), 2 more (the last row's).
    const std::vector<int32_t> seq = tokens(19);
    const std::vector<float> want = logits_of(*cpu, seq, true), dec = decoded(*old, seq);
    for (Backend* b : {gpu.get(), old.get()}) {
        const bool small = b == gpu.get();  // the prompt path (f32 activations) is far from decode's int8
        Worst* w = small ? &worst : &worst_old;
        const std::string name = small ? "small-batch path" : "prompt path";
        std::vector<float> l12(12 * V), l5(5 * V), l1(V);
        b->forward(seq.data(), 12, 0, l12.data(), true);
        b->forward(seq.data() + 12, 5, 12, l5.data(), true);
        b->forward(seq.data() + 17, 2, 17, l1.data(), false);
        for (size_t r = 0; r < 12; ++r)
            check(row_of(l12, r, V), row_of(want, r, V), row_of(dec, r, V), name + " contiguous row " + std::to_string(r), w, small);
        if (small) {
            const std::vector<float> first = row_of(l12, 0, V), first_dec = row_of(dec, 0, V);
            EXPECT_LE(rel_error(first, first_dec), kExact) << "position 0: the same int8 products as decode";
        }
        for (size_t r = 0; r < 5; ++r)
            check(row_of(l5, r, V), row_of(want, 12 + r, V), row_of(dec, 12 + r, V), name + " verify row " + std::to_string(r), w, small);
        check(l1, row_of(want, 18, V), row_of(dec, 18, V), name + " last row", w, small);
        if (HasFailure()) return;
    }

    // Paged: sequences 0, 1, 2 in blocks 1, 2, 3 (block 0 held the contiguous run above).
    const std::vector<std::vector<int32_t>> seqs = {tokens(9), tokens(7), tokens(4)};
    std::vector<std::vector<float>> alone, alone_dec;
    for (const auto& t : seqs) {
        alone.push_back(logits_of(*cpu, t, true));
        alone_dec.push_back(decoded(*old, t));
    }
    const int32_t blocks[3] = {1, 2, 3};
    const SeqView views[3] = {{&blocks[0], 1}, {&blocks[1], 1}, {&blocks[2], 1}};
    struct Row { int seq, pos; bool logits; };
    const std::vector<std::vector<Row>> steps = {
        {{0, 0, 0}, {0, 1, 0}, {0, 2, 0}, {0, 3, 0}, {0, 4, 0}, {0, 5, 1}, {1, 0, 0}, {1, 1, 1}, {1, 2, 0}, {1, 3, 0},
         {1, 4, 1}, {0, 6, 1}},
        {{2, 0, 0}, {1, 5, 1}, {2, 1, 1}, {0, 7, 1}, {2, 2, 1}},
        {{0, 8, 1}, {1, 6, 1}, {2, 3, 1}},
    };
    for (Backend* b : {gpu.get(), old.get()}) {
        const bool small = b == gpu.get();
        Worst* w = small ? &worst : &worst_old;
        const std::string name = small ? "small-batch path" : "prompt path";
        for (size_t k = 0; k < steps.size(); ++k) {
            std::vector<int32_t> ids, pos, sq;
            std::vector<uint8_t> wl;
            for (const Row& r : steps[k]) {
                ids.push_back(seqs[size_t(r.seq)][size_t(r.pos)]);
                pos.push_back(r.pos);
                sq.push_back(r.seq);
                wl.push_back(r.logits);
            }
            const size_t n_logits = size_t(std::count(wl.begin(), wl.end(), 1));
            std::vector<float> logits(n_logits * V, std::nanf(""));
            SeqBatch sb;
            sb.n = int(ids.size());
            sb.tokens = ids.data();
            sb.positions = pos.data();
            sb.seq = sq.data();
            sb.seqs = views;
            sb.n_seqs = 3;
            sb.want_logits = wl.data();
            sb.logits = logits.data();
            b->forward(sb);
            size_t i = 0;
            for (const Row& r : steps[k])
                if (r.logits) {
                    check(row_of(logits, i, V), row_of(alone[size_t(r.seq)], size_t(r.pos), V),
                          row_of(alone_dec[size_t(r.seq)], size_t(r.pos), V),
                          name + " paged step " + std::to_string(k) + " sequence " + std::to_string(r.seq) +
                              " position " + std::to_string(r.pos), w, small);
                    ++i;
                }
        }
        if (HasFailure()) return;
    }
    std::printf("[vk-small-batch] %s: max rel error vs the CPU %.2e (prompt path %.2e), vs Vulkan decode %.2e "
                "(prompt path %.2e); %d of %d rows within %.0e of decode (prompt path %d)\n",
                type_name(type), worst.cpu, worst_old.cpu, worst.decode, worst_old.decode, worst.exact, worst.rows, kExact,
                worst_old.exact);
    RecordProperty("rel_error_cpu", std::to_string(worst.cpu));
    RecordProperty("rel_error_decode", std::to_string(worst.decode));
    if (!profiled) return;
    std::map<std::string, uint64_t> ops;
    for (const VulkanOpTime& t : vulkan_profile(*gpu).ops) ops[t.op] = t.calls;
    std::string t = type_name(type);
    for (char& ch : t) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    for (const char* role : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "output"})
        EXPECT_GT(ops["batch matmul_q8b " + t + " " + role], 0u) << role << " did not run the small-batch kernel";
    for (const VulkanOpTime& op : vulkan_profile(*old).ops) {
        EXPECT_EQ(op.op.find("batch "), std::string::npos) << "vk_small_batch 0 ran " << op.op;
        EXPECT_EQ(op.op.find("matmul_q8b"), std::string::npos) << "vk_small_batch 0 ran " << op.op;
    }
}

INSTANTIATE_TEST_SUITE_P(K256, VkSmallBatchModel, ::testing::ValuesIn(kCovered),
                         [](const ::testing::TestParamInfo<GgmlType>& i) { return std::string(type_name(i.param)); });

INSTANTIATE_TEST_SUITE_P(Types, VkSmallBatchTyped, ::testing::ValuesIn(kCovered),
                         [](const ::testing::TestParamInfo<GgmlType>& i) { return std::string(type_name(i.param)); });

}  // namespace
}  // namespace ld::test
