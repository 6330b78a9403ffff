#include "inference/chat/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace ld::json {
namespace {

void write_value(std::string& out, const Value& v, int indent, int depth) {
    switch (v.type) {
        case Value::Type::Null: out += "null"; return;
        case Value::Type::Bool: out += v.boolean ? "true" : "false"; return;
        case Value::Type::Number: out += number_text(v.number); return;
        case Value::Type::String: out += quote(v.string); return;
        case Value::Type::Array:
        case Value::Type::Object: break;
    }
    const bool is_array = v.type == Value::Type::Array;
    const size_t n = is_array ? v.array.size() : v.object.size();
    out += is_array ? '[' : '{';
    // An empty container stays "[]" / "{}" even when indenting, as JSON.stringify does.
    std::string child;
    if (indent > 0) child.append(1, '\n').append(size_t(indent) * size_t(depth + 1), ' ');
    for (size_t i = 0; i < n; ++i) {
        if (i > 0) out += indent > 0 ? "," : ", ";
        out += child;
        if (is_array) {
            write_value(out, v.array[i], indent, depth + 1);
        } else {
            out += quote(v.object[i].first);
            out += ": ";
            write_value(out, v.object[i].second, indent, depth + 1);
        }
    }
    if (indent > 0 && n > 0) out.append(1, '\n').append(size_t(indent) * size_t(depth), ' ');
    out += is_array ? ']' : '}';
}

}  // namespace

std::string quote(std::string_view s) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (uint8_t(c) < 0x20) {
                    out += "\\u00";
                    out += hex[uint8_t(c) >> 4];
                    out += hex[uint8_t(c) & 15];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
}

std::string shortest_digits(double v, int* exp10) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::scientific);
    const std::string_view sci(buf, size_t(r.ptr - buf));
    const size_t e_pos = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e_pos))
        if (c != '.') digits += c;
    *exp10 = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
    return digits;
}

std::string number_text(double v) {
    if (!std::isfinite(v)) return "null";
    if (v == 0) return "0";  // also -0, as JavaScript prints it
    // The shortest round-trip digits and their exponent, then ECMAScript's Number::toString
    // layout (ECMA-262 6.1.6.1.20): plain notation for 1e-7 < |v| < 1e21, exponent otherwise.
    int exp10 = 0;
    const std::string digits = shortest_digits(v, &exp10);
    const int k = int(digits.size());
    const int n = exp10 + 1;  // the decimal point sits after n digits
    std::string out = v < 0 ? "-" : "";
    if (k <= n && n <= 21) {
        out += digits + std::string(size_t(n - k), '0');
    } else if (0 < n && n <= 21) {
        out += digits.substr(0, size_t(n)) + "." + digits.substr(size_t(n));
    } else if (-6 < n && n <= 0) {
        out.append("0.").append(size_t(-n), '0').append(digits);
    } else {
        out += digits.substr(0, 1);
        if (k > 1) out += "." + digits.substr(1);
        out += n - 1 >= 0 ? "e+" : "e-";
        out += std::to_string(std::abs(n - 1));
    }
    return out;
}

std::string write(const Value& v, int indent) {
    std::string out;
    write_value(out, v, indent, 0);
    return out;
}

}  // namespace ld::json
