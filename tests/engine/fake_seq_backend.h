#pragma once
// A fake many-sequence backend for the KV pool and scheduler tests: its "KV cache" stores each
// slot's token and position, and a token's logits are a hash of every token its sequence holds
// at positions [0, p], read back through the block table. So a wrong block table, a shared block
// written over, a stale or missing slot changes (or, for a slot of another position, throws on)
// the output, and each sequence's output is a pure function of its own token history
// (fake_next()), which the tests compare with Session running the same fake alone.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/core/error.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::test {

// 62 letters and digits, a space, "Ã" and "©" (bytes 0xC3 and 0xA9 in byte-level BPE, so a
// reply can hold incomplete UTF-8), an end-of-generation token and an unknown one.
inline Vocab fake_vocab() {
    Vocab v;
    v.model = "gpt2";
    v.pre = "llama-bpe";
    for (char c = 'a'; c <= 'z'; ++c) v.tokens.push_back(std::string(1, c));
    for (char c = 'A'; c <= 'Z'; ++c) v.tokens.push_back(std::string(1, c));
    for (char c = '0'; c <= '9'; ++c) v.tokens.push_back(std::string(1, c));
    v.tokens.push_back("\xC4\xA0");  // "Ġ": a space
    v.tokens.push_back("\xC3\x83");  // "Ã": byte 0xC3
    v.tokens.push_back("\xC2\xA9");  // "©": byte 0xA9
    v.tokens.push_back("<|end|>");
    v.tokens.push_back("<unk>");
    v.types.assign(v.tokens.size(), int32_t(TokenType::Normal));
    v.eos = int32_t(v.tokens.size()) - 2;
    v.unk = int32_t(v.tokens.size()) - 1;
    v.types[size_t(v.eos)] = int32_t(TokenType::Control);
    v.types[size_t(v.unk)] = int32_t(TokenType::Unknown);
    v.bos = -1;
    v.add_bos = false;
    return v;
}

constexpr int kFakeVocab = 67;
constexpr int32_t kFakeEos = 65;

inline uint64_t fake_mix(uint64_t x) {
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    return x ^ (x >> 33);
}

// The fake model: a hash of the history picks the next token (the end token about one time in
// 40, never the unknown one).
inline int32_t fake_pick(uint64_t h) {
    if (h % 40 == 0) return kFakeEos;
    return int32_t((h >> 8) % uint64_t(kFakeEos));
}

inline uint64_t fake_step_hash(uint64_t h, int32_t token) { return fake_mix(h ^ (uint64_t(uint32_t(token)) * 0x9e3779b97f4a7c15ull + 1)); }

// Logits for a history hash: the picked token far ahead, a small spread over the others (so
// sampling with a temperature has choices too).
inline void fake_logits(uint64_t h, float* out) {
    for (int i = 0; i < kFakeVocab; ++i) out[i] = float(fake_mix(h + uint64_t(i)) % 1000) / 1000.0f;
    out[kFakeVocab - 1] = -1e9f;  // never the unknown token
    out[fake_pick(h)] = 4.0f;
}

// The greedy next token after a whole history.
inline int32_t fake_next(const std::vector<int32_t>& history) {
    uint64_t h = 1;
    for (int32_t t : history) h = fake_step_hash(h, t);
    return fake_pick(h);
}

class FakeSeqBackend : public Backend {
public:
    FakeSeqBackend(int n_ctx, int block, int n_blocks, int batch = 64, bool sequences = true)
        : n_ctx_(n_ctx), block_(block), n_blocks_(n_blocks), batch_(batch), sequences_(sequences),
          slots_(size_t(n_blocks) * size_t(block)) {}
    std::string name() const override { return "fake"; }
    int context_size() const override { return n_ctx_; }
    int vocab_size() const override { return kFakeVocab; }
    int batch_size() const override { return batch_; }
    bool supports_sequences() const override { return sequences_; }
    int kv_block_size() const override { return block_; }
    int kv_blocks() const override { return n_blocks_; }
    void copy_kv_block(int src, int dst) override {
        if (src < 0 || dst < 0 || src >= n_blocks_ || dst >= n_blocks_ || src == dst) fail("fake: bad copy ", src, " -> ", dst);
        for (int i = 0; i < block_; ++i) slots_[size_t(dst * block_ + i)] = slots_[size_t(src * block_ + i)];
        ++copies;
    }

    int64_t tokens_run = 0;  // every token through forward_batch
    int64_t steps = 0;
    int copies = 0;
    bool fail_next = false;  // the next step throws (a device failure)

    struct Slot {
        int32_t token = -1;
        int32_t pos = -1;
    };
    const Slot& slot(int64_t s) const { return slots_[size_t(s)]; }

protected:
    void forward_batch(const BatchView& b) override {
        if (fail_next) {
            fail_next = false;
            fail("fake: the device failed");
        }
        ++steps;
        tokens_run += b.n;
        for (int t = 0; t < b.n; ++t) slots_[size_t(b.slot(t))] = Slot{b.tokens[t], b.positions[t]};
        if (!b.logits) return;
        for (int r = 0; r < b.n_logits; ++r) {
            const int t = b.logit_row[r];
            const SeqView& v = b.seqs[b.seq[t]];
            uint64_t h = 1;
            for (int q = 0; q <= b.positions[t]; ++q) {
                const int64_t at = int64_t(v.blocks[q / b.block]) * b.block + q % b.block;
                const Slot& s = slots_[size_t(at)];
                if (s.pos != q) fail("fake: position ", q, " read from a slot that holds position ", s.pos);
                h = fake_step_hash(h, s.token);
            }
            fake_logits(h, b.logits + size_t(r) * kFakeVocab);
        }
    }

private:
    int n_ctx_, block_, n_blocks_, batch_;
    bool sequences_;
    std::vector<Slot> slots_;
};

}  // namespace ld::test
