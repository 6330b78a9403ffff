#pragma once
// The tool loop's UI on a terminal (llamadesk-cli generate --chat --mcp-config): reply text to
// `out`, calls, decisions and results to `info`, and the approval question read as a line from
// `answers` (the terminal). With no terminal to ask (answers == nullptr) every call is denied,
// and the model is told so by the loop.
#include <cstdio>

#include "app/mcp/tool_loop.h"

namespace ld::mcp {

class TerminalToolUi final : public ToolLoopUi {
public:
    // `answers` may be null: nobody to ask. None of the streams is closed here.
    TerminalToolUi(std::FILE* out, std::FILE* info, std::FILE* answers);

    Approval approve(const PendingCall& call) override;
    void text(std::string_view piece) override;
    void replyEnd() override;
    void toolCall(const PendingCall& call) override;
    void decided(const PendingCall& call, Approval approval, const QString& how) override;
    void toolResult(const PendingCall& call, const std::string& text, bool isError, bool truncated) override;
    void malformed(const std::string& note) override;
    void notice(const std::string& line) override;

    // "a", "allow", "y", "yes", "o", "once" -> AllowOnce; "always" (or "A") -> AlwaysAllow;
    // anything else, an empty line or end of input -> Deny. Case-insensitive except "A".
    static Approval parseAnswer(std::string_view line);

private:
    std::FILE* out_;
    std::FILE* info_;
    std::FILE* answers_;
    bool midLine_ = false;  // reply text printed without its final newline yet
};

}  // namespace ld::mcp
