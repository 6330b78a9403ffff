#include "app/mcp/http_transport.h"

#include <QJsonDocument>
#include <QPointer>
#include <QTimer>

namespace ld::mcp {
namespace {

const QByteArray kSessionHeader = QByteArrayLiteral("Mcp-Session-Id");
const QByteArray kVersionHeader = QByteArrayLiteral("MCP-Protocol-Version");

QString tooLong(qsizetype maxBytes) {
    return QStringLiteral("the server sent a message longer than %1 MiB; connection closed")
        .arg(double(maxBytes) / (1024 * 1024), 0, 'g', 3);
}

}  // namespace

HttpTransport::HttpTransport(ServerConfig config, Options options, QObject* parent)
    : Transport(parent), config_(std::move(config)), options_(options) {}

HttpTransport::~HttpTransport() {
    closing_ = true;  // aborting below is not a failure
    abortStreams();
}

void HttpTransport::abortStreams() {
    const QList<QNetworkReply*> replies = streams_.keys();
    streams_.clear();
    for (QNetworkReply* r : replies) {
        r->disconnect(this);
        r->abort();
        r->deleteLater();
    }
}

void HttpTransport::note(const QString& line) {
    log_ << line;
    if (log_.size() > 200) log_.removeFirst();
}

QNetworkRequest HttpTransport::makeRequest() const {
    QNetworkRequest req(config_.url);
    req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    req.setRawHeader("Accept", "application/json, text/event-stream");
    for (auto it = config_.headers.begin(); it != config_.headers.end(); ++it)
        req.setRawHeader(it.key().toUtf8(), it.value().toUtf8());
    if (!sessionId_.isEmpty()) req.setRawHeader(kSessionHeader, sessionId_);
    if (!protocolVersion_.isEmpty()) req.setRawHeader(kVersionHeader, protocolVersion_);
    return req;
}

void HttpTransport::open() {
    if (opened_) return;
    opened_ = true;
    // Nothing to connect ahead: the first POST (initialize) is the connection.
    QTimer::singleShot(0, this, [this] {
        if (!closing_) emit opened();
    });
}

void HttpTransport::send(const QJsonObject& message) {
    if (closing_ || failed_) return;
    QNetworkReply* reply = nam_.post(makeRequest(), QJsonDocument(message).toJson(QJsonDocument::Compact));
    watch(reply, false);
    // The server may push messages of its own once the session is initialized.
    if (message.value(QStringLiteral("method")).toString() == QLatin1String("notifications/initialized"))
        startGetStream();
}

void HttpTransport::startGetStream() {
    QNetworkRequest req = makeRequest();
    req.setRawHeader("Accept", "text/event-stream");
    watch(nam_.get(req), true);
}

void HttpTransport::watch(QNetworkReply* reply, bool get) {
    Stream s;
    s.get = get;
    s.events = remote::SseParser(options_.maxMessageBytes);
    streams_.insert(reply, s);
    connect(reply, &QNetworkReply::readyRead, this, [this, reply] { onReadyRead(reply); });
    connect(reply, &QNetworkReply::finished, this, [this, reply] { onFinished(reply); });
}

void HttpTransport::onHeaders(QNetworkReply* reply, Stream& s) {
    if (s.headersSeen) return;
    s.headersSeen = true;
    const QByteArray session = reply->rawHeader(kSessionHeader);
    if (!session.isEmpty() && sessionId_.isEmpty()) sessionId_ = session;
    s.sse = reply->header(QNetworkRequest::ContentTypeHeader).toString().startsWith(QLatin1String("text/event-stream"));
}

void HttpTransport::onReadyRead(QNetworkReply* reply) {
    auto it = streams_.find(reply);
    if (it == streams_.end()) return;
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status >= 300) return;  // the error body is read in onFinished
    onHeaders(reply, *it);
    if (it->sse) {
        feedSse(reply, reply->readAll(), false);
        return;
    }
    it->body += reply->readAll();
    if (it->body.size() > options_.maxMessageBytes) fail(tooLong(options_.maxMessageBytes));
}

