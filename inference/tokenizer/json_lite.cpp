#include "inference/tokenizer/json_lite.h"

#include <cmath>
#include <cstdlib>

#include "inference/core/error.h"
#include "inference/tokenizer/unicode.h"

namespace ld::json {
namespace {

class Parser {
public:
    explicit Parser(std::string_view s) : s_(s) {}

    Value document() {
        Value v = value(0);
        skip_ws();
        if (i_ != s_.size()) error("trailing characters");
        return v;
    }

private:
    [[noreturn]] void error(const char* what) const { throw ParseError(what, i_); }

    void skip_ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool eat(char c) {
        skip_ws();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!eat(c)) error(c == ':' ? "expected ':'" : c == ',' ? "expected ','" : "unexpected character");
    }

    Value value(int depth) {
        if (depth > 256) error("nesting too deep");
        skip_ws();
        if (i_ >= s_.size()) error("unexpected end");
        Value v;
        const char c = s_[i_];
        if (c == '{') {
            ++i_;
            v.type = Value::Type::Object;
            if (eat('}')) return v;
            do {
                skip_ws();
                std::string key = string();
                expect(':');
                v.object.emplace_back(std::move(key), value(depth + 1));
            } while (eat(','));
            expect('}');
        } else if (c == '[') {
            ++i_;
            v.type = Value::Type::Array;
            if (eat(']')) return v;
            do v.array.push_back(value(depth + 1));
            while (eat(','));
            expect(']');
        } else if (c == '"') {
            v.type = Value::Type::String;
            v.string = string();
        } else if (literal("true")) {
            v.type = Value::Type::Bool;
            v.boolean = true;
        } else if (literal("false")) {
            v.type = Value::Type::Bool;
        } else if (literal("null")) {
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            v.type = Value::Type::Number;
            v.number = number();
        } else {
            error("unexpected character");
        }
        return v;
    }

    bool literal(std::string_view word) {
        if (s_.substr(i_).starts_with(word)) {
            i_ += word.size();
            return true;
        }
        return false;
    }

    double number() {
        const size_t start = i_;
        if (s_[i_] == '-') ++i_;
        auto digits = [&] {
            const size_t d = i_;
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
            if (i_ == d) error("malformed number");
        };
        digits();
        if (i_ < s_.size() && s_[i_] == '.') { ++i_; digits(); }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
            digits();
        }
        return std::strtod(std::string(s_.substr(start, i_ - start)).c_str(), nullptr);
    }

    uint32_t hex4() {
        if (s_.size() - i_ < 4) error("truncated \\u escape");
        uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s_[i_++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f') v |= uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= uint32_t(c - 'A' + 10);
            else error("bad \\u escape");
        }
        return v;
    }

    std::string string() {
        if (i_ >= s_.size() || s_[i_] != '"') error("expected a string");
        ++i_;
        std::string out;
        while (true) {
            if (i_ >= s_.size()) error("unterminated string");
            const char c = s_[i_++];
            if (c == '"') break;
            if (uint8_t(c) < 0x20) error("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) error("unterminated escape");
            const char e = s_[i_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(i_).starts_with("\\u")) {
                        const size_t save = i_;
                        i_ += 2;
                        const uint32_t lo = hex4();
                        if (lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        else i_ = save;
                    }
                    // A lone surrogate cannot be UTF-8; it becomes U+FFFD like in Python.
                    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
                    unicode::append_utf8(out, cp);
                    break;
                }
                default: error("bad escape");
            }
        }
        return out;
    }

    std::string_view s_;
    size_t i_ = 0;
};

}  // namespace

const Value* Value::find(std::string_view key) const {
    for (const auto& [k, v] : object)
        if (k == key) return &v;
    return nullptr;
}

const std::string& Value::as_string(std::string_view what) const {
    if (type != Type::String) fail("JSON: ", what, " is not a string");
    return string;
}

int64_t Value::as_int(std::string_view what) const {
    if (type != Type::Number || number != std::floor(number) || std::fabs(number) > 9.0e15)
        fail("JSON: ", what, " is not an integer");
    return int64_t(number);
}

bool Value::as_bool(std::string_view what) const {
    if (type != Type::Bool) fail("JSON: ", what, " is not a boolean");
    return boolean;
}

Value parse(std::string_view text) { return Parser(text).document(); }

}  // namespace ld::json
