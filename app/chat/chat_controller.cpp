#include "app/chat/chat_controller.h"

#include "app/chat/auto_title.h"
#include "app/chat/engine_host.h"
#include "app/chat/prompt_builder.h"
#include "app/chat/sampling_overrides.h"
#include "app/chat/tool_turn.h"
#include "app/history/history_store.h"
#include "app/settings/app_settings.h"

namespace ld::chat {

using namespace ld::history;

ChatController::ChatController(HistoryStore* store, EngineHost* engine, settings::AppSettings* settings, QObject* parent)
    : QObject(parent), store_(store), engine_(engine), settings_(settings) {
    connect(engine_, &EngineHost::text, this, &ChatController::onText);
    connect(engine_, &EngineHost::finished, this, &ChatController::onFinished);
    connect(engine_, &EngineHost::failed, this, &ChatController::onFailed);
    connect(engine_, &EngineHost::promptProgress, this, &ChatController::onPromptProgress);
    connect(engine_, &EngineHost::modelLoaded, this, &ChatController::onModelLoaded);
}

bool ChatController::canContinue() const {
    return !busy_ && !messages_.isEmpty() && messages_.last().role == QLatin1String("assistant") &&
           (messages_.last().status == MessageStatus::Interrupted || messages_.last().status == MessageStatus::Error) &&
           !messages_.last().content.isEmpty();
}

void ChatController::setBusy(bool busy) {
    if (busy_ == busy) return;
    busy_ = busy;
    if (busy) stopRequested_ = false;
    emit busyChanged();
}

void ChatController::setNotice(const QString& text) {
    if (notice_ == text) return;
    notice_ = text;
    emit noticeChanged();
}

void ChatController::clearNotice() { setNotice({}); }

int ChatController::rowOf(qint64 messageId) const {
    for (int i = int(messages_.size()) - 1; i >= 0; --i)
        if (messages_[i].id == messageId) return i;
    return -1;
}

void ChatController::truncate(int rows) {
    if (rows >= messages_.size()) return;
    messages_.resize(std::max(0, rows));
    emit messagesReset(messages_);
}

void ChatController::newChat() {
    if (reply_ || toolTurn_) stop();  // the reply keeps being recorded in its own conversation
    ++openGeneration_;
    conversationId_ = 0;
    title_.clear();
    systemPrompt_ = settings_->systemPrompt();
    systemPromptEdited_ = false;
    overrides_ = {};
    toolsEnabled_ = false;  // tools are switched on per chat
    conversationModel_ = engine_->modelName();
    messages_.clear();
    setNotice({});
    emit conversationChanged();
    emit titleChanged();
    emit chatSettingsChanged();
    emit messagesReset(messages_);
}

void ChatController::openConversation(qint64 id) {
    if (id == conversationId_) return;
    if (reply_ || toolTurn_) stop();
    const quint64 generation = ++openGeneration_;
    store_->loadConversation(id).then(this, [this, id, generation](const Result<ConversationBundle>& bundle) {
        if (generation != openGeneration_) return;
        if (!bundle) {
            emit errorOccurred(bundle.error());
            return;
        }
        store_->activeBranch(id).then(this, [this, id, generation, c = bundle->conversation](const Result<QList<Message>>& branch) {
            if (generation != openGeneration_) return;
            if (!branch) {
                emit errorOccurred(branch.error());
                return;
            }
            conversationId_ = id;
            title_ = c.title;
            systemPrompt_ = c.systemPrompt;
            overrides_ = c.sampling;
            toolsEnabled_ = overrides_.take(QStringLiteral("tools")).toBool(false);
            conversationModel_ = c.model;
            messages_ = branch.value();
            setNotice({});
            emit conversationChanged();
            emit titleChanged();
            emit chatSettingsChanged();
            emit messagesReset(messages_);
            emit busyChanged();  // canContinue depends on the messages
        });
    });
}

bool ChatController::send(const QString& text) {
    if (text.trimmed().isEmpty() || busy_) return false;
    if (!engine_->modelReady()) {
        emit errorOccurred(engine_->loading() ? QStringLiteral("The model is still loading; send again when it is ready.")
                                              : QStringLiteral("No model is loaded. Choose a GGUF file in Settings."));
        return false;
    }
    setBusy(true);
    NewMessage m;
    m.role = QStringLiteral("user");
    m.content = text;
    if (conversationId_ != 0) {
        addUserMessage(m, int(messages_.size()));
        return true;
    }
    const NewConversation c = newConversation(heuristicTitle(text));
    const quint64 generation = openGeneration_;
    store_->createConversation(c).then(this, [this, m, text, generation](const Result<Conversation>& conv) {
        if (!conv || generation != openGeneration_) {
            setBusy(false);
            emit errorOccurred(conv ? QStringLiteral("The chat was switched before the message was saved.") : conv.error());
            emit draftReturned(text);
            return;
        }
        conversationId_ = conv->id;
        title_ = conv->title;
        systemPrompt_ = conv->systemPrompt;
        conversationModel_ = conv->model;
        emit conversationChanged();
        emit titleChanged();
        emit chatSettingsChanged();
        addUserMessage(m, int(messages_.size()));
    });
    return true;
}

void ChatController::addUserMessage(const NewMessage& message, int keepRows) {
    NewMessage m = message;
    m.conversationId = conversationId_;
    const quint64 generation = openGeneration_;
    store_->addMessage(m).then(this, [this, keepRows, generation, text = m.content](const Result<Message>& saved) {
        if (!saved || generation != openGeneration_) {
            setBusy(false);
            emit errorOccurred(saved ? QStringLiteral("The chat was switched before the message was saved.")
                                     : QStringLiteral("Your message was not sent: %1").arg(saved.error()));
            emit draftReturned(text);
            return;
        }
        truncate(keepRows);
        messages_.append(saved.value());
        emit messageAdded(saved.value());
        startReply(saved->id, {});
    });
}

QString ChatController::systemText(const DocumentContext& documents) const {
    const QString system = systemPrompt_.trimmed();
    if (documents.overview.isEmpty()) return system;
    return system.isEmpty() ? documents.overview : system + QStringLiteral("\n\n") + documents.overview;
}

// A chat with documents keeps its prompt's start from turn to turn, so that the engine's prefix
// cache reuses it: the system message holds only what is the same for every question (the
// documents' overview, which changes only when a document or its summary is added), and the
// passages retrieved for a question go into that question's user turn. In the system message
// they changed the prompt's first tokens every turn and each turn re-read the whole chat. Only
// the newest user turn carries them: the next prompt then shares everything up to the previous
// question with the cache (that question is re-read without its passages, with its reply and
// the new question and passages). Giving each earlier turn its own passages too would also
// keep those, but every turn would add its passages, up to a third of the window
// (DocumentController::contextFor), so a chat would outgrow the window within a few turns and
// drop its older turns: the start would move and the whole prompt be re-read
// (tests/app/test_chat_document_reuse measures both: 1.8x the prompt by the sixth turn there). The context is a function of the library and the question, so a regenerated
// or continued reply reads the same prompt again.
int ChatController::newestUserRow() const {
    for (int i = int(messages_.size()) - 1; i >= 0; --i)
        if (messages_[i].role == QLatin1String("user")) return i;
    return -1;
}

ChatController::DocumentContext ChatController::documentContext(int row) const {
    if (!contextProvider_) return {};
    // Without a user message yet the overview still applies.
    return contextProvider_(conversationId_, row < 0 ? QString() : messages_[row].content);
}

NewConversation ChatController::newConversation(const QString& title) const {
    NewConversation c;
    c.title = title;
    c.model = engine_->modelName();
    // A new chat follows the global system prompt until the user sets one for it.
    c.systemPrompt = systemPromptEdited_ ? systemPrompt_ : settings_->systemPrompt();
    c.sampling = savedSampling();
    return c;
}

QJsonObject ChatController::savedSampling() const {
    QJsonObject o = overrides_;
    if (toolsEnabled_) o.insert(QStringLiteral("tools"), true);
    return o;
}

GenerationRequest ChatController::buildRequest(const QString& prefix) const {
    GenerationRequest r;
    const int newestUser = newestUserRow();
    const DocumentContext documents = documentContext(newestUser);
    const QString system = systemText(documents);
    if (!system.isEmpty()) r.messages.append({QStringLiteral("system"), system});
    for (int i = 0; i < int(messages_.size()); ++i) {
        const Message& m = messages_[i];
        if (m.status == MessageStatus::Error && m.content.isEmpty()) continue;
        if (m.role == QLatin1String(kNoticeRole)) continue;  // about the chat, not part of it
        // Tool turns of a chat whose tools were switched off: the plain prompt has no place for them.
        if (m.role == QLatin1String(history::kToolRole) || !m.toolCalls.isEmpty()) continue;
        r.messages.append({m.role, m.content, i == newestUser ? documents.passages : QString()});
    }
    r.replyPrefix = prefix;
    r.sampling = applyOverrides(settings_->sampling(), overrides_);
    r.speculate = true;  // the reply the user waits for: "Speed up replies" applies
    return r;
}

void ChatController::showAddedMessage(const Message& message) {
    if (message.conversationId != conversationId_ || rowOf(message.id) >= 0) return;
    messages_.append(message);
    emit messageAdded(message);
}

void ChatController::showReplyText(qint64 messageId, const QString& piece) {
    const int row = rowOf(messageId);
    if (row < 0) return;
    messages_[row].content += piece;
    emit replyText(messageId, piece);
}

void ChatController::showMessageUpdate(const Message& message) {
    const int row = message.conversationId == conversationId_ ? rowOf(message.id) : -1;
    if (row < 0) return;
    messages_[row] = message;
    emit messageUpdated(row, message);
    emit busyChanged();  // canContinue depends on the last message
}

void ChatController::startReply(std::optional<qint64> parentId, const QString& prefix) {
    // Continuing a cut-off reply stays plain text: its prefix is no tool turn.
    if (toolsEnabled_ && toolServers_ && prefix.isEmpty()) {
        startToolTurn(parentId);
        return;
    }
    setBusy(true);
    setNotice({});
    recordModel(engine_->modelName());
    const GenerationRequest request = buildRequest(prefix);
    const quint64 generation = openGeneration_;
    store_->beginReply(conversationId_, parentId, engine_->modelName())
        .then(this, [this, request, prefix, generation](const Result<Message>& begun) {
            if (!begun || generation != openGeneration_) {
                setBusy(false);
                if (!begun) emit errorOccurred(QStringLiteral("The reply could not be started: %1").arg(begun.error()));
                return;
            }
            Message m = begun.value();
            if (!prefix.isEmpty()) {
                store_->appendReply(m.id, prefix);
                m.content = prefix;
            }
            messages_.append(m);
            emit messageAdded(m);
            reply_ = Reply{0, m.id, conversationId_};
            reply_->requestId = engine_->generate(request);
            if (stopRequested_) engine_->stop(reply_->requestId);
        });
}

void ChatController::stop() {
    // Only this reply: a document summary may be using the engine too.
    if (reply_) engine_->stop(reply_->requestId);
    else if (toolTurn_) toolTurn_->stop();
    else if (busy_) stopRequested_ = true;
}

void ChatController::regenerate() {
    if (busy_ || messages_.isEmpty()) return;
    int lastUser = int(messages_.size()) - 1;
    while (lastUser >= 0 && messages_[lastUser].role != QLatin1String("user")) --lastUser;
    if (lastUser < 0) return;
    truncate(lastUser + 1);
    startReply(messages_[lastUser].id, {});
}

void ChatController::editAndResend(int row, const QString& text) {
    if (busy_ || row < 0 || row >= messages_.size() || messages_[row].role != QLatin1String("user") ||
        text.trimmed().isEmpty())
        return;
    if (!engine_->modelReady()) {
        emit errorOccurred(QStringLiteral("No model is loaded. Choose a GGUF file in Settings."));
        return;
    }
    setBusy(true);
    NewMessage m;
    m.role = QStringLiteral("user");
    m.content = text;
    m.parentId = messages_[row].parentId;
    m.explicitParent = true;
    addUserMessage(m, row);
}

void ChatController::continueReply() {
    if (!canContinue()) return;
    if (!engine_->modelReady()) {
        emit errorOccurred(QStringLiteral("No model is loaded. Choose a GGUF file in Settings."));
        return;
    }
    const Message last = messages_.last();
    truncate(int(messages_.size()) - 1);
    startReply(last.parentId, last.content);
}

void ChatController::onText(quint64 requestId, const QString& piece) {
    if (!reply_ || reply_->requestId != requestId) return;
    if (promptProgress_ >= 0) {
        promptProgress_ = -1;
        emit promptProgressChanged();
    }
    store_->appendReply(reply_->messageId, piece);
    if (reply_->conversationId != conversationId_) return;
    const int row = rowOf(reply_->messageId);
    if (row < 0) return;
    messages_[row].content += piece;
    emit replyText(reply_->messageId, piece);
}

void ChatController::onFinished(const GenerationOutcome& out) {
    if (titleJob_ && titleJob_->requestId == out.id) {
        onTitleFinished(out);
        return;
    }
    if (!reply_ || reply_->requestId != out.id) return;
    GenerationStats stats;
    stats.promptTokens = out.promptTokens;
    stats.genTokens = out.genTokens;
    stats.promptTps = out.promptTps;
    stats.genTps = out.genTps;
    stats.ttftMs = out.ttftMs;
    stats.drafted = out.drafted;
    stats.accepted = out.accepted;
    if (out.fit.any() && reply_->conversationId == conversationId_) setNotice(fittedNotice(out.fit));
    else if (out.stopReason == QLatin1String("context_full"))
        setNotice(QStringLiteral("The reply stopped because the context window is full."));
    finishReply(out.cancelled ? MessageStatus::Interrupted : MessageStatus::Complete, stats, {});
}

void ChatController::onFailed(quint64 requestId, const QString& error) {
    if (titleJob_ && titleJob_->requestId == requestId) {
        titleJob_.reset();  // the heuristic title stays
        return;
    }
    if (!reply_ || reply_->requestId != requestId) return;
    emit errorOccurred(error);
    finishReply(MessageStatus::Error, {}, error);
}

void ChatController::finishReply(MessageStatus status, const GenerationStats& stats, const QString& error) {
    const Reply r = *reply_;
    reply_.reset();
    store_->finishReply(r.messageId, status, stats, error).then(this, [this, r](const Status& s) {
        if (!s) emit errorOccurred(QStringLiteral("The reply was not saved: %1").arg(s.error()));
        emit replyFinished(r.messageId);
    });
    if (r.conversationId == conversationId_) {
        const int row = rowOf(r.messageId);
        if (row >= 0) {
            messages_[row].status = status;
            messages_[row].stats = stats;
            messages_[row].error = error;
            emit messageUpdated(row, messages_[row]);
        }
    }
    if (promptProgress_ >= 0) {
        promptProgress_ = -1;
        emit promptProgressChanged();
    }
    setBusy(false);
    // The first exchange is complete: let the model title the chat, unless the user named it.
    if (status == MessageStatus::Complete && r.conversationId == conversationId_ && messages_.size() == 2 &&
        messages_.last().id == r.messageId && !messages_.last().content.trimmed().isEmpty() &&
        !renamedByUser_.contains(conversationId_) && title_ == heuristicTitle(messages_.first().content))
        requestTitle(messages_.first().content, messages_.last().content);
}

void ChatController::onPromptProgress(quint64 requestId, int done, int total) {
    if (!reply_ || reply_->requestId != requestId || total <= 0) return;
    promptProgress_ = std::clamp(double(done) / double(total), 0.0, 1.0);
    emit promptProgressChanged();
}

void ChatController::onModelLoaded(const ModelInfo& info) {
    if (conversationId_ == 0) {
        conversationModel_ = info.name;
        emit chatSettingsChanged();
        return;
    }
    if (info.name == conversationModel_) return;
    recordModel(info.name);
    setNotice(QStringLiteral("This chat now continues on %1; its history is re-read in the new model's chat format.")
                  .arg(info.name));
}

void ChatController::recordModel(const QString& model) {
    if (model.isEmpty() || conversationId_ == 0 || model == conversationModel_) return;
    conversationModel_ = model;
    emit chatSettingsChanged();
    saveChatSettings();
}

void ChatController::saveChatSettings() {
    store_->updateConversationSettings(conversationId_, conversationModel_, systemPrompt_, savedSampling())
        .then(this, [this](const Status& s) {
            if (!s) emit errorOccurred(QStringLiteral("The chat's settings were not saved: %1").arg(s.error()));
        });
}

void ChatController::setChatSettings(const QString& systemPrompt, const QVariantMap& samplingOverrides) {
    systemPrompt_ = systemPrompt;
    systemPromptEdited_ = true;
    overrides_ = cleanOverrides(samplingOverrides);
    emit chatSettingsChanged();
    if (conversationId_ != 0) saveChatSettings();
}

void ChatController::renameConversation(qint64 id, const QString& title) {
    const QString t = title.simplified();
    if (t.isEmpty()) return;
    renamedByUser_.insert(id);
    store_->renameConversation(id, t).then(this, [this, id, t](const Status& s) {
        if (!s) {
            emit errorOccurred(s.error());
            return;
        }
        if (id == conversationId_) setTitle(t);
    });
}

void ChatController::setTitle(const QString& title) {
    if (title_ == title) return;
    title_ = title;
    emit titleChanged();
}

void ChatController::requestTitle(const QString& user, const QString& reply) {
    // Queued on the engine thread after the reply; a message sent meanwhile waits for these few
    // tokens. The conversation's prompt is still cached, so only the question is read.
    titleJob_ = TitleJob{engine_->generate(titleRequest(systemPrompt_, user, reply)), conversationId_};
}

void ChatController::onTitleFinished(const GenerationOutcome& out) {
    const TitleJob job = *titleJob_;
    titleJob_.reset();
    const QString title = cleanTitle(out.text);
    if (out.cancelled || title.isEmpty() || renamedByUser_.contains(job.conversationId)) return;
    store_->renameConversation(job.conversationId, title).then(this, [this, job, title](const Status& s) {
        if (!s) return;  // e.g. deleted meanwhile: the heuristic title (if any) stays
        if (job.conversationId == conversationId_) setTitle(title);
        emit titleGenerated(job.conversationId, title);
    });
}

}  // namespace ld::chat
