// GGUF reader on the real files in ../shared: versions, key counts, tensor tables and layouts
// as llama.cpp / gguf-py wrote them.
#include <filesystem>
#include <map>

#include "inference/gguf/gguf.h"
#include "test_util.h"

using namespace ld;
using namespace ld::gguf;

namespace {

std::map<std::string, int> type_counts(const File& f) {
    std::map<std::string, int> m;
    for (const TensorInfo& t : f.tensors()) m[type_name(t.type)]++;
    return m;
}

// Tensors lie back to back in the data section, each aligned, and the last one ends the file.
void expect_packed_layout(const File& f) {
    uint64_t end = 0;
    for (const TensorInfo& t : f.tensors()) {
        EXPECT_EQ(t.offset % f.alignment(), 0u) << t.name;
        EXPECT_GE(t.offset, end) << t.name;
        EXPECT_LT(t.offset - end, f.alignment()) << t.name;
        EXPECT_EQ(t.data, f.bytes() + f.data_offset() + t.offset) << t.name;
        EXPECT_EQ(t.nbytes, row_size(t.type, t.ne[0]) * uint64_t(t.nelements / t.ne[0])) << t.name;
        end = t.offset + t.nbytes;
    }
    EXPECT_EQ(f.data_offset() + end, f.size());
}

}  // namespace

TEST(GgufRead, Stories260K) {
    LD_REQUIRE_SHARED("models/stories260K.gguf");
    auto f = File::open(ld::test::shared_path("models/stories260K.gguf"));
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->alignment(), 32u);
    EXPECT_EQ(f->metadata().size(), 21u);
    EXPECT_EQ(f->get_string("general.architecture"), "llama");
    EXPECT_EQ(f->get_u64("llama.embedding_length"), 64u);
    EXPECT_EQ(f->get_u64("llama.block_count"), 5u);
    EXPECT_EQ(f->get_u64("llama.feed_forward_length"), 172u);
    EXPECT_EQ(f->get_u64("llama.attention.head_count"), 8u);
    EXPECT_EQ(f->get_u64("llama.attention.head_count_kv"), 4u);
    EXPECT_EQ(f->get_f64("llama.rope.freq_base"), 10000.0);
    EXPECT_EQ(f->get_bool("tokenizer.ggml.add_bos_token"), true);
    EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "llama");
    ASSERT_NE(f->get_string_array("tokenizer.ggml.tokens"), nullptr);
    EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->size(), 512u);
    EXPECT_EQ(f->get_f32_array("tokenizer.ggml.scores").size(), 512u);
    EXPECT_EQ(f->get_i32_array("tokenizer.ggml.token_type").size(), 512u);
    EXPECT_THROW(f->get_string("llama.block_count"), Error);

    ASSERT_EQ(f->tensors().size(), 47u);  // embedding + output norm + 5 layers x 9
    EXPECT_EQ(type_counts(*f), (std::map<std::string, int>{{"F32", 47}}));
    const TensorInfo* emb = f->find_tensor("token_embd.weight");
    ASSERT_NE(emb, nullptr);
    EXPECT_EQ(emb->ne, (std::vector<int64_t>{64, 512}));
    EXPECT_EQ(emb->nbytes, 64u * 512 * 4);
    EXPECT_EQ(f->find_tensor("output.weight"), nullptr) << "shared input/output embedding";
    const TensorInfo* down = f->find_tensor("blk.4.ffn_down.weight");
    ASSERT_NE(down, nullptr);
    EXPECT_EQ(down->ne, (std::vector<int64_t>{172, 64}));
    EXPECT_EQ(f->find_tensor("blk.2.attn_k.weight")->ne, (std::vector<int64_t>{64, 32}));
    expect_packed_layout(*f);
}

TEST(GgufRead, TinyLlama31) {
    LD_REQUIRE_SHARED("models/tiny-llama31-random-f16.gguf");
    auto f = File::open(ld::test::shared_path("models/tiny-llama31-random-f16.gguf"));
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->metadata().size(), 23u);
    EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gpt2");
    EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "llama-bpe");
    EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->size(), 128256u);
    EXPECT_EQ(f->get_string_array("tokenizer.ggml.merges")->size(), 280147u);
    EXPECT_EQ(f->get_u64("tokenizer.ggml.bos_token_id"), 128000u);
    EXPECT_EQ(f->get_u64("tokenizer.ggml.eos_token_id"), 128009u);
    EXPECT_EQ(f->get_f64("llama.rope.freq_base"), 500000.0);
    EXPECT_NE(f->get_string("tokenizer.chat_template")->find("messages"), std::string_view::npos);

    ASSERT_EQ(f->tensors().size(), 21u);  // embedding, output norm, rope_freqs + 2 layers x 9
    EXPECT_EQ(type_counts(*f), (std::map<std::string, int>{{"F16", 15}, {"F32", 6}}));
    EXPECT_EQ(f->find_tensor("token_embd.weight")->ne, (std::vector<int64_t>{128, 128256}));
    EXPECT_EQ(f->find_tensor("token_embd.weight")->type, GgmlType::F16);
    EXPECT_EQ(f->find_tensor("rope_freqs.weight")->ne, (std::vector<int64_t>{32}));
    EXPECT_EQ(f->find_tensor("blk.1.attn_k.weight")->ne, (std::vector<int64_t>{128, 64}));
    EXPECT_EQ(f->find_tensor("blk.1.ffn_down.weight")->ne, (std::vector<int64_t>{384, 128}));
    expect_packed_layout(*f);
}

