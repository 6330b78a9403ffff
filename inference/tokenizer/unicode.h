#pragma once
// UTF-8 and Unicode-category helpers shared by the tokenizers and the stream decoder.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ld::unicode {

enum CodepointFlag : uint8_t { kLetter = 1, kNumber = 2, kWhitespace = 4 };

// Category flags of a code point (0 for anything that is not a letter, number or space).
uint8_t codepoint_flags(uint32_t cp);
inline bool is_letter(uint32_t cp) { return codepoint_flags(cp) & kLetter; }
inline bool is_number(uint32_t cp) { return codepoint_flags(cp) & kNumber; }
inline bool is_whitespace(uint32_t cp) { return codepoint_flags(cp) & kWhitespace; }

// Result of looking at the UTF-8 sequence starting at some byte.
struct Utf8Seq {
    enum Status { Valid, Invalid, Incomplete } status;
    // Valid: the sequence length. Invalid: the length of the maximal ill-formed subpart that
    // becomes one U+FFFD (Unicode's "best practice", as Python and Rust do). Incomplete: the
    // bytes present, all a valid prefix that more bytes could complete.
    size_t len;
    uint32_t cp;  // Valid only
};
Utf8Seq utf8_sequence(const char* s, size_t n);

// Code points of a UTF-8 string; each invalid subpart becomes U+FFFD. `offsets`, when given,
// receives the byte offset of each code point plus a final entry equal to text.size().
std::vector<uint32_t> decode_utf8(std::string_view text, std::vector<size_t>* offsets = nullptr);

void append_utf8(std::string& out, uint32_t cp);

// Replaces every invalid subpart with U+FFFD (an incomplete tail included).
std::string repair_utf8(std::string_view text);

}  // namespace ld::unicode
