// libFuzzer target for the API server's request parser (app/cli/server/api_request.cpp) and the
// error/chunk formatting that echoes client text back. Any input must end in true or an ApiError
// with a 400 status; an accepted request must satisfy the limits the server relies on; the JSON
// written back must never throw (client strings may hold invalid UTF-8).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "app/cli/server/api_format.h"
#include "app/cli/server/api_request.h"

namespace {

void require(bool ok) {
    if (!ok) __builtin_trap();  // a parser invariant is broken
}

void check(ld::server::Endpoint ep, std::string_view body) {
    using namespace ld::server;
    ApiRequest r;
    ApiError e;
    if (!parse_api_request(ep, body, &r, &e)) {
        require(e.status == 400 && !e.message.empty());
        require(!error_json(e).empty());
        return;
    }
    require(r.endpoint == ep);
    if (ep == Endpoint::Chat) {
        require(!r.messages.empty());
        for (const ApiMessage& m : r.messages)
            require(m.role == "system" || m.role == "user" || m.role == "assistant");
    } else {
        require(r.prompt_tokens.empty() || r.prompt.empty());
        for (int32_t t : r.prompt_tokens) require(t >= 0);
    }
    require(!r.max_tokens || *r.max_tokens >= 1);
    require(r.temperature >= 0 && r.temperature <= 2);
    require(r.top_p >= 0 && r.top_p <= 1);
    require(r.stop.size() <= 4);
    for (const std::string& s : r.stop) require(!s.empty());
    require(r.top_logprobs >= 0 && r.top_logprobs <= 20);
    require(!r.include_usage || r.stream);
    ResponseMeta m;
    m.endpoint = ep;
    m.model = r.model;
    m.logprobs = r.logprobs;
    const std::string text = ep == Endpoint::Chat ? r.messages.back().content : r.prompt;
    TokenLogprob t;
    t.bytes = text;
    t.top.emplace_back(text, -1.0f);
    require(!sse_text_chunk(m, text, {t}).empty());
    require(!full_response(m, text, "stop", {}, {t}).empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    check(ld::server::Endpoint::Chat, body);
    check(ld::server::Endpoint::Completion, body);
    return 0;
}
