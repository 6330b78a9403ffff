#pragma once
// Server-sent events as OpenAI-compatible servers stream them, parsed from bytes that may be
// split anywhere (inside a line, inside a CRLF, inside a UTF-8 character). Follows the SSE
// rules: "data:" lines of one event are joined by "\n" and the event ends at a blank line;
// comment lines (": ping", llama.cpp's and SGLang's keep-alives), "event:", "id:" and "retry:"
// lines are skipped; CR, LF and CRLF all end a line. The remote engines' streams and the MCP
// Streamable HTTP transport (app/mcp/http_transport) both read their events through it.
#include <QByteArray>
#include <QList>

namespace ld::remote {

class SseParser {
public:
    // A line or an event longer than `maxEventBytes` stops the parser (see overflowed()).
    explicit SseParser(qsizetype maxEventBytes = kMaxEventBytes) : maxEventBytes_(maxEventBytes) {}

    // Feeds bytes; returns the data of every event completed by them, in order.
    QList<QByteArray> feed(const QByteArray& bytes);
    // At the end of the stream: an event whose closing blank line never came (some servers
    // close right after the last "data:" line). Empty when there is none.
    QList<QByteArray> finish();
    // Whether any event has been completed.
    bool sawAnyEvent() const { return events_ > 0; }
    // A line or an event grew past the limit (kMaxEventBytes unless the constructor was given
    // another): the parser stops taking bytes, so a hostile or broken server cannot make it hold
    // unbounded memory. The caller ends the stream with an error.
    static constexpr qsizetype kMaxEventBytes = qsizetype(16) << 20;
    bool overflowed() const { return overflowed_; }
    qsizetype maxEventBytes() const { return maxEventBytes_; }

private:
    void line(const QByteArray& l, QList<QByteArray>* out);
    qsizetype maxEventBytes_;
    QByteArray partial_;      // an unfinished line
    QByteArray data_;         // the current event's data
    bool hasData_ = false;
    bool pendingCr_ = false;  // the last byte was CR: a following LF belongs to it
    int events_ = 0;
    bool overflowed_ = false;
};

}  // namespace ld::remote