// Each event's data is one JSON-RPC message; "event:", "id:", "retry:" and ":" comments need
// nothing here. `atEnd`: the reply finished, so a last event without its blank line counts.
// Returns false once this reply is gone (failed, closed, or the transport deleted by a slot).
bool HttpTransport::feedSse(QNetworkReply* reply, const QByteArray& bytes, bool atEnd) {
    auto it = streams_.find(reply);
    if (it == streams_.end()) return false;
    QList<QByteArray> events = it->events.feed(bytes);
    const bool overflowed = it->events.overflowed();
    if (atEnd && !overflowed) events += it->events.finish();
    QPointer<HttpTransport> self(this);
    for (const QByteArray& event : events) {
        if (event.trimmed().isEmpty()) continue;  // e.g. a priming event with an empty "data:"
        emit lineReceived(event);
        if (!self || !streams_.contains(reply)) return false;
    }
    if (overflowed) {
        fail(tooLong(options_.maxMessageBytes));
        return false;
    }
    return true;
}

void HttpTransport::onFinished(QNetworkReply* reply) {
    reply->deleteLater();
    auto it = streams_.find(reply);
    if (it == streams_.end()) return;
    Stream s = *it;
    if (closing_) {
        streams_.erase(it);
        return;
    }
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (reply->error() != QNetworkReply::NoError && status == 0) {
        streams_.erase(it);
        fail(QStringLiteral("cannot reach %1: %2").arg(config_.url.toString(), reply->errorString()));
        return;
    }
    if (s.get) {
        streams_.erase(it);
        // 405: the server offers no stream of its own, which is allowed. Others: say so in the
        // log; requests still work over POST.
        if (status == 405) note(QStringLiteral("the server offers no stream for its own messages (GET: 405)"));
        else if (status >= 300) note(QStringLiteral("GET stream refused: HTTP %1").arg(status));
        else note(QStringLiteral("the server closed its stream for its own messages"));
        return;
    }
    if (status >= 300) {
        const QByteArray body = reply->readAll().left(300).trimmed();
        streams_.erase(it);
        if (status == 404 && !sessionId_.isEmpty()) {
            fail(QStringLiteral("the server ended the session (HTTP 404)"));
            return;
        }
        fail(QStringLiteral("HTTP %1 from %2%3")
                 .arg(status)
                 .arg(config_.url.toString(), body.isEmpty() ? QString() : QStringLiteral(": ") + QString::fromUtf8(body)));
        return;
    }
    onHeaders(reply, *it);
    if (it->sse) {
        if (feedSse(reply, reply->readAll(), true)) streams_.remove(reply);
        return;
    }
    const QByteArray body = (it->body + reply->readAll()).trimmed();
    streams_.erase(it);
    if (body.size() > options_.maxMessageBytes) {
        fail(tooLong(options_.maxMessageBytes));
        return;
    }
    if (!body.isEmpty()) emit lineReceived(body);  // 202 Accepted has none
}

void HttpTransport::fail(const QString& reason) {
    if (failed_ || closing_) return;
    failed_ = true;
    note(QStringLiteral("failed: ") + reason);
    QPointer<HttpTransport> self(this);
    emit failed(reason);
    if (self) close();
}

void HttpTransport::close() {
    if (closing_) return;
    closing_ = true;
    abortStreams();
    if (sessionId_.isEmpty()) {
        QTimer::singleShot(0, this, &HttpTransport::finishClose);
        return;
    }
    // Tell the server the session is over (it may answer 405: sessions it ends itself).
    QNetworkRequest req = makeRequest();
    req.setTransferTimeout(options_.closeTimeoutMs);
    QNetworkReply* del = nam_.deleteResource(req);
    connect(del, &QNetworkReply::finished, this, [this, del] {
        del->deleteLater();
        finishClose();
    });
}

void HttpTransport::finishClose() {
    if (closed_) return;
    closed_ = true;
    emit closed();
}

}  // namespace ld::mcp
