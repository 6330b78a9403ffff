// llamadesk-cli as other checks use it: spellings, output streams and one-line errors.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "model_fixture.h"
#include "test_util.h"

namespace ld::test {
namespace {

const std::string kStories = "models/stories260K.gguf";
const std::string kTiny31 = "models/tiny-llama31-random-f16.gguf";

int lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

TEST(Cli, BadUsageIsOneLineAndExitOne) {
    for (const std::string& args : {std::string(""), std::string("frobnicate"), std::string("generate"),
                                    std::string("generate -m x.gguf"), std::string("generate -m x -p hi --temp abc"),
                                    std::string("bench"), std::string("quantize a.gguf"),
                                    std::string("generate -m x -p hi --bogus")}) {
        RunResult r = run_cli(args);
        EXPECT_EQ(r.exit_code, 1) << args;
        if (!args.empty()) {
            EXPECT_EQ(lines(r.err), 1) << args << ": " << r.err;
        }
        EXPECT_TRUE(r.out.empty()) << args;
    }
}

TEST(Cli, MissingAndBadModelFilesAreOneLineErrors) {
    const std::string bad = ::testing::TempDir() + "/not-a-model.gguf";
    std::ofstream(bad) << "this is not a gguf file at all";
    for (const std::string& m : {std::string("/nonexistent/model.gguf"), bad}) {
        for (const std::string& cmd : {std::string("generate -p hi -m "), std::string("info -m "),
                                       std::string("tokenize -t hi -m "), std::string("bench -n 1 -p 1 -m ")}) {
            RunResult r = run_cli(cmd + shell_quote(m));
            EXPECT_EQ(r.exit_code, 1) << cmd << m;
            EXPECT_EQ(lines(r.err), 1) << r.err;
            EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
            EXPECT_NE(r.err.find(m), std::string::npos) << "the error names the file: " << r.err;
        }
    }
}

TEST(Cli, GenerateStreamsOnlyTheTextToStdout) {
    LD_REQUIRE_SHARED(kStories);
    RunResult r = run_cli("generate -m " + shell_quote(shared_path(kStories)) + " -p 'Once upon a time' -n 20 --temp 0");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind(", there was a little girl named Lily.", 0), 0u) << r.out;
    EXPECT_NE(r.err.find("tok/s"), std::string::npos);
    EXPECT_NE(r.err.find("time to first token"), std::string::npos);
    EXPECT_EQ(r.out.find("tok/s"), std::string::npos);
}

// Raw text is printed exactly: prompt + output is the whole text, so a continuation that starts
// with a space keeps it (SentencePiece drops the dummy-prefix space only right after BOS).
TEST(Cli, GenerateKeepsTheSpaceAfterThePrompt) {
    LD_REQUIRE_SHARED(kStories);
    RunResult r = run_cli("generate -m " + shell_quote(shared_path(kStories)) + " -p 'The cat' -n 10 --temp 0");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(("The cat" + r.out).rfind("The cat and a boy", 0), 0u) << r.out;  // llama2.c's text
}

TEST(Cli, PromptPlusGreedyOutputIsTheReferenceText) {
    LD_REQUIRE_SHARED("models/stories260K.reference.txt");
    LD_REQUIRE_SHARED(kStories);
    // llama2.c ran 80 positions: BOS, the 4 tokens of "Once upon a time", 76 generated.
    RunResult r = run_cli("generate -m " + shell_quote(shared_path(kStories)) + " -p 'Once upon a time' -n 76 --temp 0");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_FALSE(r.out.empty());
    ASSERT_EQ(r.out.back(), '\n');  // the CLI ends its output with a newline of its own
    r.out.pop_back();
    EXPECT_EQ("Once upon a time" + r.out, stories_reference());
}

// A chat reply is printed without its leading whitespace (as the app shows it); the same prompt
// given as raw tokens prints the text exactly. Here the reply starts with newlines.
TEST(Cli, ChatReplyIsShownWithoutLeadingWhitespace) {
    LD_REQUIRE_SHARED(kTiny31);
    const std::string m = shell_quote(shared_path(kTiny31));
    RunResult chat = run_cli("generate -m " + m + " --chat -p Hi -n 30 --temp 0");
    ASSERT_EQ(chat.exit_code, 0) << chat.err;
    EXPECT_NE(chat.err.find("prompt: 11 tokens"), std::string::npos) << chat.err;
    // The same 11 tokens: <|begin_of_text|> <|start_header_id|> user <|end_header_id|> "\n\n" Hi
    // <|eot_id|> <|start_header_id|> assistant <|end_header_id|> "\n\n"
    RunResult raw = run_cli("generate -m " + m + " --tokens 128000,128006,882,128007,271,13347,128009,128006,78191,128007,271 -n 30 --temp 0");
    ASSERT_EQ(raw.exit_code, 0) << raw.err;
    const size_t text_start = raw.out.find_first_not_of(" \t\r\n");
    ASSERT_GT(text_start, 0u) << "the raw reply should start with whitespace for this check: " << raw.out;
    ASSERT_NE(text_start, std::string::npos) << raw.out;
    EXPECT_EQ(chat.out, raw.out.substr(text_start));
}

TEST(Cli, SeededSamplingIsReproducible) {
    LD_REQUIRE_SHARED(kStories);
    const std::string cmd = "generate -m " + shell_quote(shared_path(kStories)) + " -p 'Once upon a time' -n 30 --temp 1.0 --top-k 40 --top-p 0.9 ";
    RunResult a = run_cli(cmd + "--seed 7"), b = run_cli(cmd + "--seed 7"), c = run_cli(cmd + "--seed 8");
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_NE(a.out, c.out);
}

TEST(Cli, TokenizePrintsJsonWithoutBos) {
    LD_REQUIRE_SHARED(kTiny31);
    RunResult r = run_cli("tokenize -m " + shell_quote(shared_path(kTiny31)) + " -t 'The quick brown fox jumps over the lazy dog.'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "[791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13]\n");
    r = run_cli("tokenize -m " + shell_quote(shared_path(kTiny31)) + " -t '<|eot_id|>'");
    EXPECT_EQ(r.out.find("128009"), std::string::npos) << r.out;
    r = run_cli("tokenize -m " + shell_quote(shared_path(kTiny31)) + " -t '<|eot_id|>' --special");
    EXPECT_EQ(r.out, "[128009]\n");
}

TEST(Cli, DumpLogitsWritesTheLastPosition) {
    LD_REQUIRE_SHARED(kTiny31);
    const std::string out = ::testing::TempDir() + "/logits.f32";
    RunResult r = run_cli("generate -m " + shell_quote(shared_path(kTiny31)) +
                          " --tokens 128000,791,4062,14198,39935,35308,927,279,16053,5679,13 --dump-logits " + shell_quote(out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(std::filesystem::file_size(out), 128256u * 4);
}

TEST(Cli, ChatUsesTheModelsTemplate) {
    LD_REQUIRE_SHARED(kTiny31);
    RunResult r = run_cli("generate -m " + shell_quote(shared_path(kTiny31)) + " -p 'Hi there' --chat --system 'Be brief.' -n 4 --temp 0");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // BOS + system header + "Be brief." + eot + user header + "Hi there" + eot + assistant header
    EXPECT_NE(r.err.find("prompt: 20 tokens"), std::string::npos) << r.err;
}

TEST(Cli, InfoAndBench) {
    LD_REQUIRE_SHARED(kStories);
    RunResult r = run_cli("info -m " + shell_quote(shared_path(kStories)));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("layers 5, width 64, heads 8 (kv 4"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("tokenizer.ggml.model"), std::string::npos);
    r = run_cli("bench -m " + shell_quote(shared_path(kStories)) + " -p 16 -n 8 -r 1 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("\"prompt_tps\": "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"gen_tps\": "), std::string::npos) << r.out;
}

TEST(Cli, SynthWritesALoadableModelOfTheRealShape) {
    const std::string out = ::testing::TempDir() + "/synth-1b-q4_0.gguf";
    RunResult r = run_cli("synth llama-3.2-1b:q4_0 " + shell_quote(out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_cli("info -m " + shell_quote(out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("layers 16, width 2048, heads 32 (kv 8, dim 64), ffn 8192, vocab 128256"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Q4_0"), std::string::npos);
    std::filesystem::remove(out);
    r = run_cli("synth llama-9b:q4_0 /tmp/x.gguf");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("llama-3.1-8b"), std::string::npos) << "lists the known names: " << r.err;
}

// --vocab-from gives the synthetic model a real tokenizer: the same ids for the same text,
// the special tokens and the chat template; a vocabulary of another size is refused up front.
TEST(Cli, SynthVocabFromCopiesARealTokenizer) {
    LD_REQUIRE_SHARED(kTiny31);
    LD_REQUIRE_SHARED(kStories);
    const std::string src = shell_quote(shared_path(kTiny31));
    const std::string out = ::testing::TempDir() + "/synth-1b-q4_0-llama3vocab.gguf";
    RunResult r = run_cli("synth llama-3.2-1b:q4_0 " + shell_quote(out) + " --vocab-from " + src);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_cli("info -m " + shell_quote(out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("vocab 128256"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("tokenizer: gpt2 / llama-bpe, 128256 tokens, bos 128000, eos 128009"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("tokenizer.ggml.merges"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("tokenizer.chat_template"), std::string::npos) << r.out;
    for (const std::string& args : {std::string(" -t 'Summarize pages 3-5: naïve café, 東京.'"),
                                    std::string(" -t '<|eot_id|>' --special")}) {
        const RunResult want = run_cli("tokenize -m " + src + args);
        const RunResult got = run_cli("tokenize -m " + shell_quote(out) + args);
        ASSERT_EQ(want.exit_code, 0) << want.err;
        ASSERT_EQ(got.exit_code, 0) << got.err;
        EXPECT_EQ(got.out, want.out) << args;
    }
    std::filesystem::remove(out);

    r = run_cli("synth llama-3.2-1b:q4_0 " + shell_quote(out) + " --vocab-from " + shell_quote(shared_path(kStories)));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("512 tokens but llama-3.2-1b needs 128256"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(out)) << "nothing written on a mismatch";
    r = run_cli("synth llama-3.2-1b:q4_0 " + shell_quote(out) + " --vocab-from /nonexistent/v.gguf");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(lines(r.err), 1) << r.err;
}

}  // namespace
}  // namespace ld::test
