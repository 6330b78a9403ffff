// ChatController's turns with tools: the chat's side of a ToolTurn. Each reply of the turn is a
// message of its own (begun, streamed and finished like a plain reply); a reply's tool calls are
// stored on it (history tool_calls) before the first runs, each decision as it is made, and each
// result as a message of role "tool" after it, so the history holds the turn as the model saw
// it and reopening the chat shows it again.
#include <QPointer>

#include <utility>

#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/chat/engine_tool_completion.h"
#include "app/chat/prompt_builder.h"
#include "app/chat/sampling_overrides.h"
#include "app/chat/tool_approval.h"
#include "app/chat/tool_turn.h"
#include "app/history/history_store.h"
#include "app/mcp/mcp_host.h"
#include "app/mcp/tool_servers.h"
#include "app/settings/app_settings.h"

namespace ld::chat {

using namespace ld::history;

QObject* ChatController::toolApprovalObject() const { return toolApproval_; }

void ChatController::setToolsEnabled(bool enabled) {
    if (toolsEnabled_ == enabled) return;
    toolsEnabled_ = enabled;
    emit chatSettingsChanged();
    if (conversationId_ != 0) saveChatSettings();
}

void ChatController::setToolApproval(ToolApproval* approval) {
    if (toolApproval_ == approval) return;
    toolApproval_ = approval;
    emit toolApprovalChanged();
}

std::vector<ChatMessage> ChatController::toolTurnMessages(QString* passages) const {
    std::vector<ChatMessage> out;
    // The newest user message carries the documents' passages, as in buildRequest; they travel
    // apart (ToolLoopOptions::passages) so that the tool turn can shorten them as buildPrompt does.
    const int newestUser = newestUserRow();
    const DocumentContext documents = documentContext(newestUser);
    *passages = newestUser >= 0 ? documents.passages : QString();
    const QString system = systemText(documents);
    if (!system.isEmpty()) out.push_back({"system", system.toStdString()});
    for (int i = 0; i < int(messages_.size()); ++i) {
        const Message& m = messages_[i];
        if (m.role == QLatin1String(kNoticeRole)) continue;
        if (m.status == MessageStatus::Error && m.content.isEmpty() && m.toolCalls.isEmpty()) continue;
        if (m.role == QLatin1String(kToolRole)) {
            out.push_back({"ipython", m.content.toStdString()});
            continue;
        }
        ChatMessage c{m.role.toStdString(), m.content.toStdString()};
        for (const history::ToolCall& t : m.toolCalls) c.tool_calls.push_back({t.name.toStdString(), t.argumentsJson.toStdString()});
        out.push_back(std::move(c));
    }
    return out;
}

void ChatController::startToolTurn(std::optional<qint64> parentId) {
    setBusy(true);
    setNotice({});
    recordModel(engine_->modelName());
    const quint64 generation = openGeneration_;
    // The servers start on demand: the first turn with tools waits for them (the others go on
    // without one that fails).
    QPointer<ChatController> self(this);
    toolServers_->ensureStarted([self, parentId, generation] {
        if (self) self->runToolTurn(parentId, generation);
    });
}

void ChatController::runToolTurn(std::optional<qint64> parentId, quint64 generation) {
    if (generation != openGeneration_ || stopRequested_) {  // switched chats or stopped meanwhile
        setBusy(false);
        return;
    }
    QStringList unavailable;
    for (mcp::McpClient* c : toolServers_->host()->clients())
        if (c->state() != mcp::ServerState::Ready)
            unavailable << QStringLiteral("%1 (%2)").arg(c->config().name,
                                                         c->failureReason().isEmpty() ? mcp::stateName(c->state()) : c->failureReason());
    if (!unavailable.isEmpty())
        setNotice(QStringLiteral("Not available, this reply goes on without their tools: %1").arg(unavailable.join(QStringLiteral("; "))));

    ToolTurn::Setup setup;
    setup.tools = toolServers_->host()->tools();
    setup.host = toolServers_->host();
    setup.options.allowList = toolServers_->allowList();
    setup.messages = toolTurnMessages(&setup.options.passages);
    setup.modelPath = engine_->modelPath();
    const SamplingConfig sampling = applyOverrides(settings_->sampling(), overrides_);
    // Each prompt leaves the reply the room EngineWorker keeps for it, or the engine refuses it.
    if (engine_->contextSize() > 0)
        setup.options.replyReserveTokens = size_t(replyReserve(sampling.maxTokens, engine_->contextSize()));
    if (toolCompletionFactory_) {
        setup.makeCompletion = [f = toolCompletionFactory_, sampling](const std::atomic<bool>* cancel) { return f(sampling, cancel); };
    } else {
        std::shared_ptr<const Tokenizer> tokenizer = engine_->modelInfo().tokenizer;
        if (!tokenizer) {
            setBusy(false);
            emit errorOccurred(QStringLiteral("Tools work with a local model; switch this chat's tools off to use a remote one."));
            return;
        }
        QPointer<EngineHost> engine(engine_);
        const int contextSize = engine_->contextSize();
        // Each reply's numbers, on this thread before the turn goes on (so before its replyEnded).
        QPointer<ChatController> self(this);
        auto stats = [self](const GenerationOutcome& out) {
            if (!self) return;
            GenerationStats& s = self->toolReply_.stats;
            s.promptTokens = out.promptTokens;
            s.genTokens = out.genTokens;
            s.promptTps = out.promptTps;
            s.genTps = out.genTps;
            s.ttftMs = out.ttftMs;
            s.drafted = out.drafted;
            s.accepted = out.accepted;
        };
        setup.makeCompletion = [engine, tokenizer, contextSize, sampling, stats](const std::atomic<bool>* cancel) {
            return std::make_unique<EngineToolCompletion>(engine.data(), tokenizer, contextSize, sampling, cancel, stats);
        };
    }
    toolReply_ = ToolReply{};
    toolReply_.conversationId = conversationId_;
    toolReply_.firstParent = parentId;
    auto* turn = new ToolTurn(std::move(setup), this);
    toolTurn_ = turn;
    connect(turn, &ToolTurn::replyStarting, this, &ChatController::onToolReplyStarting);
    connect(turn, &ToolTurn::text, this, &ChatController::onToolText);
    connect(turn, &ToolTurn::replyEnded, this, &ChatController::onToolReplyEnded);
    connect(turn, &ToolTurn::callsParsed, this, &ChatController::onToolCallsParsed);
    connect(turn, &ToolTurn::callDecided, this, &ChatController::onToolCallDecided);
    connect(turn, &ToolTurn::callResult, this, &ChatController::onToolCallResult);
    connect(turn, &ToolTurn::malformed, this, &ChatController::onToolMalformed);
    connect(turn, &ToolTurn::notice, this, [this](const QString& line) { setNotice(line); });
    // As a plain reply's notice (onFinished): what of the chat the model did not see.
    connect(turn, &ToolTurn::promptFitted, this, [this](const PromptFit& fit) {
        if (toolReply_.conversationId == conversationId_) setNotice(fittedNotice(fit));
    });
    connect(turn, &ToolTurn::approvalNeeded, this, &ChatController::setToolApproval);
    connect(turn, &ToolTurn::approvalClosed, this, [this] { setToolApproval(nullptr); });
    connect(turn, &ToolTurn::finished, this, &ChatController::onToolTurnFinished);
    turn->start();
}

void ChatController::onToolReplyStarting() {
    ToolTurn* turn = toolTurn_;
    // The first reply answers the user's message (a new branch when regenerating); the later
    // ones follow the tool results, after the conversation's leaf.
    const std::optional<qint64> parent = toolReply_.first ? toolReply_.firstParent : std::nullopt;
    toolReply_.first = false;
    store_->beginReply(toolReply_.conversationId, parent, engine_->modelName())
        .then(this, [this, turn](const Result<Message>& begun) {
            if (turn != toolTurn_) {
                // Stopped while the message was being made: it gets no text, but it must not
                // stay "streaming" either.
                if (begun) store_->finishReply(begun->id, MessageStatus::Interrupted, {}, {});
                return;
            }
            if (!begun) {
                emit errorOccurred(QStringLiteral("The reply could not be started: %1").arg(begun.error()));
                turn->replyReady(false);
                return;
            }
            toolReply_.messageId = begun->id;
            if (toolReply_.conversationId == conversationId_) {
                messages_.append(begun.value());
                emit messageAdded(begun.value());
            }
            turn->replyReady(true);
        });
}

void ChatController::onToolText(const QString& piece) {
    if (!toolReply_.messageId) return;
    store_->appendReply(toolReply_.messageId, piece);
    showReplyText(toolReply_.messageId, piece);
}

void ChatController::onToolReplyEnded() {
    const qint64 id = toolReply_.messageId;
    if (!id) return;
    toolReply_.messageId = 0;
    toolReply_.callsMessageId = id;
    const MessageStatus status = toolTurn_ && toolTurn_->stopped() ? MessageStatus::Interrupted : MessageStatus::Complete;
    const GenerationStats stats = std::exchange(toolReply_.stats, {});
    store_->finishReply(id, status, stats, {}).then(this, [this, id](const Status& s) {
        if (!s) emit errorOccurred(QStringLiteral("The reply was not saved: %1").arg(s.error()));
        emit replyFinished(id);
    });
    const int row = toolReply_.conversationId == conversationId_ ? rowOf(id) : -1;
    if (row >= 0) {
        messages_[row].status = status;
        messages_[row].stats = stats;
        emit messageUpdated(row, messages_[row]);
    }
}

void ChatController::onToolCallsParsed(const QList<history::ToolCall>& calls) {
    toolReply_.calls = calls;
    const qint64 id = toolReply_.callsMessageId;
    store_->setToolCalls(toolReply_.conversationId, id, calls).then(this, [this](const Status& s) {
        if (!s) emit errorOccurred(s.error());
    });
    const int row = toolReply_.conversationId == conversationId_ ? rowOf(id) : -1;
    if (row >= 0) {
        messages_[row].toolCalls = calls;
        emit messageUpdated(row, messages_[row]);
    }
}

void ChatController::onToolCallDecided(int index, ToolDecision decision) {
    if (index < 0 || index >= toolReply_.calls.size()) return;
    toolReply_.calls[index].decision = decision;
    const qint64 id = toolReply_.callsMessageId;
    store_->setToolCallDecision(toolReply_.conversationId, id, toolReply_.calls[index].callId, decision)
        .then(this, [this](const Status& s) {
            if (!s) emit errorOccurred(s.error());
        });
    const int row = toolReply_.conversationId == conversationId_ ? rowOf(id) : -1;
    if (row >= 0 && index < messages_[row].toolCalls.size()) {
        messages_[row].toolCalls[index].decision = decision;
        emit messageUpdated(row, messages_[row]);
    }
}

void ChatController::onToolCallResult(int index, const QString& text, bool isError, bool truncated) {
    if (index < 0 || index >= toolReply_.calls.size()) return;
    NewMessage m;
    m.conversationId = toolReply_.conversationId;
    m.role = QLatin1String(kToolRole);
    m.content = text;
    m.toolResult = ToolResult{toolReply_.calls[index].callId, isError, truncated};
    store_->addMessage(m).then(this, [this](const Result<Message>& saved) {
        if (!saved) {
            emit errorOccurred(QStringLiteral("The tool's result was not saved: %1").arg(saved.error()));
            return;
        }
        showAddedMessage(saved.value());
    });
}

void ChatController::onToolMalformed(const QString& note) {
    // The reply stays as the model wrote it; the note says why no tool ran.
    NewMessage m;
    m.conversationId = toolReply_.conversationId;
    m.role = QLatin1String(kNoticeRole);
    m.content = QStringLiteral("The reply above looks like a tool call but could not be read, so no tool ran: %1").arg(note);
    store_->addMessage(m).then(this, [this](const Result<Message>& saved) {
        if (saved) showAddedMessage(saved.value());
    });
}

void ChatController::onToolTurnFinished(bool cancelled, const QString& error) {
    ToolTurn* turn = toolTurn_;
    toolTurn_ = nullptr;
    setToolApproval(nullptr);
    // A reply still open: the completion failed (or the turn stopped) before it ended.
    if (const qint64 id = toolReply_.messageId) {
        toolReply_.messageId = 0;
        const MessageStatus status = error.isEmpty() || cancelled ? MessageStatus::Interrupted : MessageStatus::Error;
        store_->finishReply(id, status, {}, cancelled ? QString() : error).then(this, [this, id](const Status& s) {
            if (!s) emit errorOccurred(QStringLiteral("The reply was not saved: %1").arg(s.error()));
            emit replyFinished(id);
        });
        const int row = toolReply_.conversationId == conversationId_ ? rowOf(id) : -1;
        if (row >= 0) {
            messages_[row].status = status;
            messages_[row].error = cancelled ? QString() : error;
            emit messageUpdated(row, messages_[row]);
        }
    }
    if (!error.isEmpty() && !cancelled) emit errorOccurred(error);
    if (turn) turn->deleteLater();
    setBusy(false);
    emit busyChanged();  // canContinue depends on the last message
}

}  // namespace ld::chat
