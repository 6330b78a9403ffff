#include "app/documents/retrieval.h"

#include <QHash>
#include <QRegularExpression>
#include <algorithm>
#include <cmath>

#include "app/documents/chunker.h"

namespace ld::documents {

namespace {

const QSet<QString>& stopWords() {
    static const QSet<QString> s = {
        "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one",
        "our", "out", "has", "him", "his", "how", "its", "may", "new", "now", "old", "see", "two", "who",
        "did", "get", "let", "say", "she", "too", "use", "that", "with", "have", "this", "will", "your",
        "from", "they", "know", "want", "been", "good", "much", "some", "time", "very", "when", "come",
        "here", "just", "like", "long", "make", "many", "more", "only", "over", "such", "take", "than",
        "them", "well", "were", "what", "which", "there", "their", "about", "would", "these", "other",
        "into", "does", "document", "page", "tell", "says", "said", "summary", "please", "where", "why",
    };
    return s;
}

}  // namespace

QSet<QString> keywords(const QString& text) {
    static const QRegularExpression word(QStringLiteral("[\\p{L}\\p{N}]{3,}"));
    QSet<QString> out;
    for (auto it = word.globalMatch(text.toLower()); it.hasNext();) {
        const QString w = it.next().captured(0);
        if (!stopWords().contains(w)) out.insert(w);
    }
    return out;
}

QList<Passage> passagesOf(const QList<history::Attachment>& attachments, int passageChars) {
    QList<Passage> out;
    for (const history::Attachment& a : attachments) {
        Document d;
        d.segments.append(Segment{a.extractedText, 0, {}, 0, 0});
        // Characters, not tokens: no tokenizer is needed to pick passages.
        const auto chars = [](const QString& t) { return int(t.size()); };
        for (const Chunk& c : chunkDocument(d, chars, passageChars))
            out.append(Passage{a.fileName, c.text.trimmed(), keywords(c.text)});
    }
    return out;
}

DocumentContext relevantContext(const QList<history::Attachment>& attachments, const QList<Passage>& passages,
                                const QString& question, int maxChars) {
    if (attachments.isEmpty()) return {};
    DocumentContext out;
    out.overview = QStringLiteral("The user attached these documents to the conversation. Answer from them when "
                                  "the question is about them, citing the bracketed places such as [p. 4]. The "
                                  "excerpts a question is about come with it, between <documents> tags.\n");
    for (const history::Attachment& a : attachments)
        out.overview += a.summary.isEmpty() ? QStringLiteral("\nAttached: %1\n").arg(a.fileName)
                                            : QStringLiteral("\nSummary of %1:\n%2\n").arg(a.fileName, a.summary.left(maxChars / 4));

    const QSet<QString> q = keywords(question);
    // Rarer words say more about which passage is meant.
    QHash<QString, int> df;
    for (const Passage& p : passages)
        for (const QString& w : q)
            if (p.words.contains(w)) ++df[w];
    QList<QPair<double, int>> scored;
    for (int i = 0; i < passages.size(); ++i) {
        double s = 0;
        for (const QString& w : q)
            if (passages[i].words.contains(w)) s += std::log(1.0 + double(passages.size()) / df.value(w, 1));
        if (s > 0) scored.append({s, i});
    }
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });

    const int room = maxChars - int(out.overview.size());  // the two together stay within maxChars
    const QString head = QStringLiteral("Excerpts from the attached documents, the most relevant first:\n");
    QString excerpts;
    for (const auto& [score, i] : scored) {
        const QString block = QStringLiteral("\nExcerpt from %1:\n%2\n").arg(passages[i].fileName, passages[i].text);
        if (head.size() + excerpts.size() + block.size() > room) break;
        excerpts += block;
    }
    if (!excerpts.isEmpty()) out.passages = head + excerpts;
    return out;
}

}  // namespace ld::documents
