// Plain text, Markdown and source code: decoding (BOM, UTF-8, Latin-1 fallback) and splitting
// into segments that carry line ranges (text, source) or the heading above them (Markdown).
#include <QRegularExpression>
#include <QStringDecoder>

#include "app/documents/readers_internal.h"

namespace ld::documents::detail {

namespace {

constexpr int kLinesPerSegment = 60;  // line-range citations stay short enough to look up

bool looksBinary(const QByteArray& bytes) {
    const qsizetype n = std::min<qsizetype>(bytes.size(), 64 * 1024);
    qsizetype control = 0;
    for (qsizetype i = 0; i < n; ++i) {
        const unsigned char c = static_cast<unsigned char>(bytes[i]);
        if (c == 0) return true;
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != 0x1b) ++control;
    }
    return n > 0 && control * 20 > n;  // over 5% control bytes: not text anyone wrote
}

struct LineBlock {
    QStringList lines;
    int firstLine = 0;
};

// Flushes `lines` as segments of at most kLinesPerSegment lines, cut at blank lines where
// possible, so each segment is a run of whole paragraphs.
void emitLines(const QStringList& lines, int firstLine, const QString& section, bool withLines,
               QList<Segment>* out) {
    qsizetype start = 0;
    while (start < lines.size()) {
        while (start < lines.size() && lines[start].trimmed().isEmpty()) ++start;
        if (start >= lines.size()) break;
        qsizetype end = std::min<qsizetype>(lines.size(), start + kLinesPerSegment);
        if (end < lines.size()) {
            qsizetype cut = end;
            while (cut > start + kLinesPerSegment / 2 && !lines[cut - 1].trimmed().isEmpty()) --cut;
            if (cut > start + kLinesPerSegment / 2) end = cut;
        }
        qsizetype last = end;
        while (last > start && lines[last - 1].trimmed().isEmpty()) --last;
        Segment s;
        s.text = lines.mid(start, last - start).join(QLatin1Char('\n'));
        s.section = section;
        if (withLines) {
            s.firstLine = firstLine + int(start);
            s.lastLine = firstLine + int(last) - 1;
        }
        out->append(std::move(s));
        start = end;
    }
}

QString headingText(const QString& line) {
    static const QRegularExpression re(QStringLiteral("^ {0,3}#{1,6}\\s+(.*?)\\s*#*\\s*$"));
    const auto m = re.match(line);
    return m.hasMatch() ? m.captured(1) : QString();
}

}  // namespace

std::optional<QString> decodeText(const QByteArray& bytes) {
    if (auto enc = QStringConverter::encodingForData(bytes)) {
        // A BOM says what it is; UTF-16 text is full of NUL bytes, so check binary only after.
        QStringDecoder dec(*enc, QStringDecoder::Flag::ConvertInitialBom);
        QString text = dec.decode(bytes);
        if (!text.isEmpty() && text.front() == QChar(0xFEFF)) text.remove(0, 1);
        return text;
    }
    if (looksBinary(bytes)) return std::nullopt;
    QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    QString text = utf8.decode(bytes);
    if (!utf8.hasError()) return text;
    return QString::fromLatin1(bytes);
}

QString readText(const QByteArray& bytes, const QString& kind, Extracted* out) {
    const std::optional<QString> decoded = decodeText(bytes);
    if (!decoded) return QStringLiteral("it contains binary data, not text");
    QString text = *decoded;
    text.replace(QStringLiteral("\r\n"), QStringLiteral("\n"));
    text.replace(QLatin1Char('\r'), QLatin1Char('\n'));
    const QStringList lines = text.split(QLatin1Char('\n'));
    out->mimeType = kind == QLatin1String("markdown") ? QStringLiteral("text/markdown") : QStringLiteral("text/plain");

    if (kind != QLatin1String("markdown")) {
        emitLines(lines, 1, {}, true, &out->segments);
        return {};
    }
    // Markdown: a new section at every ATX heading outside fenced code.
    QString section;
    QStringList block;
    int blockFirst = 1;
    bool inFence = false;
    for (qsizetype i = 0; i < lines.size(); ++i) {
        const QString& line = lines[i];
        if (line.trimmed().startsWith(QLatin1String("```")) || line.trimmed().startsWith(QLatin1String("~~~")))
            inFence = !inFence;
        const QString heading = inFence ? QString() : headingText(line);
        if (!heading.isEmpty()) {
            emitLines(block, blockFirst, section, true, &out->segments);
            block.clear();
            section = heading;
            blockFirst = int(i) + 1;
        }
        block.append(line);
    }
    emitLines(block, blockFirst, section, true, &out->segments);
    return {};
}

}  // namespace ld::documents::detail
