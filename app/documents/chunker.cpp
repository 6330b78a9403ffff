#include "app/documents/chunker.h"

#include <QRegularExpression>

namespace ld::documents {

namespace {

struct Unit {
    QString text;
    int segment = 0;
    int tokens = 0;
};

// Boundaries from coarse to fine. Each piece keeps the separator it ends with, so pieces
// concatenate back to the original text.
const QRegularExpression& boundary(int level) {
    static const QRegularExpression paragraphs(QStringLiteral("\\n[ \\t]*\\n\\s*"));
    static const QRegularExpression lines(QStringLiteral("\\n"));
    static const QRegularExpression sentences(QStringLiteral("(?<=[.!?…。！？;:])[\"'”’)\\]]*\\s+"));
    static const QRegularExpression words(QStringLiteral("\\s+"));
    switch (level) {
    case 0: return paragraphs;
    case 1: return lines;
    case 2: return sentences;
    default: return words;
    }
}
constexpr int kWordLevel = 3;

QStringList splitKeeping(const QString& text, const QRegularExpression& re) {
    QStringList out;
    qsizetype start = 0;
    auto it = re.globalMatch(text);
    while (it.hasNext()) {
        const auto m = it.next();
        const qsizetype end = m.capturedEnd();
        if (end <= start || end >= text.size()) continue;
        out.append(text.mid(start, end - start));
        start = end;
    }
    out.append(text.mid(start));
    return out;
}

class Splitter {
public:
    Splitter(const TokenCounter& count, int maxTokens, QList<Unit>* out) : count_(count), max_(maxTokens), out_(out) {}

    void add(const QString& text, int segment, int level) {
        if (text.isEmpty()) return;
        const int n = count_(text);
        if (n <= max_) {
            out_->append(Unit{text, segment, n});
            return;
        }
        if (level > kWordLevel) {
            hardSplit(text, segment);
            return;
        }
        const QStringList pieces = splitKeeping(text, boundary(level));
        if (pieces.size() <= 1) {
            add(text, segment, level + 1);
            return;
        }
        for (const QString& p : pieces) add(p, segment, level + 1);
    }

private:
    // One "word" longer than the budget (a base64 blob, a URL): the longest prefixes that fit,
    // found by bisection, never ending between the halves of a surrogate pair.
    void hardSplit(QString text, int segment) {
        while (!text.isEmpty()) {
            qsizetype lo = 1, hi = text.size();
            if (count_(text) <= max_) lo = hi;
            while (lo < hi) {
                const qsizetype mid = (lo + hi + 1) / 2;
                if (count_(text.left(mid)) <= max_) lo = mid;
                else hi = mid - 1;
            }
            qsizetype cut = lo;
            if (cut < text.size() && text[cut - 1].isHighSurrogate()) cut = cut > 1 ? cut - 1 : cut + 1;
            const QString piece = text.left(cut);
            out_->append(Unit{piece, segment, count_(piece)});
            text.remove(0, cut);
        }
    }

    const TokenCounter& count_;
    int max_;
    QList<Unit>* out_;
};

}  // namespace

int estimateTokens(const QString& text) { return int((text.size() + 3) / 4); }

QList<Chunk> chunkDocument(const Document& doc, const TokenCounter& count, int maxTokens) {
    maxTokens = std::max(1, maxTokens);
    QList<Unit> units;
    Splitter splitter(count, maxTokens, &units);
    for (qsizetype i = 0; i < doc.segments.size(); ++i) {
        QString text = doc.segments[i].text;
        // The separator belongs to the segment before it, so the chunks concatenate to fullText().
        if (i + 1 < doc.segments.size()) text += Document::segmentSeparator();
        splitter.add(text, int(i), 0);
    }

    QList<Chunk> chunks;
    qsizetype offset = 0;
    qsizetype u = 0;
    while (u < units.size()) {
        // Greedy by the units' own counts, then checked as a whole: tokens can merge across a
        // boundary differently, so the sum is only an estimate.
        qsizetype end = u;
        int sum = 0;
        while (end < units.size() && (end == u || sum + units[end].tokens <= maxTokens)) sum += units[end++].tokens;
        Chunk c;
        for (;;) {
            c.text.clear();
            for (qsizetype k = u; k < end; ++k) c.text += units[k].text;
            c.tokens = count(c.text);
            if (c.tokens <= maxTokens || end == u + 1) break;
            --end;
        }
        for (qsizetype k = u; k < end; ++k) c.span.extend(doc.segments[units[k].segment]);
        c.offset = offset;
        offset += c.text.size();
        chunks.append(std::move(c));
        u = end;
    }
    return chunks;
}

}  // namespace ld::documents
