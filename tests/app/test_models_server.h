#pragma once
// A tiny HTTP/1.1 server on 127.0.0.1 for the model-download tests (Python's http.server has
// no Range support). Each route serves a body with Range support, or misbehaves on purpose:
// ignores Range, drops the connection after N bytes, answers a status, demands a token,
// redirects, or trickles the body out slowly; extra headers (X-Linked-Etag, X-Repo-Commit)
// play the Hugging Face hub. Runs on the test's event loop; loopback only.
#include <QHostAddress>
#include <QList>
#include <QMap>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QUrl>

namespace ld::test {

class TestHttpServer {
public:
    struct Route {
        QByteArray body;
        int status = 200;            // anything but 200: answered with a short text body
        bool ignoreRange = false;    // always 200 with the whole body
        qint64 dropAfter = -1;       // close the connection after this many body bytes...
        int dropTimes = 0;           // ...for this many requests
        QByteArray token;            // non-empty: 401 unless "Authorization: Bearer TOKEN"
        QByteArray redirectTo;       // non-empty: 302 to this path
        int chunkDelayMs = 0;        // > 0: send 16 KiB every chunkDelayMs
        QList<QByteArray> headers;   // extra headers on every answer, the 302 included
                                     // ("X-Linked-Etag: \"HEX\"", "X-Repo-Commit: C", as Hugging Face)
    };
    static Route serving(const QByteArray& body) {
        Route r;
        r.body = body;
        return r;
    }
    struct Seen {
        QByteArray path, range, authorization;
    };

    TestHttpServer() {
        QObject::connect(&server_, &QTcpServer::newConnection, [this] {
            while (QTcpSocket* s = server_.nextPendingConnection()) serve(s);
        });
    }
    bool listen() { return server_.listen(QHostAddress::LocalHost, 0); }
    QUrl url(const QByteArray& path) const {
        return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(server_.serverPort()).arg(QString::fromLatin1(path)));
    }

    QMap<QByteArray, Route> routes;
    QList<Seen> seen;

private:
    void serve(QTcpSocket* s) {
        auto buffer = std::make_shared<QByteArray>();
        QObject::connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
        QObject::connect(s, &QTcpSocket::readyRead, s, [this, s, buffer] {
            buffer->append(s->readAll());
            const int end = int(buffer->indexOf("\r\n\r\n"));
            if (end < 0) return;
            const QList<QByteArray> lines = buffer->left(end).split('\n');
            buffer->clear();
            const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
            Seen req;
            req.path = first.value(1);
            for (const QByteArray& l : lines.mid(1)) {
                const int colon = int(l.indexOf(':'));
                if (colon < 0) continue;
                const QByteArray name = l.left(colon).trimmed().toLower();
                const QByteArray value = l.mid(colon + 1).trimmed();
                if (name == "range") req.range = value;
                if (name == "authorization") req.authorization = value;
            }
            seen.append(req);
            respond(s, req);
        });
    }

    static void send(QTcpSocket* s, int status, const char* reason, const QList<QByteArray>& headers, const QByteArray& body) {
        QByteArray head = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reason + "\r\n";
        for (const QByteArray& h : headers) head += h + "\r\n";
        head += "Content-Length: " + QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n";
        s->write(head + body);
        s->disconnectFromHost();
    }

    void respond(QTcpSocket* s, const Seen& req) {
        auto it = routes.find(req.path);
        if (it == routes.end()) return send(s, 404, "Not Found", {}, "no such file\n");
        Route& r = it.value();
        if (!r.redirectTo.isEmpty()) return send(s, 302, "Found", QList<QByteArray>{"Location: " + r.redirectTo} + r.headers, {});
        if (!r.token.isEmpty() && req.authorization != "Bearer " + r.token)
            return send(s, 401, "Unauthorized", {}, "token required\n");
        if (r.status != 200) return send(s, r.status, "Error", {}, "error\n");

        const qint64 size = r.body.size();
        qint64 from = 0;
        if (!r.ignoreRange && req.range.startsWith("bytes=") && req.range.endsWith('-'))
            from = req.range.mid(6, req.range.size() - 7).toLongLong();
        if (from >= size && from > 0)
            return send(s, 416, "Range Not Satisfiable", QList<QByteArray>{"Content-Range: bytes */" + QByteArray::number(size)} + r.headers, {});
        const bool partial = from > 0;
        QByteArray head = partial ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 200 OK\r\n";
        if (partial)
            head += "Content-Range: bytes " + QByteArray::number(from) + '-' + QByteArray::number(size - 1) + '/' +
                    QByteArray::number(size) + "\r\n";
        for (const QByteArray& h : r.headers) head += h + "\r\n";
        head += "Accept-Ranges: bytes\r\nContent-Length: " + QByteArray::number(size - from) + "\r\nConnection: close\r\n\r\n";
        QByteArray body = r.body.mid(from);
        if (r.dropTimes > 0 && r.dropAfter >= 0) {
            --r.dropTimes;
            body.truncate(r.dropAfter);
        }
        s->write(head);
        if (r.chunkDelayMs <= 0) {
            s->write(body);
            s->disconnectFromHost();
            return;
        }
        // Trickle: the client sees the transfer in progress long enough to pause it.
        auto* timer = new QTimer(s);
        auto pos = std::make_shared<qint64>(0);
        QObject::connect(timer, &QTimer::timeout, s, [s, timer, pos, body] {
            if (s->state() != QAbstractSocket::ConnectedState) return timer->stop();
            const QByteArray chunk = body.mid(*pos, 16 * 1024);
            *pos += chunk.size();
            s->write(chunk);
            if (*pos >= body.size()) {
                timer->stop();
                s->disconnectFromHost();
            }
        });
        timer->start(r.chunkDelayMs);
    }

    QTcpServer server_;
};

}  // namespace ld::test
