#include "app/remote/sse_parser.h"

namespace ld::remote {

QList<QByteArray> SseParser::feed(const QByteArray& bytes) {
    QList<QByteArray> out;
    for (const char c : bytes) {
        if (overflowed_) break;
        if (pendingCr_) {
            pendingCr_ = false;
            if (c == '\n') continue;  // the LF of a CRLF split across two feeds (or not)
        }
        if (c == '\r' || c == '\n') {
            pendingCr_ = c == '\r';
            line(partial_, &out);
            partial_.clear();
        } else {
            partial_.append(c);
        }
        if (partial_.size() > maxEventBytes_ || data_.size() > maxEventBytes_) overflowed_ = true;
    }
    return out;
}

QList<QByteArray> SseParser::finish() {
    QList<QByteArray> out;
    if (!partial_.isEmpty()) {
        line(partial_, &out);
        partial_.clear();
    }
    line(QByteArray(), &out);  // a blank line ends what is pending
    return out;
}

void SseParser::line(const QByteArray& l, QList<QByteArray>* out) {
    if (l.isEmpty()) {
        if (hasData_) {
            out->append(data_);
            ++events_;
        }
        data_.clear();
        hasData_ = false;
        return;
    }
    if (l.startsWith(':')) return;  // comment: keep-alive
    const qsizetype colon = l.indexOf(':');
    const QByteArray field = colon < 0 ? l : l.left(colon);
    if (field != "data") return;   // event:, id:, retry: carry nothing we use
    QByteArray value = colon < 0 ? QByteArray() : l.mid(colon + 1);
    if (value.startsWith(' ')) value.remove(0, 1);
    if (hasData_) data_.append('\n');
    data_.append(value);
    hasData_ = true;
}

}  // namespace ld::remote
