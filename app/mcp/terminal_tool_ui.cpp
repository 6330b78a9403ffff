#include "app/mcp/terminal_tool_ui.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace ld::mcp {

namespace {

std::string serverLabel(const PendingCall& call) {
    return call.server.isEmpty() ? std::string("no server has this tool") : "MCP server \"" + call.server.toStdString() + "\"";
}

// Results can be long; the terminal shows their beginning (the model gets the whole, truncated
// only to its context budget).
std::string preview(const std::string& text) {
    constexpr size_t kMax = 400;
    if (text.size() <= kMax) return text;
    size_t cut = kMax;
    while (cut > 0 && (uint8_t(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    return text.substr(0, cut) + "... (" + std::to_string(text.size()) + " bytes)";
}

}  // namespace

TerminalToolUi::TerminalToolUi(std::FILE* out, std::FILE* info, std::FILE* answers)
    : out_(out), info_(info), answers_(answers) {}

Approval TerminalToolUi::parseAnswer(std::string_view line) {
    std::string s(line);
    s.erase(0, std::min(s.size(), s.find_first_not_of(" \t")));
    while (!s.empty() && std::isspace(uint8_t(s.back()))) s.pop_back();
    if (s == "A") return Approval::AlwaysAllow;
    std::transform(s.begin(), s.end(), s.begin(), [](char c) { return char(std::tolower(uint8_t(c))); });
    if (s == "a" || s == "allow" || s == "y" || s == "yes" || s == "o" || s == "once") return Approval::AllowOnce;
    if (s == "always") return Approval::AlwaysAllow;
    return Approval::Deny;
}

Approval TerminalToolUi::approve(const PendingCall&) {
    if (!answers_) {
        std::fprintf(info_, "  no terminal to ask and no --yes: denied\n");
        std::fflush(info_);
        return Approval::Deny;
    }
    std::fprintf(info_, "  Allow? [a]llow once / [always] allow this tool / [d]eny (default): ");
    std::fflush(info_);
    std::string line;
    for (int c; (c = std::fgetc(answers_)) != EOF && c != '\n';) line += char(c);
    return parseAnswer(line);
}

void TerminalToolUi::text(std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), out_);
    std::fflush(out_);
    midLine_ = !piece.empty() && piece.back() != '\n';
}

void TerminalToolUi::replyEnd() {
    if (midLine_) std::fputc('\n', out_);
    std::fflush(out_);
    midLine_ = false;
}

void TerminalToolUi::toolCall(const PendingCall& call) {
    std::fprintf(info_, "tool call: %s (%s)\n  arguments: %s\n", call.tool.toStdString().c_str(),
                 serverLabel(call).c_str(), call.argumentsJson.c_str());
    std::fflush(info_);
}

void TerminalToolUi::decided(const PendingCall& call, Approval, const QString& how) {
    std::fprintf(info_, "  %s: %s\n", call.tool.toStdString().c_str(), how.toStdString().c_str());
    std::fflush(info_);
}

void TerminalToolUi::toolResult(const PendingCall& call, const std::string& text, bool isError, bool truncated) {
    std::fprintf(info_, "  result of %s%s%s: %s\n", call.tool.toStdString().c_str(), isError ? " (error)" : "",
                 truncated ? " (truncated for the context)" : "", preview(text).c_str());
    std::fflush(info_);
}

void TerminalToolUi::malformed(const std::string& note) {
    std::fprintf(out_, "%s\n", note.c_str());
    std::fflush(out_);
}

void TerminalToolUi::notice(const std::string& line) {
    std::fprintf(info_, "note: %s\n", line.c_str());
    std::fflush(info_);
}

}  // namespace ld::mcp