TEST(GgufRead, K256QuantizedFiles) {
    LD_REQUIRE_SHARED("models/k256/tiny-llama-k256-f32.gguf");
    struct Case {
        const char* file;
        uint32_t file_type;
        std::map<std::string, int> types;
    };
    // 4 layers x 7 matrices + embedding + output = 30 quantized; 4 x 2 norms + output norm = 9 F32.
    const std::vector<Case> cases = {
        {"tiny-llama-k256-f32.gguf", 0, {{"F32", 39}}},
        {"tiny-llama-k256-Q4_0-pure.gguf", 2, {{"F32", 9}, {"Q4_0", 30}}},
        {"tiny-llama-k256-Q4_1-pure.gguf", 3, {{"F32", 9}, {"Q4_1", 30}}},
        {"tiny-llama-k256-Q5_0-pure.gguf", 8, {{"F32", 9}, {"Q5_0", 30}}},
        {"tiny-llama-k256-Q5_1-pure.gguf", 9, {{"F32", 9}, {"Q5_1", 30}}},
        {"tiny-llama-k256-Q8_0-pure.gguf", 7, {{"F32", 9}, {"Q8_0", 30}}},
        {"tiny-llama-k256-Q4_K-pure.gguf", 15, {{"F32", 9}, {"Q4_K", 30}}},
        {"tiny-llama-k256-Q5_K-pure.gguf", 17, {{"F32", 9}, {"Q5_K", 30}}},
        {"tiny-llama-k256-Q6_K-pure.gguf", 18, {{"F32", 9}, {"Q6_K", 30}}},
        {"tiny-llama-k256-Q4_K_M.gguf", 15, {{"F32", 9}, {"Q4_K", 25}, {"Q6_K", 5}}},
        {"tiny-llama-k256-Q5_K_M.gguf", 17, {{"F32", 9}, {"Q5_K", 25}, {"Q6_K", 5}}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.file);
        const std::string path = ld::test::shared_path(std::string("models/k256/") + c.file);
        if (!std::filesystem::exists(path)) {
            ADD_FAILURE() << path << " missing while the f32 file is present";
            continue;
        }
        auto f = File::open(path);
        EXPECT_EQ(f->version(), 3u);
        EXPECT_EQ(f->alignment(), 32u);
        // The quantizer adds general.quantization_version.
        EXPECT_EQ(f->metadata().size(), c.file_type == 0 ? 21u : 22u);
        EXPECT_EQ(f->get_u64("general.file_type"), c.file_type);
        EXPECT_EQ(f->get_u64("llama.embedding_length"), 256u);
        EXPECT_EQ(f->get_u64("llama.block_count"), 4u);
        EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->size(), 512u);
        ASSERT_EQ(f->tensors().size(), 39u);
        EXPECT_EQ(type_counts(*f), c.types);
        EXPECT_EQ(f->find_tensor("token_embd.weight")->ne, (std::vector<int64_t>{256, 512}));
        EXPECT_EQ(f->find_tensor("output.weight")->ne, (std::vector<int64_t>{256, 512}));
        EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->ne, (std::vector<int64_t>{256, 256}));
        EXPECT_EQ(f->find_tensor("blk.0.attn_k.weight")->ne, (std::vector<int64_t>{256, 128}));
        EXPECT_EQ(f->find_tensor("blk.1.ffn_down.weight")->ne, (std::vector<int64_t>{768, 256}));
        EXPECT_EQ(f->find_tensor("blk.3.ffn_norm.weight")->type, GgmlType::F32);
        expect_packed_layout(*f);
    }
}

TEST(GgufRead, OpenErrorsNameThePath) {
    try {
        File::open("/nonexistent/model.gguf");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf: cannot open"), std::string::npos)
            << e.what();
    }
    try {
        File::open("/tmp");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
    }
}
