#include "app/remote/remote_client.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>
#include <QThread>

#include "app/remote/http_call.h"
#include "app/remote/sse_parser.h"

namespace ld::remote {

namespace {

// Sleeps up to ms, returning early (false) when cancelled.
bool waitFor(int ms, const std::atomic<bool>* cancel) {
    for (int waited = 0; waited < ms; waited += 20) {
        if (cancel && cancel->load()) return false;
        QThread::msleep(20);
    }
    return !(cancel && cancel->load());
}

}  // namespace

int retryAfterSeconds(const QByteArray& header) {
    const QByteArray h = header.trimmed();
    if (h.isEmpty()) return -1;
    bool ok = false;
    const int s = h.toInt(&ok);
    if (ok) return s < 0 ? -1 : s;
    // HTTP date, e.g. "Wed, 21 Oct 2015 07:28:00 GMT"
    const QDateTime when = QLocale::c().toDateTime(QString::fromLatin1(h).chopped(4), QStringLiteral("ddd, dd MMM yyyy HH:mm:ss"));
    if (!when.isValid()) return -1;
    QDateTime utc = when;
    utc.setTimeSpec(Qt::UTC);
    return int(std::max<qint64>(0, QDateTime::currentDateTimeUtc().secsTo(utc)));
}

QString describeHttpError(int status, const QByteArray& body, const QByteArray& retryAfter, const QString& model) {
    const QString msg = errorMessage(body);
    const QString said = msg.isEmpty() ? QString() : QStringLiteral(": ") + msg;
    if (status == 401 || status == 403)
        return QStringLiteral("the server refused the request (HTTP %1)%2; check the API key").arg(status).arg(said);
    if (status == 404)
        return model.isEmpty()
                   ? QStringLiteral("not found (HTTP 404)%1; is the base URL right (it usually ends in /v1)?").arg(said)
                   : QStringLiteral("not found (HTTP 404)%1; the model '%2' may not exist on this server, or the base "
                                    "URL is wrong (it usually ends in /v1)").arg(said, model);
    if (status == 429 || status == 503) {
        const int s = retryAfterSeconds(retryAfter);
        const QString when = s >= 0 ? QStringLiteral("; retry after %1 s").arg(s) : QString();
        return status == 429 ? QStringLiteral("the server is rate-limiting requests (HTTP 429)%1%2").arg(said, when)
                             : QStringLiteral("the server is busy (HTTP 503)%1%2").arg(said, when);
    }
    if (status >= 500) return QStringLiteral("the server failed (HTTP %1)%2").arg(status).arg(said);
    return QStringLiteral("the server rejected the request (HTTP %1)%2").arg(status).arg(said);
}

RemoteClient::RemoteClient(RemoteEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

ModelList RemoteClient::models(const std::atomic<bool>* cancel) const {
    ModelList out;
    const HttpResult r = httpCall(endpoint_, endpoint_.url(QStringLiteral("/models")), nullptr, {}, cancel);
    if (r.cancelled) {
        out.error = QStringLiteral("cancelled");
        return out;
    }
    if (r.networkError) {
        out.error = r.networkErrorText;
        return out;
    }
    if (!r.ok()) {
        out.error = describeHttpError(r.status, r.body, r.retryAfter, {});
        return out;
    }
    auto list = parseModelList(r.body, &out.error);
    if (list) out.models = *list;
    return out;
}

std::optional<int> RemoteClient::tokenCount(const QString& text, QString* error) const {
    const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("prompt"), text},
                                                      {QStringLiteral("content"), text},
                                                      {QStringLiteral("add_special_tokens"), false}})
                                .toJson(QJsonDocument::Compact);
    const HttpResult r = httpCall(endpoint_, endpoint_.rootUrl(QStringLiteral("/tokenize")), &body, {}, nullptr);
    if (r.networkError) {
        if (error) *error = r.networkErrorText;
        return std::nullopt;
    }
    if (!r.ok()) {
        if (error) *error = r.status == 404 || r.status == 405 ? QStringLiteral("the server has no /tokenize")
                                                               : describeHttpError(r.status, r.body, r.retryAfter, {});
        return std::nullopt;
    }
    const QJsonObject o = QJsonDocument::fromJson(r.body).object();
    if (o.value(QLatin1String("count")).isDouble()) return o.value(QLatin1String("count")).toInt();
    if (o.value(QLatin1String("tokens")).isArray()) return int(o.value(QLatin1String("tokens")).toArray().size());
    if (error) *error = QStringLiteral("the server's /tokenize answer has no tokens");
    return std::nullopt;
}

