#pragma once
// One blocking HTTP exchange with an endpoint, on the calling thread: a private
// QNetworkAccessManager and a local event loop, so any worker thread (with a QCoreApplication
// alive) can call it, several at once. Three timeouts: connecting (until the request is sent),
// the first byte of the response, and silence between two pieces of a streamed body. TLS
// certificates are verified; the endpoint's CA file adds trusted CAs.
#include <QByteArray>
#include <QString>
#include <QUrl>
#include <atomic>
#include <functional>

#include "app/remote/endpoint.h"

namespace ld::remote {

struct HttpResult {
    enum class Timeout { None, Connect, FirstByte, Idle };
    int status = 0;               // HTTP status; 0 when no response arrived
    QByteArray body;              // the body of an error status, or of any response without onData
    QByteArray retryAfter;        // the Retry-After header
    QByteArray contentType;
    bool networkError = false;    // the exchange failed below HTTP (refused, reset, TLS, timeout)
    QString networkErrorText;
    Timeout timeout = Timeout::None;
    bool cancelled = false;       // *cancel was set, or onData asked to stop
    qint64 bytesReceived = 0;     // body bytes that reached onData
    bool ok() const { return !networkError && !cancelled && status >= 200 && status < 300; }
};

// POST when body is not null, GET otherwise. With onData, the body of a 2xx response is handed
// over piece by piece as it arrives (return false to stop the exchange); error bodies are always
// collected in HttpResult::body. Cancellation is noticed within 20 ms.
HttpResult httpCall(const RemoteEndpoint& ep, const QUrl& url, const QByteArray* body,
                    const std::function<bool(const QByteArray&)>& onData, const std::atomic<bool>* cancel);

}  // namespace ld::remote
