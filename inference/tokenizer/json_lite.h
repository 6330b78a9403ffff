#pragma once
// A small JSON reader for tokenizer files (tokenizer.json) and test references. Strict enough
// to reject malformed input with ld::Error; not a general-purpose library.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inference/core/error.h"

namespace ld::json {

// What parse() throws for malformed text: its what() reads "JSON: <reason> at byte <offset>";
// callers that parse a piece of a larger text rebase the offset from these fields.
struct ParseError : Error {
    ParseError(std::string why, size_t at)
        : Error("JSON: " + why + " at byte " + std::to_string(at)), reason(std::move(why)), offset(at) {}
    std::string reason;
    size_t offset;  // bytes from the start of the parsed text
};

struct Value {
    enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
    bool boolean = false;
    double number = 0.0;
    std::string string;
    std::vector<Value> array;
    std::vector<std::pair<std::string, Value>> object;  // in file order

    bool is_null() const { return type == Type::Null; }
    bool is_string() const { return type == Type::String; }
    bool is_array() const { return type == Type::Array; }
    bool is_object() const { return type == Type::Object; }
    bool is_number() const { return type == Type::Number; }
    // Member of an object, or nullptr (also when this is not an object).
    const Value* find(std::string_view key) const;
    // Typed accessors that throw ld::Error naming `what` on a type mismatch.
    const std::string& as_string(std::string_view what) const;
    int64_t as_int(std::string_view what) const;
    bool as_bool(std::string_view what) const;
};

// Parses one JSON document (UTF-8). Throws ParseError (an ld::Error) with the byte offset of the
// problem.
Value parse(std::string_view text);

}  // namespace ld::json