GenerationReply RemoteClient::generate(const GenerationRequest& request, const std::function<void(const QString&)>& onText,
                                       const std::atomic<bool>* cancel) const {
    GenerationReply reply;
    const bool chat = request.kind == GenerationRequest::Kind::Chat;
    const QUrl url = endpoint_.url(chat ? QStringLiteral("/chat/completions") : QStringLiteral("/completions"));
    const QByteArray body = requestBody(request, true);
    for (;;) {
        SseParser parser;
        bool done = false;
        QString streamError;
        QByteArray raw;   // the body while no event came: a server may answer without streaming
        auto handle = [&](const QList<QByteArray>& events) {
            for (const QByteArray& data : events) {
                // Several events can come in one read: a cancel stops before the next piece.
                if (cancel && cancel->load()) return false;
                const StreamEvent ev = parseStreamEvent(data, request.kind);
                if (ev.type == StreamEvent::Type::Done) {
                    done = true;
                } else if (ev.type == StreamEvent::Type::Error) {
                    streamError = ev.error;
                    return false;
                } else if (ev.type == StreamEvent::Type::Delta) {
                    if (!ev.text.isEmpty()) {
                        reply.text += ev.text;
                        if (onText) onText(ev.text);
                    }
                    if (!ev.finishReason.isEmpty()) reply.finishReason = ev.finishReason;
                    if (ev.promptTokens >= 0) reply.promptTokens = ev.promptTokens;
                    if (ev.completionTokens >= 0) reply.completionTokens = ev.completionTokens;
                }
            }
            return true;
        };
        const HttpResult r = httpCall(endpoint_, url, &body, [&](const QByteArray& piece) {
            if (!parser.sawAnyEvent() && raw.size() < SseParser::kMaxEventBytes) raw += piece;
            if (!handle(parser.feed(piece))) return false;
            if (parser.overflowed())
                streamError = QStringLiteral("the stream sent a line or event over %1 MiB; it was cut off there")
                                  .arg(SseParser::kMaxEventBytes >> 20);
            return !parser.overflowed();
        }, cancel);
        reply.httpStatus = r.status;
        if (!r.networkError && streamError.isEmpty() && r.status >= 200 && r.status < 300) handle(parser.finish());

        if (!streamError.isEmpty()) {
            reply.end = ReplyEnd::Failed;
            reply.error = reply.text.isEmpty() ? QStringLiteral("the server reported an error: %1").arg(streamError)
                                               : QStringLiteral("the server reported an error mid-stream (the partial reply is kept): %1").arg(streamError);
            return reply;
        }
        if (r.cancelled) {
            reply.end = ReplyEnd::Cancelled;
            return reply;
        }
        if (r.networkError) {
            if (reply.text.isEmpty() && r.bytesReceived == 0) {
                reply.end = ReplyEnd::Failed;
                reply.error = r.networkErrorText;
            } else {
                reply.end = ReplyEnd::Interrupted;
                reply.error = QStringLiteral("the reply stopped half-way (%1); the partial reply is kept").arg(r.networkErrorText);
            }
            return reply;
        }
        if (r.status == 429 || r.status == 503) {
            const int s = retryAfterSeconds(r.retryAfter);
            if (s >= 0 && s * 1000 <= endpoint_.maxRetryAfterMs && reply.retries < endpoint_.maxRetries) {
                ++reply.retries;
                if (!waitFor(std::max(s * 1000, 50), cancel)) {
                    reply.end = ReplyEnd::Cancelled;
                    return reply;
                }
                continue;
            }
        }
        if (r.status < 200 || r.status >= 300) {
            reply.end = ReplyEnd::Failed;
            reply.error = describeHttpError(r.status, r.body, r.retryAfter, request.model);
            if (reply.retries > 0) reply.error += QStringLiteral(" (after %1 retries)").arg(reply.retries);
            return reply;
        }
        if (!parser.sawAnyEvent()) {
            // No events: a server that ignored "stream": true and sent the whole reply as JSON.
            const auto whole = parseWholeReply(raw, request.kind);
            if (!whole) {
                reply.end = ReplyEnd::Failed;
                reply.error = QStringLiteral("the server's answer is neither a stream nor a completion: %1")
                                  .arg(QString::fromUtf8(raw.left(200)));
                return reply;
            }
            if (whole->type == StreamEvent::Type::Error) {
                reply.end = ReplyEnd::Failed;
                reply.error = QStringLiteral("the server reported an error: %1").arg(whole->error);
                return reply;
            }
            reply.text = whole->text;
            if (onText && !reply.text.isEmpty()) onText(reply.text);
            reply.finishReason = whole->finishReason;
            reply.promptTokens = whole->promptTokens;
            reply.completionTokens = whole->completionTokens;
            reply.end = ReplyEnd::Complete;
            return reply;
        }
        // A stream is complete with [DONE] or a finish reason; a clean close before either is a
        // server that died half-way.
        if (!done && reply.finishReason.isEmpty()) {
            reply.end = ReplyEnd::Interrupted;
            reply.error = QStringLiteral("the server closed the stream before the reply was complete; the partial reply is kept");
            return reply;
        }
        reply.end = ReplyEnd::Complete;
        return reply;
    }
}

}  // namespace ld::remote
