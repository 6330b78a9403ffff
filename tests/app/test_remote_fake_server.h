#pragma once
// A scripted OpenAI-compatible server on 127.0.0.1 for the remote-engine tests. Each request
// (matched by path) is answered by the next script queued for that path (the last one repeats):
// a list of steps, each bytes written after a delay, then the connection is closed, or left
// open (a stalled server). Requests are recorded with their headers and bodies, and the most
// connections open at once is counted (concurrent map steps). Runs on the event loop of the
// thread that creates it.
#include <QHostAddress>
#include <QList>
#include <QMap>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QUrl>
#include <memory>

namespace ld::test {

class FakeOpenAiServer {
public:
    struct Step {
        int delayMs = 0;
        QByteArray bytes;
    };
    struct Script {
        QList<Step> steps;
        bool close = true;   // false: keep the connection open after the last step (a stall)
    };
    struct Seen {
        QByteArray method, path, authorization, body;
    };

    // A QSslServer makes it an https server (connections are handed over once encrypted).
    explicit FakeOpenAiServer(std::unique_ptr<QTcpServer> server = std::make_unique<QTcpServer>(), bool tls = false)
        : server_(std::move(server)), tls_(tls) {
        // A QSslServer adds its connections after the handshake, telling only
        // pendingConnectionAvailable; newConnection came with the bare socket.
        auto take = [this] {
            while (QTcpSocket* s = server_->nextPendingConnection()) serve(s);
        };
        QObject::connect(server_.get(), &QTcpServer::newConnection, take);
        QObject::connect(server_.get(), &QTcpServer::pendingConnectionAvailable, take);
    }
    bool listen() { return server_->listen(QHostAddress::LocalHost, 0); }
    void close() { server_->close(); }
    quint16 port() const { return server_->serverPort(); }
    QUrl baseUrl() const {
        return QUrl(QStringLiteral("%1://127.0.0.1:%2/v1").arg(tls_ ? QStringLiteral("https") : QStringLiteral("http")).arg(port()));
    }

    // Queues a script for a path ("/v1/chat/completions").
    void add(const QByteArray& path, Script s) { scripts_[path].append(std::move(s)); }

    QList<Seen> seen;
    int open = 0;
    int maxOpen = 0;

    // --- responses -------------------------------------------------------------------------
    static QByteArray head(int status, const QByteArray& contentType, const QList<QByteArray>& extra = {}) {
        QByteArray h = "HTTP/1.1 " + QByteArray::number(status) + " X\r\nContent-Type: " + contentType +
                       "\r\nConnection: close\r\n";
        for (const QByteArray& e : extra) h += e + "\r\n";
        return h + "\r\n";
    }
    // An SSE stream: each event's data as given, lines ended by eol, events by a blank line.
    static Script stream(const QList<QByteArray>& events, const QByteArray& eol = "\n", int delayMs = 0) {
        Script s;
        s.steps.append({0, head(200, "text/event-stream")});
        for (const QByteArray& e : events)
            s.steps.append({delayMs, e.startsWith(':') ? e + eol : "data: " + e + eol + eol});
        return s;
    }
    static Script json(int status, const QByteArray& body, const QList<QByteArray>& extra = {}) {
        QList<QByteArray> headers = extra;
        headers.append("Content-Length: " + QByteArray::number(body.size()));
        return Script{{{0, head(status, "application/json", headers) + body}}, true};
    }

private:
    void serve(QTcpSocket* s) {
        auto buffer = std::make_shared<QByteArray>();
        auto started = std::make_shared<bool>(false);
        ++open;
        maxOpen = std::max(maxOpen, open);
        QObject::connect(s, &QTcpSocket::disconnected, s, [this, s] {
            --open;
            s->deleteLater();
        });
        QObject::connect(s, &QTcpSocket::readyRead, s, [this, s, buffer, started] {
            buffer->append(s->readAll());
            const qsizetype end = buffer->indexOf("\r\n\r\n");
            if (*started || end < 0) return;
            Seen seen1;
            const QList<QByteArray> lines = buffer->left(end).split('\n');
            const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
            seen1.method = first.value(0);
            seen1.path = first.value(1);
            qsizetype length = 0;
            for (const QByteArray& l : lines) {
                const QByteArray t = l.trimmed();
                const QByteArray lower = t.toLower();
                if (lower.startsWith("content-length:")) length = t.mid(15).trimmed().toLongLong();
                if (lower.startsWith("authorization:")) seen1.authorization = t.mid(14).trimmed();
            }
            if (buffer->size() < end + 4 + length) return;  // the body is still coming
            *started = true;
            seen1.body = buffer->mid(end + 4, length);
            seen.append(seen1);
            QList<Script>& queue = scripts_[seen1.path];
            Script script = queue.isEmpty() ? json(404, R"({"error":{"message":"no such route","type":"not_found"}})")
                                            : queue.size() > 1 ? queue.takeFirst() : queue.first();
            play(s, std::make_shared<Script>(std::move(script)), 0);
        });
    }
    void play(QTcpSocket* s, std::shared_ptr<Script> script, int i) {
        QPointer<QTcpSocket> guard(s);
        if (i >= script->steps.size()) {
            if (script->close) s->disconnectFromHost();
            return;
        }
        QTimer::singleShot(script->steps[i].delayMs, s, [this, guard, script, i] {
            if (!guard || guard->state() != QAbstractSocket::ConnectedState) return;
            guard->write(script->steps[i].bytes);
            guard->flush();
            play(guard, script, i + 1);
        });
    }

    std::unique_ptr<QTcpServer> server_;
    bool tls_ = false;
    QMap<QByteArray, QList<Script>> scripts_;
};

}  // namespace ld::test
