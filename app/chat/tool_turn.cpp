#include "app/chat/tool_turn.h"

#include <QMutex>
#include <QWaitCondition>

#include "app/chat/tool_approval.h"
#include "app/mcp/mcp_client.h"
#include "app/mcp/mcp_host.h"
#include "inference/core/error.h"
#include "inference/gguf/gguf.h"

namespace ld::chat {

namespace {

// A value the worker waits for, set from the UI thread. wait() polls the turn's stop flag, so a
// stopped turn never waits for the UI thread (which may be waiting for the worker to end).
template <class T>
struct Slot {
    QMutex mutex;
    QWaitCondition wake;
    bool set = false;
    T value{};

    void put(T v) {
        QMutexLocker lock(&mutex);
        if (set) return;
        value = std::move(v);
        set = true;
        wake.wakeAll();
    }
    // False when stopped (or past deadlineMs, when given) before a value came.
    bool wait(const std::atomic<bool>& cancel, T* out, qint64 deadlineMs = -1) {
        QMutexLocker lock(&mutex);
        qint64 waited = 0;
        while (!set) {
            if (cancel.load() || (deadlineMs >= 0 && waited >= deadlineMs)) return false;
            wake.wait(&mutex, 50);
            waited += 50;
        }
        *out = value;
        return true;
    }
};

history::ToolDecision decisionOf(mcp::Approval a) {
    switch (a) {
    case mcp::Approval::AllowOnce: return history::ToolDecision::AllowedOnce;
    case mcp::Approval::AlwaysAllow: return history::ToolDecision::AlwaysAllowed;
    case mcp::Approval::Deny: return history::ToolDecision::Denied;
    }
    return history::ToolDecision::Pending;
}

}  // namespace

struct ToolTurn::ReplyGate {
    Slot<bool> slot;
};

// The loop's UI: forwards everything to the UI thread as the turn's signals, in order.
class ToolTurn::Bridge final : public mcp::ToolLoopUi {
public:
    explicit Bridge(ToolTurn* turn) : turn_(turn) {}

    mcp::Approval approve(const mcp::PendingCall& call) override {
        auto answer = std::make_shared<Slot<mcp::Approval>>();
        const QString tool = call.tool, server = call.server, args = QString::fromStdString(call.argumentsJson);
        turn_->post([turn = turn_, answer, tool, server, args] {
            auto* q = new ToolApproval(tool, server, args, turn);
            QObject::connect(q, &ToolApproval::answered, turn, [turn, q, answer](ToolApproval::Answer a) {
                answer->put(a == ToolApproval::Answer::AllowOnce     ? mcp::Approval::AllowOnce
                            : a == ToolApproval::Answer::AlwaysAllow ? mcp::Approval::AlwaysAllow
                                                                     : mcp::Approval::Deny);
                emit turn->approvalClosed();
                q->deleteLater();
            });
            emit turn->approvalNeeded(q);
        });
        mcp::Approval a = mcp::Approval::Deny;
        if (!answer->wait(turn_->cancel_, &a)) return mcp::Approval::Deny;  // stopped: the loop ends
        return a;
    }
    void replyStart() override {
        auto gate = std::make_shared<ReplyGate>();
        turn_->post([turn = turn_, gate] {
            turn->replyGate_ = gate;
            emit turn->replyStarting();
        });
        bool ok = false;
        if (!gate->slot.wait(turn_->cancel_, &ok) || !ok) turn_->cancel_.store(true);
    }
    void text(std::string_view piece) override {
        const QString s = QString::fromUtf8(piece.data(), qsizetype(piece.size()));
        turn_->post([turn = turn_, s] { emit turn->text(s); });
    }
    void replyEnd() override {
        turn_->post([turn = turn_] { emit turn->replyEnded(); });
    }
    void callsParsed(const std::vector<mcp::PendingCall>& calls) override {
        QList<history::ToolCall> out;
        for (const mcp::PendingCall& c : calls) {
            history::ToolCall t;
            t.callId = QStringLiteral("call_%1").arg(out.size() + 1);
            t.server = c.server;
            t.name = c.tool;
            t.argumentsJson = QString::fromStdString(c.argumentsJson);
            out << t;
        }
        index_ = -1;
        turn_->post([turn = turn_, out] { emit turn->callsParsed(out); });
    }
    void toolCall(const mcp::PendingCall&) override { ++index_; }
    void decided(const mcp::PendingCall&, mcp::Approval approval, const QString&) override {
        const history::ToolDecision d = decisionOf(approval);
        turn_->post([turn = turn_, i = index_, d] { emit turn->callDecided(i, d); });
    }
    void toolResult(const mcp::PendingCall&, const std::string& text, bool isError, bool truncated) override {
        const QString t = QString::fromStdString(text);
        turn_->post([turn = turn_, i = index_, t, isError, truncated] { emit turn->callResult(i, t, isError, truncated); });
    }
    void malformed(const std::string& note) override {
        const QString n = QString::fromStdString(note);
        turn_->post([turn = turn_, n] { emit turn->malformed(n); });
    }
    void promptFitted(const chat::PromptFit& fit) override {
        turn_->post([turn = turn_, fit] { emit turn->promptFitted(fit); });
    }
    void notice(const std::string& line) override {
        const QString n = QString::fromStdString(line);
        turn_->post([turn = turn_, n] { emit turn->notice(n); });
    }

private:
    ToolTurn* turn_;
    int index_ = -1;  // the call of the current reply being handled
};

// Runs a call on the UI thread's McpHost and waits for its result.
class ToolTurn::Runner final : public mcp::ToolRunner {
public:
    Runner(ToolTurn* turn, QPointer<mcp::McpHost> host) : turn_(turn), host_(std::move(host)) {}

