#include "inference/chat/python_literal.h"

#include <cmath>
#include <cstdlib>

#include "inference/chat/json_writer.h"
#include "inference/core/error.h"
#include "inference/tokenizer/unicode.h"

namespace ld::python {
namespace {

constexpr int kMaxDepth = 64;

bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }
bool digit(char c) { return c >= '0' && c <= '9'; }

class Reader {
public:
    Reader(std::string_view s, size_t pos) : s_(s), i_(pos) {}
    size_t pos() const { return i_; }

    json::Value literal(int depth) {
        if (depth > kMaxDepth) error("nesting too deep");
        skip_ws();
        if (i_ >= s_.size()) error("unexpected end");
        const char c = s_[i_];
        json::Value v;
        if (c == '\'' || c == '"') {
            v.type = json::Value::Type::String;
            v.string = string();
            // Adjacent literals join: 'a' 'b' is 'ab'.
            while (true) {
                skip_ws();
                if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) break;
                v.string += string();
            }
        } else if (c == '[' || c == '(') {
            const char close = c == '[' ? ']' : ')';
            ++i_;
            v.type = json::Value::Type::Array;
            while (true) {
                skip_ws();
                if (eat(close)) break;
                v.array.push_back(literal(depth + 1));
                skip_ws();
                if (eat(close)) break;
                if (!eat(',')) error(close == ']' ? "expected ',' or ']'" : "expected ',' or ')'");
            }
        } else if (c == '{') {
            ++i_;
            v.type = json::Value::Type::Object;
            while (true) {
                skip_ws();
                if (eat('}')) break;
                const size_t key_at = i_;
                json::Value key = literal(depth + 1);
                skip_ws();
                if (!eat(':')) error("expected ':' in a dict");
                json::Value value = literal(depth + 1);
                std::string name;
                switch (key.type) {
                    case json::Value::Type::String: name = key.string; break;
                    case json::Value::Type::Number:
                    case json::Value::Type::Bool:
                    case json::Value::Type::Null: name = json_key_text(key); break;
                    default: i_ = key_at; error("a dict key must be a string, number, bool or None");
                }
                v.object.emplace_back(std::move(name), std::move(value));
                skip_ws();
                if (eat('}')) break;
                if (!eat(',')) error("expected ',' or '}'");
            }
        } else if (c == '-' || c == '+' || c == '.' || digit(c)) {
            v.type = json::Value::Type::Number;
            v.number = number();
        } else if (word("True")) {
            v.type = json::Value::Type::Bool;
            v.boolean = true;
        } else if (word("False")) {
            v.type = json::Value::Type::Bool;
        } else if (word("None")) {
        } else if (ident_start(c)) {
            error("a name is not a literal (variables are not allowed)");
        } else {
            error("unexpected character");
        }
        return v;
    }

    void skip_ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }

private:
    [[noreturn]] void error(const char* what) const { fail(what, " at byte ", i_); }

    bool eat(char c) {
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool word(std::string_view w) {
        if (!s_.substr(i_).starts_with(w)) return false;
        if (i_ + w.size() < s_.size() && ident_char(s_[i_ + w.size()])) return false;
        i_ += w.size();
        return true;
    }

    static std::string json_key_text(const json::Value& k) {
        if (k.type == json::Value::Type::Null) return "null";
        if (k.type == json::Value::Type::Bool) return k.boolean ? "true" : "false";
        return str(k);
    }

    double number() {
        bool negative = false;
        while (i_ < s_.size() && (s_[i_] == '-' || s_[i_] == '+')) {
            if (s_[i_] == '-') negative = !negative;
            ++i_;
            skip_ws();
        }
        std::string text;
        auto take_digits = [&](auto is_digit) {
            while (i_ < s_.size() && (is_digit(s_[i_]) || (s_[i_] == '_' && !text.empty()))) {
                if (s_[i_] != '_') text += s_[i_];
                ++i_;
            }
        };
        if (i_ + 1 < s_.size() && s_[i_] == '0' && std::string_view("xXoObB").find(s_[i_ + 1]) != std::string_view::npos) {
            const char kind = char(s_[i_ + 1] | 0x20);
            i_ += 2;
            const int base = kind == 'x' ? 16 : kind == 'o' ? 8 : 2;
            take_digits([&](char c) {
                const int d = digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : 99;
                return d < base;
            });
            if (text.empty()) error("malformed number");
            const double v = double(std::strtoull(text.c_str(), nullptr, base));
            return negative ? -v : v;
        }
        take_digits(digit);
        if (i_ < s_.size() && s_[i_] == '.') {
            text += s_[i_++];
            take_digits(digit);
        }
        if (text.empty() || text == ".") error("malformed number");
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            text += s_[i_++];
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) text += s_[i_++];
            const size_t before = text.size();
            take_digits(digit);
            if (text.size() == before) error("malformed number");
        }
        if (i_ < s_.size() && ident_char(s_[i_])) error("malformed number");
        const double v = std::strtod(text.c_str(), nullptr);
        return negative ? -v : v;
    }

    uint32_t hex(int n) {
        if (s_.size() - i_ < size_t(n)) error("truncated escape");
        uint32_t v = 0;
        for (int k = 0; k < n; ++k) {
            const char c = s_[i_++];
            v <<= 4;
            if (digit(c)) v |= uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f') v |= uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= uint32_t(c - 'A' + 10);
            else error("bad hex escape");
        }
        return v;
    }

    std::string string() {
        const char q = s_[i_];
        const bool triple = s_.substr(i_).starts_with(std::string(3, q));
        i_ += triple ? 3 : 1;
        std::string out;
        while (true) {
            if (i_ >= s_.size()) error("unterminated string");
            const char c = s_[i_];
            if (c == q && (!triple || s_.substr(i_).starts_with(std::string(3, q)))) {
                i_ += triple ? 3 : 1;
                return out;
            }
            if ((c == '\n' || c == '\r') && !triple) error("line break in a string");
            ++i_;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) error("unterminated string");
            const char e = s_[i_++];
            switch (e) {
                case '\n': break;  // a line continuation
                case '\\': out += '\\'; break;
                case '\'': out += '\''; break;
                case '"': out += '"'; break;
                case 'a': out += '\a'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'v': out += '\v'; break;
                case 'x': unicode::append_utf8(out, hex(2)); break;
                case 'u': append_code_point(out, hex(4)); break;
                case 'U': append_code_point(out, hex(8)); break;
                default:
                    if (e >= '0' && e <= '7') {
                        uint32_t v = uint32_t(e - '0');
                        for (int k = 0; k < 2 && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7'; ++k)
                            v = v * 8 + uint32_t(s_[i_++] - '0');
                        unicode::append_utf8(out, v);
                    } else {
                        // Python keeps an unknown escape as written.
                        out += '\\';
                        out += e;
                    }
            }
        }
    }

    void append_code_point(std::string& out, uint32_t cp) {
        if (cp > 0x10FFFF) error("escape beyond U+10FFFF");
        // A lone surrogate cannot be UTF-8; it becomes U+FFFD as in the JSON reader.
        unicode::append_utf8(out, cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp);
    }

    std::string_view s_;
    size_t i_;
};

