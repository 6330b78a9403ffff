#include "app/remote/http_call.h"

#include <QEventLoop>
#include <QFile>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslError>
#include <QTimer>

namespace ld::remote {

namespace {

QString seconds(int ms) { return QString::number(ms / 1000.0, 'g', 3); }

// An error body (or a body read without onData) is kept up to this size: enough for any error
// object or model list, and a hostile server cannot grow it without bound.
constexpr qsizetype kMaxBody = 16 << 20;

void appendCapped(QByteArray& body, const QByteArray& piece) {
    if (body.size() < kMaxBody) body += piece.left(kMaxBody - body.size());
}

}  // namespace

HttpResult httpCall(const RemoteEndpoint& ep, const QUrl& url, const QByteArray* body,
                    const std::function<bool(const QByteArray&)>& onData, const std::atomic<bool>* cancel) {
    HttpResult res;
    QNetworkRequest req(url);
    req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::NoLessSafeRedirectPolicy);
    req.setHeader(QNetworkRequest::UserAgentHeader, QByteArray("LlamaDesk/" LLAMADESK_VERSION));
    req.setRawHeader("Accept", "application/json, text/event-stream");
    if (!ep.apiKey.isEmpty()) req.setRawHeader("Authorization", "Bearer " + ep.apiKey.toUtf8());
    if (body) req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
    if (url.scheme() == QLatin1String("https")) {
        QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
        conf.setPeerVerifyMode(QSslSocket::VerifyPeer);
        if (!ep.caFile.isEmpty()) {
            const QList<QSslCertificate> cas = QSslCertificate::fromPath(ep.caFile, QSsl::Pem);
            if (cas.isEmpty()) {
                res.networkError = true;
                res.networkErrorText = QStringLiteral("the CA file %1 has no PEM certificate (or cannot be read)").arg(ep.caFile);
                return res;
            }
            conf.addCaCertificates(cas);
        }
        req.setSslConfiguration(conf);
    }

    // A manager per call: any worker thread may call this, several at once, with nothing shared
    // between them. It costs a fresh connection per call (no keep-alive reuse), small next to a
    // generation; the callers that make many short calls (summaries' map steps) run them
    // concurrently anyway.
    QNetworkAccessManager nam;
    nam.setAutoDeleteReplies(false);
    QNetworkReply* reply = body ? nam.post(req, *body) : nam.get(req);
    QEventLoop loop;
    QTimer deadline;   // connect, then first byte, then idle: one timer re-armed per phase
    deadline.setSingleShot(true);
    QTimer poll;       // notices *cancel
    poll.setInterval(20);
    bool headersSeen = false;
    bool sent = false;
    QStringList sslErrors;