    mcp::CallResult call(const QString& server, const QString& tool, const QJsonObject& arguments, int timeoutMs,
                         const std::atomic<bool>* cancel) override {
        auto result = std::make_shared<Slot<mcp::CallResult>>();
        auto callId = std::make_shared<std::atomic<qint64>>(-1);
        turn_->post([host = host_, result, callId, server, tool, arguments, timeoutMs] {
            if (!host) {
                result->put(mcp::CallResult::failure(QStringLiteral("the MCP servers were reconfigured")));
                return;
            }
            callId->store(host->callTool(server, tool, arguments,
                                         [result](const mcp::CallResult& r) { result->put(r); }, timeoutMs));
        });
        mcp::CallResult r;
        // The client enforces the call's timeout; the extra time only keeps a lost answer (the
        // host rebuilt meanwhile) from hanging the turn.
        if (result->wait(*cancel, &r, qint64(timeoutMs) + 5000)) return r;
        if (cancel->load()) {
            // Tell the server (notifications/cancelled); the turn does not wait for its answer.
            turn_->post([host = host_, server, callId] {
                if (host && callId->load() >= 0)
                    if (mcp::McpClient* c = host->client(server)) c->cancelCall(callId->load());
            });
            return mcp::CallResult::failure(QStringLiteral("cancelled by the user"));
        }
        return mcp::CallResult::failure(QStringLiteral("%1 did not answer in time").arg(tool));
    }

private:
    ToolTurn* turn_;
    QPointer<mcp::McpHost> host_;
};

ToolTurn::ToolTurn(Setup setup, QObject* parent) : QObject(parent), setup_(std::move(setup)) {
    setup_.options.cancel = &cancel_;
}

ToolTurn::~ToolTurn() {
    cancel_.store(true);
    if (thread_) thread_->wait();
}

int ToolTurn::toolCount() const { return int(setup_.tools.size()); }

void ToolTurn::start() {
    thread_.reset(QThread::create([this] { run(); }));
    thread_->start();
}

void ToolTurn::stop() { cancel_.store(true); }

void ToolTurn::replyReady(bool ok) {
    if (replyGate_) replyGate_->slot.put(ok);
    replyGate_.reset();
}

void ToolTurn::run() {
    bool cancelled = false;
    QString error;
    try {
        if (!setup_.modelPath.isEmpty()) {
            try {
                const auto file = gguf::File::open_header(setup_.modelPath.toStdString());
                setup_.options.format = detect_tool_call_format(tool_format_hints(*file));
            } catch (const std::exception&) {
                // Not a readable GGUF (a test's stand-in): the format given stays.
            }
        }
        std::unique_ptr<mcp::ToolCompletion> completion = setup_.makeCompletion(&cancel_);
        Bridge bridge(this);
        Runner runner(this, setup_.host);
        mcp::ToolLoop loop(setup_.tools, runner, *completion, bridge, setup_.options);
        const mcp::ToolLoopResult r = loop.run(setup_.messages);
        cancelled = r.cancelled || cancel_.load();
    } catch (const std::exception& e) {
        error = QString::fromUtf8(e.what());
        cancelled = cancel_.load();
    }
    post([this, cancelled, error] { emit finished(cancelled, error); });
}

}  // namespace ld::chat
