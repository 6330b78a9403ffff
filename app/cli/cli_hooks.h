#pragma once
// Seams between the CLI's Qt-free engine commands and the app-core commands that need Qt
// (history). Implemented in qt_*.cpp when Qt is found, by noqt_*.cpp stand-ins otherwise.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ld::server {
class ChatLog;
}

namespace ld::cli {

struct GenerationStats {
    int prompt_tokens = 0;
    int gen_tokens = 0;
    double prompt_tps = 0;      // prompt tokens per second
    double gen_tps = 0;         // generated tokens per second
    double ttft_ms = 0;         // time to first token
    int drafted = 0;            // speculative decoding: tokens drafted, and of them accepted
    int accepted = 0;
};

// How a recorded reply ended.
enum class ReplyEnd { Complete, Interrupted, Error };

// Records one exchange of `generate --db` in the history database, crash-safely: the user
// message is committed by begin(), the reply is checkpointed as it grows (at least every
// ~250 ms of appended text, each checkpoint its own short transaction), finish() marks it
// complete (or error). A process killed in between leaves a `streaming` message that the next
// open turns into `interrupted`.
class GenerationRecorder {
public:
    virtual ~GenerationRecorder() = default;
    // Returns the conversation id (new, or the one given to make_history_recorder), or -1 when
    // the user message could not be saved (the reason is already on stderr).
    virtual int64_t begin(const std::string& model, const std::string& system_prompt,
                          const std::string& user_text) = 0;
    virtual void append(const std::string& text) = 0;
    // Interrupted: stopped by the user (Ctrl+C) — kept, and can be continued later.
    virtual void finish(const GenerationStats& stats, ReplyEnd end, const std::string& error) = 0;
};

// nullptr with *error set when the database cannot be opened or the build has no Qt.
std::unique_ptr<GenerationRecorder> make_history_recorder(const std::string& db_path,
                                                          std::optional<int64_t> conversation_id,
                                                          std::string* error);

// `serve --db PATH`: API chats saved in the history database (qt_api_chat_log.cpp). nullptr
// with *error set when the database cannot be opened or the build has no Qt.
std::unique_ptr<server::ChatLog> make_api_chat_log(const std::string& db_path, std::string* error);

// `llamadesk-cli history --db PATH list | show ID | search TEXT | export ID --format md|json |
// import FILE`; args are what follows "history". Returns the process exit code.
int run_history_command(const std::vector<std::string>& args);

// `llamadesk-cli models list [--dir D] | download URL [--sha256 HEX] [--dir D] [--token T]`;
// args are what follows "models". Returns the process exit code.
int run_models_command(const std::vector<std::string>& args);

}  // namespace ld::cli