    auto stop = [&](HttpResult::Timeout t, bool cancelled) {
        if (t != HttpResult::Timeout::None) res.timeout = t;
        if (cancelled) res.cancelled = true;
        if (!reply->isFinished()) reply->abort();
    };
    auto readHeaders = [&]() {
        if (headersSeen) return;
        const QVariant st = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
        if (!st.isValid()) return;
        headersSeen = true;
        res.status = st.toInt();
        res.retryAfter = reply->rawHeader("Retry-After");
        res.contentType = reply->rawHeader("Content-Type");
        // Headers can come before the server has produced anything (a long prompt still being
        // read): the first-byte timeout runs until the body starts, the idle one after.
        if (res.bytesReceived == 0 && res.body.isEmpty()) deadline.start(ep.firstByteTimeoutMs);
    };
    QObject::connect(reply, &QNetworkReply::requestSent, &loop, [&]() {
        sent = true;
        if (!headersSeen) deadline.start(ep.firstByteTimeoutMs);
    });
    QObject::connect(reply, &QNetworkReply::metaDataChanged, &loop, readHeaders);
    QObject::connect(reply, &QNetworkReply::readyRead, &loop, [&]() {
        readHeaders();
        const QByteArray piece = reply->readAll();
        if (!piece.isEmpty()) deadline.start(ep.idleTimeoutMs);
        if (cancel && cancel->load()) return stop(HttpResult::Timeout::None, true);
        const bool success = res.status >= 200 && res.status < 300;
        if (onData && success) {
            res.bytesReceived += piece.size();
            if (!onData(piece)) stop(HttpResult::Timeout::None, true);
        } else {
            appendCapped(res.body, piece);
            res.bytesReceived += piece.size();
        }
    });
    QObject::connect(reply, &QNetworkReply::sslErrors, &loop, [&](const QList<QSslError>& errors) {
        for (const QSslError& e : errors) sslErrors << e.errorString();
    });
    QObject::connect(&deadline, &QTimer::timeout, &loop, [&]() {
        const bool bodyStarted = res.bytesReceived > 0 || !res.body.isEmpty();
        stop(!sent && !headersSeen ? HttpResult::Timeout::Connect
                                   : bodyStarted ? HttpResult::Timeout::Idle : HttpResult::Timeout::FirstByte,
             false);
    });
    QObject::connect(&poll, &QTimer::timeout, &loop, [&]() {
        if (cancel && cancel->load()) stop(HttpResult::Timeout::None, true);
    });
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    deadline.start(ep.connectTimeoutMs);
    poll.start();
    if (!reply->isFinished()) loop.exec();
    readHeaders();
    // Whatever arrived with the end of the reply.
    if (const QByteArray rest = reply->isOpen() ? reply->readAll() : QByteArray(); !rest.isEmpty()) {
        const bool success = res.status >= 200 && res.status < 300;
        if (onData && success && !res.cancelled) {
            res.bytesReceived += rest.size();
            onData(rest);
        } else {
            appendCapped(res.body, rest);
        }
    }
    const QNetworkReply::NetworkError err = reply->error();
    // An HTTP error status is reported by its status, not as a network error.
    const bool httpLevel = err >= QNetworkReply::ContentAccessDenied && err <= QNetworkReply::UnknownServerError && headersSeen;
    if (err != QNetworkReply::NoError && !httpLevel && !res.cancelled) {
        res.networkError = true;
        const QString host = url.port() > 0 ? QStringLiteral("%1:%2").arg(url.host()).arg(url.port()) : url.host();
        switch (res.timeout) {
        case HttpResult::Timeout::Connect:
            res.networkErrorText = QStringLiteral("no connection to %1 within %2 s").arg(host, seconds(ep.connectTimeoutMs));
            break;
        case HttpResult::Timeout::FirstByte:
            res.networkErrorText = QStringLiteral("%1 accepted the request but sent no answer within %2 s (first-byte timeout)")
                                       .arg(host, seconds(ep.firstByteTimeoutMs));
            break;
        case HttpResult::Timeout::Idle:
            res.networkErrorText = QStringLiteral("%1 sent nothing for %2 s (idle timeout)").arg(host, seconds(ep.idleTimeoutMs));
            break;
        case HttpResult::Timeout::None:
            if (err == QNetworkReply::ConnectionRefusedError)
                res.networkErrorText = QStringLiteral("cannot connect to %1: connection refused (is the server running?)").arg(host);
            else if (err == QNetworkReply::HostNotFoundError)
                res.networkErrorText = QStringLiteral("cannot connect to %1: host not found").arg(host);
            else if (err == QNetworkReply::SslHandshakeFailedError)
                res.networkErrorText = QStringLiteral("TLS with %1 failed: %2 (a server with a private CA needs --ca-file)")
                                           .arg(host, sslErrors.isEmpty() ? reply->errorString() : sslErrors.join(QStringLiteral("; ")));
            else if (err == QNetworkReply::RemoteHostClosedError)
                res.networkErrorText = QStringLiteral("%1 closed the connection").arg(host);
            else
                res.networkErrorText = QStringLiteral("%1: %2").arg(host, reply->errorString());
            break;
        }
    }
    delete reply;
    return res;
}

}  // namespace ld::remote
