// Bit-level checks against ggml itself (../shared/models/k256): our dequantization of
// llama-quantize's bytes equals ggml's reference dequantization, our quantizer reproduces those
// bytes and meets ggml's RMS error, and the dot products agree on real quantized tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "inference/gguf/gguf.h"
#include "inference/quant/quant.h"
#include "test_util.h"

namespace {

using ld::GgmlType;

struct FileCase {
    const char* type_name;
    GgmlType type;
    // ggml's rms_rel_err_vs_f32 from dequant/index.json for blk.0.attn_q / blk.1.ffn_down.
    double ggml_rms[2];
};

const FileCase kCases[] = {
    {"Q4_0", GgmlType::Q4_0, {0.085726, 0.085818}}, {"Q4_1", GgmlType::Q4_1, {0.078154, 0.078253}},
    {"Q5_0", GgmlType::Q5_0, {0.042656, 0.042715}}, {"Q5_1", GgmlType::Q5_1, {0.037767, 0.037873}},
    {"Q8_0", GgmlType::Q8_0, {0.00537, 0.00535}},   {"Q4_K", GgmlType::Q4_K, {0.071315, 0.071423}},
    {"Q5_K", GgmlType::Q5_K, {0.03613, 0.036196}},  {"Q6_K", GgmlType::Q6_K, {0.017808, 0.017705}},
};
const char* kTensors[2] = {"blk.0.attn_q.weight", "blk.1.ffn_down.weight"};
const char* kDumpNames[2] = {"blk_0_attn_q", "blk_1_ffn_down"};

std::vector<float> read_f32(const std::string& path) {
    const std::vector<char> bytes = ld::test::read_file(path);
    std::vector<float> out(bytes.size() / 4);
    std::memcpy(out.data(), bytes.data(), out.size() * 4);
    return out;
}

std::string model_path(const char* type) {
    return std::string("models/k256/tiny-llama-k256-") + type + "-pure.gguf";
}

class QuantGgmlFile : public ::testing::TestWithParam<FileCase> {};

TEST_P(QuantGgmlFile, DequantizeMatchesGgml) {
    const FileCase& c = GetParam();
    LD_REQUIRE_SHARED(model_path(c.type_name));
    auto file = ld::gguf::File::open(ld::test::shared_path(model_path(c.type_name)));
    for (int k = 0; k < 2; ++k) {
        const std::string dump = std::string("models/k256/dequant/") + c.type_name + "-" + kDumpNames[k] + ".f32";
        LD_REQUIRE_SHARED(dump);
        const ld::gguf::TensorInfo* t = file->find_tensor(kTensors[k]);
        ASSERT_NE(t, nullptr) << kTensors[k];
        ASSERT_EQ(t->type, c.type);
        const std::vector<float> want = read_f32(ld::test::shared_path(dump));
        ASSERT_EQ(int64_t(want.size()), t->nelements);
        std::vector<float> got(want.size());
        const int64_t ne0 = t->dim(0);
        const size_t rs = ld::row_size(c.type, ne0);
        for (int64_t r = 0; r < t->nelements / ne0; ++r)
            ld::dequantize_row(c.type, t->data + size_t(r) * rs, got.data() + r * ne0, ne0);
        int bad = 0;
        for (size_t i = 0; i < want.size(); ++i) {
            // gguf-py computes in numpy float32 with a different operation order: allow one
            // rounding step of the result.
            const float tol = 2e-7f * std::fabs(want[i]) + 1e-12f;
            if (std::fabs(got[i] - want[i]) > tol && bad++ < 5)
                ADD_FAILURE() << c.type_name << " " << kTensors[k] << " element " << i << ": got "
                              << got[i] << " ggml " << want[i];
        }
        EXPECT_EQ(bad, 0) << c.type_name << " " << kTensors[k];
    }
}

TEST_P(QuantGgmlFile, QuantizerMatchesGgmlBytesAndError) {
    const FileCase& c = GetParam();
    LD_REQUIRE_SHARED(model_path(c.type_name));
    LD_REQUIRE_SHARED("models/k256/tiny-llama-k256-f32.gguf");
    auto qfile = ld::gguf::File::open(ld::test::shared_path(model_path(c.type_name)));
    auto ffile = ld::gguf::File::open(ld::test::shared_path("models/k256/tiny-llama-k256-f32.gguf"));
    for (int k = 0; k < 2; ++k) {
        const ld::gguf::TensorInfo* src = ffile->find_tensor(kTensors[k]);
        const ld::gguf::TensorInfo* ref = qfile->find_tensor(kTensors[k]);
        ASSERT_NE(src, nullptr);
        ASSERT_NE(ref, nullptr);
        ASSERT_EQ(src->type, GgmlType::F32);
        const int64_t ne0 = src->dim(0), rows = src->nelements / ne0;
        std::vector<float> x(size_t(src->nelements));
        std::memcpy(x.data(), src->data, x.size() * 4);
        const size_t rs = ld::row_size(c.type, ne0);
        std::vector<uint8_t> q(rs * size_t(rows));
        std::vector<float> back(x.size());
        for (int64_t r = 0; r < rows; ++r) {
            ld::quantize_row(c.type, x.data() + r * ne0, q.data() + size_t(r) * rs, ne0);
            ld::dequantize_row(c.type, q.data() + size_t(r) * rs, back.data() + r * ne0, ne0);
        }
        double num = 0, den = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            num += double(x[i] - back[i]) * double(x[i] - back[i]);
            den += double(x[i]) * double(x[i]);
        }
        const double err = std::sqrt(num / den);
        // Same algorithm as ggml: nearly every block must be byte-identical (ggml's build may
        // contract a few float expressions into FMAs and flip a rounding).
        const size_t bsz = ld::traits(c.type).type_size, nblk = q.size() / bsz;
        size_t same = 0;
        for (size_t b = 0; b < nblk; ++b) same += std::memcmp(q.data() + b * bsz, ref->data + b * bsz, bsz) == 0;
        std::printf("  %s %s: rms_rel_err %.6f (ggml %.6f), identical blocks %zu/%zu\n", c.type_name,
                    kTensors[k], err, c.ggml_rms[k], same, nblk);
        EXPECT_LE(err, c.ggml_rms[k] * 1.02) << c.type_name << " " << kTensors[k];
        EXPECT_GE(double(same), 0.99 * double(nblk)) << c.type_name << " " << kTensors[k];
    }
}

