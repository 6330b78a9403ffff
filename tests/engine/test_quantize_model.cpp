// The quantizer against ggml's own llama-quantize output (../shared/models/k256), the golden
// stories text after quantization, and loading our files in llama.cpp (node-llama-cpp oracle).
#include <cstring>
#include <filesystem>

#include "cli_runner.h"
#include "inference/gguf/gguf.h"
#include "inference/model/quantize_model.h"
#include "model_fixture.h"

namespace ld::test {
namespace {

const std::string kF32 = "models/k256/tiny-llama-k256-f32.gguf";

struct Recipe {
    const char* type;        // our quantize TYPE
    const char* ggml_file;   // llama-quantize's output for the same input
};

class MatchesLlamaQuantize : public ::testing::TestWithParam<Recipe> {};

TEST_P(MatchesLlamaQuantize, SameTypesAndBytes) {
    const std::string ggml_rel = std::string("models/k256/tiny-llama-k256-") + GetParam().ggml_file + ".gguf";
    LD_REQUIRE_SHARED(kF32);
    LD_REQUIRE_SHARED(ggml_rel);
    const std::string out = ::testing::TempDir() + "/k256-" + GetParam().type + ".gguf";
    quantize_model(shared_path(kF32), out, GetParam().type);
    auto ours = gguf::File::open(out);
    auto theirs = gguf::File::open(shared_path(ggml_rel));
    ASSERT_EQ(ours->tensors().size(), theirs->tensors().size());
    int identical = 0;
    for (const gguf::TensorInfo& t : theirs->tensors()) {
        const gguf::TensorInfo* o = ours->find_tensor(t.name);
        ASSERT_NE(o, nullptr) << t.name;
        EXPECT_EQ(type_name(o->type), std::string(type_name(t.type))) << t.name;
        EXPECT_EQ(o->ne, t.ne) << t.name;
        if (o->type == t.type && o->nbytes == t.nbytes) {
            const bool same = std::memcmp(o->data, t.data, t.nbytes) == 0;
            EXPECT_TRUE(same) << t.name << " differs from llama-quantize's bytes";
            identical += same;
        }
    }
    EXPECT_EQ(identical, int(theirs->tensors().size()));
    EXPECT_EQ(ours->get_u64("general.file_type"), theirs->get_u64("general.file_type"));
    // And it runs.
    LoadedModel m = load(out);
    EXPECT_FALSE(greedy(m, tokenize_prompt(*m.tok, "Once upon a time"), 4).empty());
    std::filesystem::remove(out);
}

INSTANTIATE_TEST_SUITE_P(K256, MatchesLlamaQuantize,
                         ::testing::Values(Recipe{"Q8_0", "Q8_0-pure"}, Recipe{"Q4_0", "Q4_0-pure"},
                                           Recipe{"Q4_1", "Q4_1-pure"}, Recipe{"Q5_0", "Q5_0-pure"},
                                           Recipe{"Q5_1", "Q5_1-pure"}, Recipe{"Q6_K", "Q6_K-pure"},
                                           Recipe{"Q4_K_M", "Q4_K_M"}, Recipe{"Q5_K_M", "Q5_K_M"}),
                         [](const auto& info) { return std::string(info.param.type); });

const std::string kStories = "models/stories260K.gguf";
const std::string kOpening = "Once upon a time, there was a little girl named Lily.";

TEST(QuantizeStories, Q8_0StillWritesTheOpeningSentence) {
    LD_REQUIRE_SHARED(kStories);
    const std::string out = ::testing::TempDir() + "/stories-q8_0.gguf";
    const QuantizeStats st = quantize_model(shared_path(kStories), out, "q8_0");
    // ffn width 172 is not a multiple of 32: ffn_down (5 layers) must fall back, not fail.
    EXPECT_EQ(st.fallbacks, 5);
    auto f = gguf::File::open(out);
    EXPECT_EQ(f->find_tensor("blk.0.ffn_down.weight")->type, GgmlType::F16);
    EXPECT_EQ(f->find_tensor("blk.0.ffn_up.weight")->type, GgmlType::Q8_0);
    LoadedModel m = load(out);
    const std::string text = "Once upon a time" + greedy(m, tokenize_prompt(*m.tok, "Once upon a time"), 20);
    EXPECT_EQ(text.substr(0, kOpening.size()), kOpening);
}

TEST(QuantizeStories, EveryTypeLoadsAndRuns) {
    LD_REQUIRE_SHARED(kStories);
    for (const char* type : {"Q4_0", "Q6_K", "Q4_K_M", "Q5_K_M", "F16"}) {
        const std::string out = ::testing::TempDir() + "/stories-" + type + ".gguf";
        quantize_model(shared_path(kStories), out, type);
        LoadedModel m = load(out);
        EXPECT_FALSE(greedy(m, tokenize_prompt(*m.tok, "Once upon a time"), 8).empty()) << type;
    }
}

TEST(QuantizeErrors, BadTypeAndMissingInputLeaveNoOutput) {
    const std::string out = ::testing::TempDir() + "/never.gguf";
    EXPECT_THROW(quantize_model("/nonexistent.gguf", out, "Q8_0"), Error);
    LD_REQUIRE_SHARED(kStories);
    EXPECT_THROW(quantize_model(shared_path(kStories), out, "Q3_X"), Error);
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_FALSE(std::filesystem::exists(out + ".tmp"));
}

// The independent engine: llama.cpp through node-llama-cpp (installed by the test setup into
// LLAMADESK_ORACLE_DIR; skipped when absent, a failure in CI).
std::string oracle_dir() {
    const char* env = std::getenv("LLAMADESK_ORACLE_DIR");
    return env ? env : LLAMADESK_ORACLE_DIR;
}

TEST(Oracle, LlamaCppLoadsOurQuantizedFiles) {
    LD_REQUIRE_SHARED(kStories);
    if (!std::filesystem::exists(oracle_dir() + "/node_modules/node-llama-cpp"))
        LD_SKIP_OR_FAIL_IN_CI("node-llama-cpp not installed in " << oracle_dir() << " (scripts/test.sh installs it)");
    // ES modules resolve packages next to the script, so the script goes beside node_modules.
    const std::string script = oracle_dir() + "/complete.mjs";
    std::filesystem::copy_file(std::string(LLAMADESK_SOURCE_DIR) + "/tests/oracle/complete.mjs", script,
                               std::filesystem::copy_options::overwrite_existing);
    for (const char* type : {"Q8_0", "Q4_K_M"}) {
        const std::string out = ::testing::TempDir() + "/oracle-stories-" + type + ".gguf";
        quantize_model(shared_path(kStories), out, type);
        RunResult r = run_command("node " + shell_quote(script) + " " + shell_quote(out) + " 'Once upon a time' 16");
        ASSERT_EQ(r.exit_code, 0) << type << ": " << r.err;
        if (std::string(type) == "Q8_0")
            EXPECT_EQ(("Once upon a time" + r.out).substr(0, kOpening.size()), kOpening) << r.out;
        else
            EXPECT_GT(r.out.size(), 10u) << r.out;
        // Both engines agree on our file.
        LoadedModel m = load(out);
        EXPECT_EQ(greedy(m, tokenize_prompt(*m.tok, "Once upon a time"), 16).substr(0, 24), r.out.substr(0, 24)) << type;
    }
}

}  // namespace
}  // namespace ld::test
