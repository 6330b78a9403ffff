#pragma once
// One chat turn with tools, for ChatController: mcp::ToolLoop (the loop the CLI uses) runs on a
// worker thread of its own, because it blocks while the model writes, while the user decides and
// while a tool runs. Everything it shows or asks comes to the UI thread as this object's signals,
// in order; the worker waits (never the UI thread) for the three things it needs back: the
// reply's message to exist (replyReady), the user's answer (ToolApproval) and a tool's result
// (McpHost, called on the UI thread where it lives). stop() cancels the generation, the question
// or the running call (notifications/cancelled) and ends the turn.
#include <QList>
#include <QObject>
#include <QPointer>
#include <QThread>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "app/history/history_types.h"
#include "app/mcp/mcp_types.h"
#include "app/mcp/tool_loop.h"

namespace ld::mcp {
class McpHost;
}

namespace ld::chat {

class ToolApproval;

class ToolTurn final : public QObject {
    Q_OBJECT
public:
    using CompletionFactory = std::function<std::unique_ptr<mcp::ToolCompletion>(const std::atomic<bool>* cancel)>;
    struct Setup {
        QList<mcp::Tool> tools;           // read on the UI thread (McpHost::tools())
        mcp::McpHost* host = nullptr;     // runs the calls; may go away (the calls then fail)
        mcp::ToolLoopOptions options;     // its cancel is this turn's
        std::vector<ChatMessage> messages;  // the conversation, ending with the user's message
                                            // (its documents' passages in options.passages)
        CompletionFactory makeCompletion;   // called on the worker thread
        // The model's GGUF file: its metadata picks the call format (Llama 3.1 JSON or 3.2
        // pythonic), read on the worker thread. Empty: options.format as given.
        QString modelPath;
    };

    explicit ToolTurn(Setup setup, QObject* parent = nullptr);
    ~ToolTurn() override;  // stops the turn and waits for its thread (which never waits for this one then)

    void start();
    void stop();
    bool stopped() const { return cancel_.load(); }
    // The answer to replyStarting(): the reply's message was made (false: it could not be, the
    // turn stops).
    void replyReady(bool ok);
    int toolCount() const;

signals:
    void replyStarting();
    void text(const QString& piece);
    void replyEnded();
    // A reply's calls (ids call_1, call_2, ... within it; decision pending), before the first runs.
    void callsParsed(const QList<ld::history::ToolCall>& calls);
    void callDecided(int index, ld::history::ToolDecision decision);
    void callResult(int index, const QString& text, bool isError, bool truncated);
    void malformed(const QString& note);
    void notice(const QString& line);
    // A reply's prompt was fitted to the context window (mcp::ToolLoopUi::promptFitted).
    void promptFitted(const ld::chat::PromptFit& fit);
    // The question for the user; a child of this turn (gone with it).
    void approvalNeeded(ld::chat::ToolApproval* approval);
    void approvalClosed();
    void finished(bool cancelled, const QString& error);

private:
    class Bridge;
    class Runner;
    void run();
    // Queues `f` on the UI thread (this object's); dropped once the turn is gone.
    template <class F>
    void post(F&& f) {
        QMetaObject::invokeMethod(this, std::forward<F>(f), Qt::QueuedConnection);
    }

    Setup setup_;
    std::atomic<bool> cancel_{false};
    std::unique_ptr<QThread> thread_;
    struct ReplyGate;
    std::shared_ptr<ReplyGate> replyGate_;
};

}  // namespace ld::chat
