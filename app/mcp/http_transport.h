#pragma once
// The MCP Streamable HTTP transport (protocol 2025-03-26 and later): every message is a POST to
// the server's endpoint; a request's answer comes back as one JSON body or as a server-sent
// event stream (which may carry the server's own requests and notifications first). The session
// id the server assigns (Mcp-Session-Id) and the negotiated MCP-Protocol-Version go with every
// later request; after initialization a GET opens the stream for messages the server starts on
// its own (a 405 means it offers none); closing DELETEs the session. A message larger than
// `maxMessageBytes` or an HTTP error fails the connection with the reason.
#include <QHash>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QStringList>

#include "app/mcp/mcp_config.h"
#include "app/mcp/transport.h"
#include "app/remote/sse_parser.h"

namespace ld::mcp {

class HttpTransport final : public Transport {
    Q_OBJECT
public:
    struct Options {
        qsizetype maxMessageBytes = 16 * 1024 * 1024;
        int closeTimeoutMs = 2000;  // for the session's DELETE
    };

    HttpTransport(ServerConfig config, Options options, QObject* parent = nullptr);
    ~HttpTransport() override;

    void open() override;
    void send(const QJsonObject& message) override;
    void close() override;
    QString log() const override { return log_.join(QLatin1Char('\n')); }
    void setProtocolVersion(const QString& version) override { protocolVersion_ = version.toUtf8(); }

private:
    struct Stream {
        bool get = false;          // the server-initiated stream (GET), not a POST's answer
        bool headersSeen = false;
        bool sse = false;
        QByteArray body;           // a JSON answer, gathered whole
        remote::SseParser events;  // an event stream's parser (the remote engines' one)
    };

    QNetworkRequest makeRequest() const;
    void watch(QNetworkReply* reply, bool get);
    void onHeaders(QNetworkReply* reply, Stream& s);
    void onReadyRead(QNetworkReply* reply);
    void onFinished(QNetworkReply* reply);
    bool feedSse(QNetworkReply* reply, const QByteArray& bytes, bool atEnd);
    void startGetStream();
    void fail(const QString& reason);
    void finishClose();
    void abortStreams();  // every open reply, without their signals
    void note(const QString& line);

    ServerConfig config_;
    Options options_;
    QNetworkAccessManager nam_;
    QHash<QNetworkReply*, Stream> streams_;
    QByteArray sessionId_;
    QByteArray protocolVersion_;
    bool opened_ = false, failed_ = false, closing_ = false, closed_ = false;
    QStringList log_;
};

}  // namespace ld::mcp