std::string float_repr(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    // Python's repr: the shortest round-trip digits, plain for 1e-4 <= |v| < 1e16.
    std::string out = std::signbit(v) ? "-" : "";
    if (v == 0) return out + "0.0";
    int exp10 = 0;
    const std::string digits = json::shortest_digits(v, &exp10);
    if (exp10 >= -4 && exp10 < 16) {
        const int n = exp10 + 1;
        if (n <= 0) {
            out.append("0.").append(size_t(-n), '0').append(digits);
        } else if (size_t(n) >= digits.size()) {
            out.append(digits).append(size_t(n) - digits.size(), '0').append(".0");
        } else {
            out.append(digits, 0, size_t(n)).append(1, '.').append(digits, size_t(n));
        }
    } else {
        out += digits.substr(0, 1);
        if (digits.size() > 1) out.append(1, '.').append(digits, 1);
        out += exp10 < 0 ? "e-" : "e+";
        const std::string e = std::to_string(std::abs(exp10));
        if (e.size() < 2) out += '0';
        out += e;
    }
    return out;
}

std::string string_repr(const std::string& s) {
    // Single quotes unless the text has one and no double quote, as Python chooses.
    const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char q = dq ? '"' : '\'';
    static const char* hex = "0123456789abcdef";
    std::string out(1, q);
    for (char c : s) {
        if (c == q || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (uint8_t(c) < 0x20 || c == 0x7f) {
            out += "\\x";
            out += hex[uint8_t(c) >> 4];
            out += hex[uint8_t(c) & 15];
        } else {
            out += c;
        }
    }
    out += q;
    return out;
}

}  // namespace

json::Value parse_literal(std::string_view text, size_t& pos) {
    Reader r(text, pos);
    json::Value v = r.literal(0);
    pos = r.pos();
    return v;
}

size_t identifier_length(std::string_view text, size_t pos) {
    if (pos >= text.size() || !ident_start(text[pos])) return 0;
    size_t n = 1;
    while (pos + n < text.size()) {
        const char c = text[pos + n];
        const bool inner = (c == '.' || c == '-') && pos + n + 1 < text.size() && ident_char(text[pos + n + 1]);
        if (!ident_char(c) && !inner) break;
        ++n;
    }
    return n;
}

std::string repr(const json::Value& v) {
    switch (v.type) {
        case json::Value::Type::Null: return "None";
        case json::Value::Type::Bool: return v.boolean ? "True" : "False";
        case json::Value::Type::Number:
            if (std::isfinite(v.number) && v.number == std::floor(v.number) && std::fabs(v.number) < 1e16)
                return std::to_string(int64_t(v.number));
            return float_repr(v.number);
        case json::Value::Type::String: return string_repr(v.string);
        case json::Value::Type::Array: {
            std::string out = "[";
            for (size_t i = 0; i < v.array.size(); ++i) out += (i ? ", " : "") + repr(v.array[i]);
            return out + "]";
        }
        case json::Value::Type::Object: {
            std::string out = "{";
            for (size_t i = 0; i < v.object.size(); ++i)
                out += (i ? ", " : "") + string_repr(v.object[i].first) + ": " + repr(v.object[i].second);
            return out + "}";
        }
    }
    return "None";
}

std::string str(const json::Value& v) { return v.type == json::Value::Type::String ? v.string : repr(v); }

}  // namespace ld::python