TEST_P(QuantGgmlFile, DotProductsOnRealWeights) {
    const FileCase& c = GetParam();
    LD_REQUIRE_SHARED(model_path(c.type_name));
    auto file = ld::gguf::File::open(ld::test::shared_path(model_path(c.type_name)));
    const ld::gguf::TensorInfo* t = file->find_tensor(kTensors[1]);
    ASSERT_NE(t, nullptr);
    const int64_t n = t->dim(0), rows = t->nelements / n;
    const GgmlType at = ld::vec_dot_type(c.type);
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[size_t(i)] = std::sin(0.37f * float(i)) + 0.1f;
    std::vector<uint8_t> xq(ld::row_size(at, n));
    ld::quantize_activation(at, x.data(), xq.data(), n);
    std::vector<float> xd(static_cast<size_t>(n)), wd(static_cast<size_t>(n)), y(static_cast<size_t>(rows));
    ld::dequantize_row(at, xq.data(), xd.data(), n);
    ld::matvec(c.type, n, t->data, xq.data(), y.data(), 0, rows);
    const size_t rs = ld::row_size(c.type, n);
    for (int64_t r = 0; r < rows; ++r) {
        ld::dequantize_row(c.type, t->data + size_t(r) * rs, wd.data(), n);
        double ref = 0, mag = 0;
        for (int64_t i = 0; i < n; ++i) {
            ref += double(wd[size_t(i)]) * xd[size_t(i)];
            mag += std::fabs(double(wd[size_t(i)]) * xd[size_t(i)]);
        }
        // Q8_1's fp16 sum term adds up to ~1e-3 relative of the min term.
        const double tol = 1e-6 + (at == GgmlType::Q8_1 ? 1e-3 : 2e-5) * mag;
        ASSERT_NEAR(y[size_t(r)], ref, tol) << c.type_name << " row " << r;
        for (int isa = 0; isa <= int(ld::detected_isa()); ++isa) {
            float s = 0;
            ld::vec_dot_fn(c.type, ld::Isa(isa))(n, &s, t->data + size_t(r) * rs, xq.data());
            ASSERT_NEAR(s, ref, tol) << c.type_name << " " << ld::isa_name(ld::Isa(isa)) << " row " << r;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Ggml, QuantGgmlFile, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.type_name); });

}  // namespace
