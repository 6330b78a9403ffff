#include "app/mcp/mcp_client.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <utility>

namespace ld::mcp {
namespace {

constexpr int kMaxToolPages = 1000;  // a server that keeps handing out cursors is misbehaving
constexpr int kMaxLogLines = 500;

// deleteLater: the timer may be the one whose timeout is running right now.
void disposeTimer(QTimer* t) {
    t->stop();
    t->deleteLater();
}

QString seconds(int ms) { return QString::number(ms / 1000.0, 'g', 3) + QStringLiteral(" s"); }

}  // namespace

McpClient::McpClient(ServerConfig config, QObject* parent) : McpClient(std::move(config), Options{}, parent) {}

McpClient::McpClient(ServerConfig config, Options options, QObject* parent)
    : QObject(parent), config_(std::move(config)), options_(options) {
    relistTimer_.setSingleShot(true);
    relistTimer_.setInterval(100);
    connect(&relistTimer_, &QTimer::timeout, this, [this] {
        if (listing_) relist_ = true;
        else if (initialized_ && state_ == ServerState::Ready) listTools();
    });
}

// The transport, a child, kills the process group synchronously in its destructor. Pending
// callbacks are dropped, not called: their owners may be going away too.
McpClient::~McpClient() = default;

QString McpClient::serverLog() const {
    QString out = transport_ ? transport_->log() : lastLog_;
    if (!log_.isEmpty()) {
        if (!out.isEmpty() && !out.endsWith(QLatin1Char('\n'))) out += QLatin1Char('\n');
        out += log_.join(QLatin1Char('\n'));
    }
    return out;
}

void McpClient::appendLog(const QString& line) {
    log_ << line;
    if (log_.size() > kMaxLogLines) log_.removeFirst();
}

void McpClient::setState(ServerState s, const QString& reason) {
    failureReason_ = s == ServerState::Failed ? reason : QString();
    if (state_ == s) return;
    state_ = s;
    emit stateChanged(s);
}

void McpClient::start() {
    if (state_ == ServerState::Starting || state_ == ServerState::Ready) return;
    protocolVersion_.clear();
    serverInfo_ = {};
    initialized_ = listing_ = relist_ = false;
    relistChain_ = 0;
    setState(ServerState::Starting);
    Transport* t = nullptr;
    if (config_.transport == ServerConfig::Transport::Http) t = new HttpTransport(config_, options_.http, this);
    else t = new StdioTransport(config_, options_.stdio, this);
    transport_ = t;
    connect(t, &Transport::opened, this, [this, t] {
        if (auto* stdio = qobject_cast<StdioTransport*>(t)) lastPgid_ = stdio->processGroup();
        QJsonObject clientInfo{{QStringLiteral("name"), QStringLiteral("llamadesk")},
                               {QStringLiteral("title"), QStringLiteral("LlamaDesk")},
                               {QStringLiteral("version"), QStringLiteral(LLAMADESK_VERSION)}};
        // No client capabilities: sampling, roots and elicitation are not offered.
        sendRequest(Kind::Initialize, QStringLiteral("initialize"),
                    {{QStringLiteral("protocolVersion"), supportedProtocolVersions().first()},
                     {QStringLiteral("capabilities"), QJsonObject()},
                     {QStringLiteral("clientInfo"), clientInfo}},
                    options_.requestTimeoutMs);
    });
    connect(t, &Transport::lineReceived, this, &McpClient::onLine);
    connect(t, &Transport::failed, this, [this](const QString& why) { fail(why); });
    connect(t, &Transport::closed, this, [this, t] {
        if (t == transport_) transport_ = nullptr;
        else --closingTransports_;
        lastLog_ = t->log();
        t->deleteLater();
        if (!transport_ && closingTransports_ == 0) emit stopped();
    });
    t->open();
}

void McpClient::dropTransport() {
    if (!transport_) return;
    Transport* t = transport_;
    transport_ = nullptr;
    ++closingTransports_;
    lastLog_ = t->log();
    disconnect(t, &Transport::opened, this, nullptr);
    disconnect(t, &Transport::lineReceived, this, nullptr);
    disconnect(t, &Transport::failed, this, nullptr);
    t->close();
}

void McpClient::stop() {
    if (state_ != ServerState::Stopped) {
        setState(ServerState::Stopped);
        failAllCalls(QStringLiteral("the MCP server \"%1\" was stopped").arg(config_.name));
    }
    if (transport_) {
        dropTransport();
    } else if (closingTransports_ == 0) {
        QTimer::singleShot(0, this, [this] {
            if (!transport_ && closingTransports_ == 0) emit stopped();
        });
    }
}

void McpClient::fail(const QString& reason) {
    if (state_ == ServerState::Failed || state_ == ServerState::Stopped) return;
    appendLog(QStringLiteral("failed: ") + reason);
    setState(ServerState::Failed, reason);
    failAllCalls(QStringLiteral("the MCP server \"%1\" failed: %2").arg(config_.name, reason));
    dropTransport();
}

void McpClient::failAllCalls(const QString& why) {
    // Callbacks may call back into us (stop, start, another call): detach everything first.
    QList<CallCallback> callbacks;
    for (Pending& p : pending_) {
        disposeTimer(p.timer);
        if (p.kind == Kind::Call && p.done) callbacks << p.done;
    }
    pending_.clear();
    callToRpc_.clear();
    for (QueuedCall& q : queued_) callbacks << q.done;
    queued_.clear();
    listing_ = false;
    for (const CallCallback& cb : callbacks) cb(CallResult::failure(why));
}

qint64 McpClient::sendRequest(Kind kind, const QString& method, const QJsonObject& params, int timeoutMs) {
    const qint64 id = nextId_++;
    Pending p;
    p.kind = kind;
    p.timeoutMs = timeoutMs;
    p.timer = new QTimer(this);
    p.timer->setSingleShot(true);
    connect(p.timer, &QTimer::timeout, this, [this, id, method, timeoutMs] {
        auto it = pending_.find(id);
        if (it == pending_.end()) return;
        if (it->kind != Kind::Call) {
            fail(QStringLiteral("no answer to %1 within %2").arg(method, seconds(timeoutMs)));
            return;
        }
        // A slow tool is not a broken server: cancel this call, keep the connection.
        const QString why = QStringLiteral("the tool call timed out after %1").arg(seconds(timeoutMs));
        if (transport_)
            transport_->send(makeNotification(QStringLiteral("notifications/cancelled"),
                                              {{QStringLiteral("requestId"), id}, {QStringLiteral("reason"), why}}));
        finishCall(id, CallResult::failure(why + QStringLiteral(" (cancelled)")));
    });
    p.timer->start(timeoutMs);
    pending_.insert(id, p);
    if (transport_) transport_->send(makeRequest(id, method, params));
    return id;
}

void McpClient::onLine(const QByteArray& line) {
    QString error;
    const QList<RpcMessage> messages = parseLine(line, &error);
    if (messages.isEmpty()) {
        fail(QStringLiteral("the server sent %1").arg(error));
        return;
    }
    QPointer<McpClient> self(this);
    for (const RpcMessage& m : messages) {
        if (!self || !transport_) return;  // failed or stopped by an earlier message
        switch (m.kind) {
        case RpcMessage::Kind::Request: onServerRequest(m); break;
        case RpcMessage::Kind::Notification: onNotification(m); break;
        case RpcMessage::Kind::Result:
        case RpcMessage::Kind::Error: onResponse(m); break;
        }
    }
}

void McpClient::onServerRequest(const RpcMessage& m) {
    if (m.method == QLatin1String("ping")) {
        transport_->send(makeResult(m.id, {}));
        return;
    }
    // sampling/createMessage, roots/list, elicitation/create, ...: capabilities not declared.
    appendLog(QStringLiteral("answered the server's \"%1\" request: method not found").arg(m.method));
    transport_->send(makeError(m.id, kMethodNotFound,
                               QStringLiteral("Method not found: LlamaDesk does not offer \"%1\"").arg(m.method)));
}

void McpClient::onNotification(const RpcMessage& m) {
    if (m.method == QLatin1String("notifications/tools/list_changed")) {
        // Before initialize is answered the first listing is still to come; during a walk the
        // pages may mix old and new, so walk again once it ends.
        if (listing_) relist_ = true;
        else if (initialized_ && state_ == ServerState::Ready && !relistTimer_.isActive()) relistTimer_.start();
    } else if (m.method == QLatin1String("notifications/message")) {
        const QJsonObject p = m.params.toObject();
        const QJsonValue data = p.value(QStringLiteral("data"));
        appendLog(QStringLiteral("[%1] %2").arg(
            p.value(QStringLiteral("level")).toString(),
            data.isString() ? data.toString()
                            : QString::fromUtf8(QJsonDocument(QJsonObject{{QStringLiteral("data"), data}})
                                                    .toJson(QJsonDocument::Compact))));
    }
    // notifications/progress, notifications/cancelled (of the server's own requests) and
    // resource/prompt notifications need nothing from a tools-only client.
}

void McpClient::onResponse(const RpcMessage& m) {
    if (!m.id.isDouble()) return;  // not one of our integer ids: a stray answer
    const qint64 id = qint64(m.id.toDouble());
    auto it = pending_.find(id);
    if (it == pending_.end()) {
        // Typically the answer to a call that timed out or was cancelled.
        appendLog(QStringLiteral("ignored an answer to request %1, which is no longer pending").arg(id));
        return;
    }
    const Kind kind = it->kind;
    if (kind == Kind::Call) {
        if (m.kind == RpcMessage::Kind::Error) {
            finishCall(id, CallResult::failure(QStringLiteral("the server refused the call: %1 (JSON-RPC error %2)")
                                                   .arg(m.errorMessage)
                                                   .arg(m.errorCode)));
            return;
        }
        if (!m.result.isObject()) {
            finishCall(id, CallResult::failure(QStringLiteral("the server's tools/call result is not an object")));
            return;
        }
        const QJsonObject r = m.result.toObject();
        const QJsonValue content = r.value(QStringLiteral("content"));
        if (!content.isUndefined() && !content.isArray()) {
            finishCall(id, CallResult::failure(QStringLiteral("the server's tools/call result has a \"content\" that "
                                                              "is not an array")));
            return;
        }
        CallResult out;
        out.ok = true;
        out.content = content.toArray();
        out.isError = r.value(QStringLiteral("isError")).toBool(false);
        out.raw = r;
        finishCall(id, out);
        return;
    }
    disposeTimer(it->timer);
    pending_.erase(it);
    if (m.kind == RpcMessage::Kind::Error) {
        fail(QStringLiteral("the server answered %1 with an error: %2 (JSON-RPC error %3)")
                 .arg(kind == Kind::Initialize ? QStringLiteral("initialize") : QStringLiteral("tools/list"),
                      m.errorMessage)
                 .arg(m.errorCode));
        return;
    }
    if (!m.result.isObject()) {
        fail(QStringLiteral("the server's %1 result is not an object")
                 .arg(kind == Kind::Initialize ? QStringLiteral("initialize") : QStringLiteral("tools/list")));
        return;
    }
    if (kind == Kind::Initialize) onInitialized(m.result.toObject());
    else onToolsPage(m.result.toObject());
}

void McpClient::onInitialized(const QJsonObject& result) {
    const QString version = result.value(QStringLiteral("protocolVersion")).toString();
    if (!supportedProtocolVersions().contains(version)) {
        fail(QStringLiteral("the server speaks MCP protocol version \"%1\", which LlamaDesk does not support "
                            "(it supports %2)")
                 .arg(version, supportedProtocolVersions().join(QStringLiteral(", "))));
        return;
    }
    if (!result.value(QStringLiteral("capabilities")).isObject()) {
        fail(QStringLiteral("the server's initialize result has no \"capabilities\" object"));
        return;
    }
    protocolVersion_ = version;
    serverInfo_ = result.value(QStringLiteral("serverInfo")).toObject();
    initialized_ = true;
    transport_->setProtocolVersion(version);
    transport_->send(makeNotification(QStringLiteral("notifications/initialized")));
    if (result.value(QStringLiteral("capabilities")).toObject().contains(QStringLiteral("tools"))) {
        listTools();
        return;
    }
    tools_.clear();  // a server without tools: ready, with nothing to call
    setState(ServerState::Ready);
    emit toolsChanged();
}

void McpClient::listTools(const QString& cursor) {
    if (cursor.isEmpty()) {
        listing_ = true;
        relist_ = false;
        listed_.clear();
        seenCursors_.clear();
    }
    QJsonObject params;
    if (!cursor.isEmpty()) params.insert(QStringLiteral("cursor"), cursor);
    sendRequest(Kind::ListTools, QStringLiteral("tools/list"), params, options_.requestTimeoutMs);
}

void McpClient::onToolsPage(const QJsonObject& result) {
    const QJsonValue tools = result.value(QStringLiteral("tools"));
    if (!tools.isArray()) {
        fail(QStringLiteral("the server's tools/list result has no \"tools\" array"));
        return;
    }
    for (const QJsonValue& v : tools.toArray()) {
        const QJsonObject o = v.toObject();
        const QString name = o.value(QStringLiteral("name")).toString();
        if (name.isEmpty() || !o.value(QStringLiteral("inputSchema")).isObject()) {
            appendLog(QStringLiteral("skipped a listed tool without a name or an inputSchema object"));
            continue;
        }
        Tool t;
        t.server = config_.name;
        t.name = name;
        t.title = o.value(QStringLiteral("title")).toString();
        t.description = o.value(QStringLiteral("description")).toString();
        t.inputSchema = o.value(QStringLiteral("inputSchema")).toObject();
        t.raw = o;
        listed_ << t;
    }
    const QString next = result.value(QStringLiteral("nextCursor")).toString();
    if (!next.isEmpty()) {
        if (seenCursors_.contains(next) || seenCursors_.size() >= kMaxToolPages) {
            fail(QStringLiteral("the server's tools/list pages do not end (cursor \"%1\" again or over %2 pages)")
                     .arg(next.left(80))
                     .arg(kMaxToolPages));
            return;
        }
        seenCursors_ << next;
        listTools(next);
        return;
    }
    listing_ = false;
    tools_ = listed_;
    listed_.clear();
    const bool starting = state_ == ServerState::Starting;
    // Changed while we walked: the list may mix old and new. While starting, walk again at once
    // (a few times at most), so that Ready comes with a consistent list; once ready, through
    // the coalescing timer, so that a server repeating list_changed cannot keep us busy.
    if (relist_ && starting) {
        if (++relistChain_ <= 10) {
            listTools();
            return;
        }
        appendLog(QStringLiteral("the server keeps changing its tool list; using the last one listed"));
    }
    relistChain_ = 0;
    const bool changedAgain = std::exchange(relist_, false);
    if (starting) setState(ServerState::Ready);
    emit toolsChanged();
    if (state_ != ServerState::Ready) return;  // a receiver stopped us
    if (changedAgain && !relistTimer_.isActive()) relistTimer_.start();
    if (starting) {
        const QList<QueuedCall> queued = std::exchange(queued_, {});
        for (const QueuedCall& q : queued) sendCall(q);
    }
}

qint64 McpClient::callTool(const QString& name, const QJsonObject& arguments, CallCallback done, int timeoutMs) {
    QueuedCall q{nextId_++, name, arguments, std::move(done),
                 timeoutMs > 0 ? timeoutMs : options_.callTimeoutMs};
    if (state_ == ServerState::Failed) {
        const QString why = QStringLiteral("the MCP server \"%1\" failed: %2").arg(config_.name, failureReason_);
        QTimer::singleShot(0, this, [cb = q.done, why] { cb(CallResult::failure(why)); });
        return q.callId;
    }
    if (state_ == ServerState::Ready) {
        sendCall(q);
        return q.callId;
    }
    queued_ << q;
    start();
    return q.callId;
}

void McpClient::sendCall(const QueuedCall& call) {
    const qint64 rpcId = sendRequest(Kind::Call, QStringLiteral("tools/call"),
                                     {{QStringLiteral("name"), call.name}, {QStringLiteral("arguments"), call.arguments}},
                                     call.timeoutMs);
    pending_[rpcId].done = call.done;
    pending_[rpcId].callId = call.callId;
    callToRpc_.insert(call.callId, rpcId);
}

void McpClient::finishCall(qint64 rpcId, const CallResult& result) {
    auto it = pending_.find(rpcId);
    if (it == pending_.end()) return;
    const CallCallback done = it->done;
    callToRpc_.remove(it->callId);
    disposeTimer(it->timer);
    pending_.erase(it);
    if (done) done(result);
}

void McpClient::cancelCall(qint64 callId, const QString& reason) {
    for (int i = 0; i < queued_.size(); ++i) {
        if (queued_[i].callId != callId) continue;
        const CallCallback done = queued_.takeAt(i).done;
        QTimer::singleShot(0, this, [done, reason] { done(CallResult::failure(reason)); });
        return;
    }
    const auto it = callToRpc_.constFind(callId);
    if (it == callToRpc_.constEnd()) return;
    const qint64 rpcId = *it;
    if (transport_)
        transport_->send(makeNotification(QStringLiteral("notifications/cancelled"),
                                          {{QStringLiteral("requestId"), rpcId}, {QStringLiteral("reason"), reason}}));
    finishCall(rpcId, CallResult::failure(reason));
}

}  // namespace ld::mcp
