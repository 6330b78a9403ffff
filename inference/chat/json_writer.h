#pragma once
// A small JSON writer for tool prompts. It writes what @huggingface/jinja's tojson filter (and so
// JavaScript's JSON.stringify) writes, because the reference chat templates are rendered with it:
// ", " and ": " between items when compact; "," and ": " with one item per line when indented;
// strings escaped as JSON.stringify does (non-ASCII kept as UTF-8); numbers as JavaScript prints
// them (3, 0.5, 1e+21, 1e-7).
#include <string>
#include <string_view>

#include "inference/tokenizer/json_lite.h"

namespace ld::json {

// A JSON string literal with its quotes.
std::string quote(std::string_view s);

// The shortest digits that read back as |v| (finite, nonzero), and in *exp10 the power of ten of
// the first: 0.0125 -> "125", -2. Both JavaScript's and Python's number texts are laid out from it.
std::string shortest_digits(double v, int* exp10);

// JavaScript's Number::toString of `v` (shortest text that reads back the same double); NaN and
// infinities, which JSON cannot hold, are "null" as in JSON.stringify.
std::string number_text(double v);

// The document; indent = 0 writes it on one line, indent > 0 one member per line.
std::string write(const Value& v, int indent = 0);

}  // namespace ld::json
