// ReplyStream (inference/session/reply_stream.h) with and without
// GenerateOptions::trim_leading_space: a chat reply loses the whitespace before its first visible
// character, a completion keeps every byte; stop strings, held-back text, split UTF-8 and a
// callback that stops behave the same either way. Then the flag through Session::generate and
// the BatchScheduler (both build their reply on ReplyStream) on the fake paged backend, and on
// stories260K (a SentencePiece model: its reply after "Once upon a time," starts with a space).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "fake_seq_backend.h"
#include "inference/model/llama.h"
#include "inference/session/batch_scheduler.h"
#include "inference/session/reply_stream.h"
#include "inference/session/session.h"
#include "model_fixture.h"

namespace ld::test {
namespace {

// A byte-level BPE vocabulary (GPT-2's byte-to-character map) with whitespace of every kind.
enum Tok : int32_t { kSpace, kNewline, kTab, kTwoSpaces, kC2, kA0, kE3, k80, kC3, kA9, kHi, kThere, kS, kT, kO, kP, kEnd, kUnk, kCount };

const Tokenizer& tok() {
    static const std::unique_ptr<Tokenizer> t = [] {
        Vocab v;
        v.model = "gpt2";
        v.pre = "llama-bpe";
        // Bytes 0x20, 0x0A, 0x09, 0xA0 and 0x80 are not printable, so GPT-2 maps them to
        // U+0120 "Ġ", U+010A "Ċ", U+0109 "ĉ", U+0142 "ł" and U+0122 "Ģ"; 0xC2 "Â", 0xE3 "ã",
        // 0xC3 "Ã" and 0xA9 "©" stand for themselves.
        v.tokens = {"\xC4\xA0", "\xC4\x8A", "\xC4\x89", "\xC4\xA0\xC4\xA0", "\xC3\x82", "\xC5\x82", "\xC3\xA3", "\xC4\xA2",
                    "\xC3\x83", "\xC2\xA9", "Hi", "\xC4\xA0there", "S", "T", "O", "P", "<|end|>", "<unk>"};
        v.types.assign(v.tokens.size(), int32_t(TokenType::Normal));
        v.eos = kEnd;
        v.types[kEnd] = int32_t(TokenType::Control);
        v.unk = kUnk;
        v.types[kUnk] = int32_t(TokenType::Unknown);
        v.bos = -1;
        v.add_bos = false;
        return Tokenizer::create(v);
    }();
    return *t;
}

struct Streamed {
    GenerateResult res;
    std::vector<std::string> pieces;
    bool more = true;  // push() said the reply goes on after the last token
};

// Pushes `ids` (up to the first that ends the reply), then finish(), as Session does.
Streamed stream(const std::vector<int32_t>& ids, bool trim, std::vector<std::string> stops = {}, int stop_after_pieces = -1) {
    Streamed s;
    GenerateOptions opt;
    opt.trim_leading_space = trim;
    opt.stop_strings = std::move(stops);
    TextCallback cb = [&](std::string_view t) {
        EXPECT_FALSE(t.empty());
        s.pieces.emplace_back(t);
        return stop_after_pieces < 0 || int(s.pieces.size()) < stop_after_pieces;
    };
    std::vector<float> logits(kCount, 0.0f);
    ReplyStream out(tok(), opt, s.res, cb, kHi, std::chrono::steady_clock::now());
    for (int32_t id : ids)
        if (!(s.more = out.push(id, logits.data(), kCount))) break;
    out.finish();
    return s;
}

std::string joined(const std::vector<std::string>& pieces) {
    std::string all;
    for (const std::string& p : pieces) all += p;
    return all;
}

TEST(ReplyStream, WithoutTheFlagEveryByteIsStreamed) {
    const Streamed s = stream({kSpace, kNewline, kTab, kHi, kThere}, false);
    EXPECT_EQ(s.res.text, " \n\tHi there");
    EXPECT_EQ(joined(s.pieces), s.res.text);
    EXPECT_EQ(s.res.tokens.size(), 5u);
}

TEST(ReplyStream, TheFlagDropsOnlyTheLeadingWhitespace) {
    const Streamed s = stream({kSpace, kNewline, kTwoSpaces, kTab, kHi, kSpace, kNewline, kThere, kSpace}, true);
    EXPECT_EQ(s.res.text, "Hi \n there ");  // whitespace after the first visible character stays
    EXPECT_EQ(joined(s.pieces), s.res.text);
    ASSERT_FALSE(s.pieces.empty());
    EXPECT_EQ(s.pieces.front().front(), 'H');  // no piece of whitespace alone went out first
    EXPECT_EQ(s.res.tokens.size(), 9u);        // the dropped text's tokens still count
    EXPECT_GT(s.res.ttft_ms, 0.0);
}

TEST(ReplyStream, UnicodeSpacesAreWhitespaceButOtherCharactersAreNot) {
    // U+00A0 (C2 A0) and U+3000 (E3 80 80), each split over tokens: the decoder holds the first
    // bytes back, so the trim sees whole characters.
    Streamed s = stream({kC2, kA0, kE3, k80, k80, kHi}, true);
    EXPECT_EQ(s.res.text, "Hi");
    EXPECT_EQ(joined(s.pieces), "Hi");
    s = stream({kC3, kA9, kSpace, kHi}, true);  // "é": visible, kept whole
    EXPECT_EQ(s.res.text, "\xC3\xA9 Hi");
    s = stream({kSpace, kC2, kA0, kHi}, false);
    EXPECT_EQ(s.res.text, " \xC2\xA0Hi");
}

TEST(ReplyStream, AReplyOfWhitespaceAloneIsEmpty) {
    const Streamed s = stream({kSpace, kNewline, kEnd}, true);
    EXPECT_EQ(s.res.text, "");
    EXPECT_TRUE(s.pieces.empty());
    EXPECT_EQ(s.res.stop, StopReason::EndOfGeneration);
    EXPECT_EQ(s.res.tokens, (std::vector<int32_t>{kSpace, kNewline}));
    EXPECT_FALSE(s.more);
}

TEST(ReplyStream, StopStringsAreMatchedOnTheTextAsDecoded) {
    // "\n\n" is held back while it may come: the first "\n" waits, then goes out with "Hi" and
    // is trimmed there; the stop string later ends the reply.
    Streamed s = stream({kSpace, kNewline, kHi, kNewline, kNewline, kThere}, true, {"\n\n"});
    EXPECT_EQ(s.res.text, "Hi");
    EXPECT_EQ(s.res.stop, StopReason::StopString);
    EXPECT_EQ(joined(s.pieces), "Hi");
    s = stream({kSpace, kNewline, kHi, kNewline, kNewline, kThere}, false, {"\n\n"});
    EXPECT_EQ(s.res.text, " \nHi");
    // A stop string right after the leading whitespace: an empty reply.
    s = stream({kSpace, kS, kT, kO, kP, kHi}, true, {"STOP"});
    EXPECT_EQ(s.res.text, "");
    EXPECT_TRUE(s.pieces.empty());
    EXPECT_EQ(s.res.stop, StopReason::StopString);
    // A stop string that starts with whitespace still matches the leading whitespace.
    s = stream({kNewline, kS, kHi}, true, {"\nS"});
    EXPECT_EQ(s.res.text, "");
    EXPECT_EQ(s.res.stop, StopReason::StopString);
    // Held back for a stop string that never came, then flushed at the end: trimmed too.
    s = stream({kSpace, kS, kT}, true, {"STOP"});
    EXPECT_EQ(s.res.text, "ST");
    EXPECT_EQ(joined(s.pieces), "ST");
}

TEST(ReplyStream, ACallbackThatStopsEndsTheReply) {
    // The first piece the callback sees is the first visible text; stopping there cancels.
    const Streamed s = stream({kSpace, kHi, kThere}, true, {}, 1);
    EXPECT_EQ(s.pieces, (std::vector<std::string>{"Hi"}));
    EXPECT_EQ(s.res.stop, StopReason::Cancelled);
    EXPECT_FALSE(s.more);
}

// The fake model's reply (fake_seq_backend.h) to prompt_of(seed) starts with its space token
// (62) for some seeds: the first such prompt.
std::vector<int32_t> prompt_replying_with_a_space() {
    for (uint32_t seed = 1;; ++seed) {
        std::vector<int32_t> p;
        for (int i = 0; i < 6; ++i) p.push_back(int32_t(fake_mix(seed * 7919u + uint64_t(i)) % 62));
        if (fake_next(p) == 62) return p;
    }
}

TEST(ReplyStream, SessionAndTheSchedulerBothApplyTheFlag) {
    static const std::unique_ptr<Tokenizer> ftok = Tokenizer::create(fake_vocab());
    const std::vector<int32_t> prompt = prompt_replying_with_a_space();
    GenerateOptions o;
    o.max_tokens = 12;
    o.sampling.temperature = 0;
    Model model;
    auto alone = [&](bool trim) {
        FakeSeqBackend be(256, 16, 16, 64, false);
        Session s(model, be, *ftok);
        GenerateOptions opt = o;
        opt.trim_leading_space = trim;
        std::string streamed;
        GenerateResult r = s.generate(prompt, opt, [&](std::string_view t) {
            streamed += t;
            return true;
        });
        EXPECT_EQ(streamed, r.text);
        return r;
    };
    const GenerateResult raw = alone(false), trimmed = alone(true);
    ASSERT_FALSE(raw.text.empty());
    ASSERT_EQ(raw.text.front(), ' ');
    const std::string want = raw.text.substr(raw.text.find_first_not_of(' ') == std::string::npos ? raw.text.size() : raw.text.find_first_not_of(' '));
    EXPECT_EQ(trimmed.text, want);
    EXPECT_EQ(trimmed.tokens, raw.tokens);

    FakeSeqBackend be(256, 16, 32, 64, true);
    BatchScheduler sched(be, *ftok);
    std::string streamed[2];
    GenerateResult got[2];
    for (int trim = 0; trim < 2; ++trim) {
        BatchRequest r;
        r.prompt = prompt;
        r.options = o;
        r.options.trim_leading_space = trim == 1;
        r.on_text = [&streamed, trim](std::string_view t) {
            streamed[trim] += t;
            return true;
        };
        r.on_finished = [&got, trim](const BatchOutcome& out) { got[trim] = out.result; };
        sched.submit(std::move(r));
    }
    sched.run_until_idle();
    EXPECT_EQ(got[0].text, raw.text);
    EXPECT_EQ(streamed[0], raw.text);
    EXPECT_EQ(got[1].text, want);
    EXPECT_EQ(streamed[1], want);
}

TEST(ReplyStream, Stories260KReplyAfterACommaStartsWithASpace) {
    const char* kStories = "models/stories260K.gguf";
    LD_REQUIRE_SHARED(kStories);
    LoadedModel m = load(shared_path(kStories));
    Session s(*m.model, *m.backend, *m.tok);
    const auto prompt = tokenize_prompt(*m.tok, "Once upon a time,");
    GenerateOptions o;
    o.max_tokens = 8;
    o.sampling.temperature = 0;
    const GenerateResult raw = s.generate(prompt, o, nullptr);
    o.trim_leading_space = true;
    std::string streamed;
    const GenerateResult trimmed = s.generate(prompt, o, [&](std::string_view t) {
        streamed += t;
        return true;
    });
    ASSERT_GT(raw.text.size(), 1u);
    EXPECT_EQ(raw.text.front(), ' ') << raw.text;  // SentencePiece: "▁there"
    EXPECT_EQ(trimmed.text, raw.text.substr(1));
    EXPECT_EQ(streamed, trimmed.text);
    EXPECT_EQ(trimmed.tokens, raw.tokens);
}

}  // namespace
}  // namespace ld::test
