#pragma once
// `llamadesk-cli serve --db`: each API chat saved like a chat of the app, in the history
// database. The server knows only this interface; the CLI's Qt build implements it over the
// history code (app/cli/qt_history.cpp), and engine-only builds have none. Implementations take
// calls from any thread and must not block them on the database.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inference/chat/chat_format.h"
#include "inference/session/session.h"

namespace ld::server {

// One request's reply as it is written.
class ChatRecord {
public:
    virtual ~ChatRecord() = default;
    virtual void append(std::string_view text) = 0;
    // error non-empty: the engine failed; a result stopped as Cancelled: the client went away.
    virtual void finish(const GenerateResult& result, const std::string& error) = 0;
};

class ChatLog {
public:
    virtual ~ChatLog() = default;
    // Saves the request's turns (a request that repeats an earlier one's turns and reply goes on
    // in that conversation); the reply follows through the record.
    virtual std::shared_ptr<ChatRecord> begin(const std::string& model, const std::vector<ChatMessage>& messages) = 0;
};

}  // namespace ld::server
