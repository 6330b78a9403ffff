// Chunker invariants: the chunks cover the whole document in order (they concatenate to its
// text), each stays within the token budget, cuts prefer paragraph and sentence boundaries, no
// chunk splits a UTF-8 sequence (a surrogate pair), and spans carry the right pages. Checked
// with a byte counter and with the real tokenizer of stories260K when the shared models exist.
#include <QtTest>
#include <random>

#include "../qt_test_util.h"
#include "app/documents/chunker.h"
#include "app/documents/session_completion.h"

using namespace ld::documents;

namespace {

// One token per 3 UTF-8 bytes, roughly a tokenizer's rate on mixed text.
int byteCounter(const QString& t) { return int((t.toUtf8().size() + 2) / 3); }

Document pagedDocument(int pages, int seed) {
    std::mt19937 rng{uint32_t(seed)};
    const QStringList words = {"alpha", "beta", "Grüße", "日本語テキスト", "😀", "emoji🦙llama", "x",
                               "supercalifragilisticexpialidocious", "naïve", "—", "ok."};
    Document d;
    d.fileName = QStringLiteral("doc.pdf");
    for (int p = 1; p <= pages; ++p) {
        QString text;
        const int paragraphs = 1 + int(rng() % 4);
        for (int k = 0; k < paragraphs; ++k) {
            const int n = 5 + int(rng() % 80);
            for (int w = 0; w < n; ++w) {
                text += words[int(rng() % words.size())];
                text += (rng() % 9 == 0) ? QStringLiteral(". ") : QStringLiteral(" ");
            }
            text += QStringLiteral("\n\n");
        }
        d.segments.append(Segment{text.trimmed(), p, {}, 0, 0});
    }
    return d;
}

void checkInvariants(const Document& doc, const QList<Chunk>& chunks, const TokenCounter& count, int budget) {
    QString all;
    qsizetype offset = 0;
    int lastPage = 0;
    for (const Chunk& c : chunks) {
        QVERIFY(!c.text.isEmpty());
        QCOMPARE(c.offset, offset);
        offset += c.text.size();
        all += c.text;
        QVERIFY2(count(c.text) <= budget, qPrintable(QStringLiteral("%1 > %2").arg(count(c.text)).arg(budget)));
        QCOMPARE(c.tokens, count(c.text));
        // Valid UTF-8 on its own: no lone surrogate at either end.
        QVERIFY(!c.text.front().isLowSurrogate());
        QVERIFY(!c.text.back().isHighSurrogate());
        QCOMPARE(QString::fromUtf8(c.text.toUtf8()), c.text);
        if (c.span.firstPage) {
            QVERIFY(c.span.firstPage >= lastPage);
            QVERIFY(c.span.lastPage >= c.span.firstPage);
            lastPage = c.span.lastPage;
        }
    }
    QCOMPARE(all, doc.fullText());
}

}  // namespace

class DocumentChunkerTest : public QObject {
    Q_OBJECT
private slots:
    void coversInOrderWithinBudget_data() {
        QTest::addColumn<int>("budget");
        QTest::addColumn<int>("seed");
        for (int budget : {8, 20, 64, 300, 5000})
            for (int seed : {1, 2, 3}) QTest::addRow("budget %d seed %d", budget, seed) << budget << seed;
    }
    void coversInOrderWithinBudget() {
        QFETCH(int, budget);
        QFETCH(int, seed);
        const Document doc = pagedDocument(30, seed);
        const QList<Chunk> chunks = chunkDocument(doc, byteCounter, budget);
        checkInvariants(doc, chunks, byteCounter, budget);
    }

    void prefersParagraphsThenSentences() {
        Document doc;
        doc.segments.append(Segment{QStringLiteral("First paragraph one. It has two sentences.\n\nSecond paragraph here. Also two."), 1, {}, 0, 0});
        doc.segments.append(Segment{QStringLiteral("Third on page two."), 2, {}, 0, 0});
        const auto words = [](const QString& t) { return int(t.split(QRegularExpression("\\s+"), Qt::SkipEmptyParts).size()); };
        const QList<Chunk> byParagraph = chunkDocument(doc, words, 7);
        checkInvariants(doc, byParagraph, words, 7);
        QCOMPARE(byParagraph[0].text, QStringLiteral("First paragraph one. It has two sentences.\n\n"));
        QCOMPARE(byParagraph[1].text, QStringLiteral("Second paragraph here. Also two.\n\n"));
        QCOMPARE(byParagraph[2].span.label(), QStringLiteral("p. 2"));
        const QList<Chunk> bySentence = chunkDocument(doc, words, 4);
        checkInvariants(doc, bySentence, words, 4);
        QCOMPARE(bySentence[0].text, QStringLiteral("First paragraph one. "));
        QCOMPARE(bySentence[1].text, QStringLiteral("It has two sentences.\n\n"));
    }

    void oneDocumentOneChunkWhenItFits() {
        const Document doc = pagedDocument(3, 7);
        const QList<Chunk> chunks = chunkDocument(doc, byteCounter, 1 << 20);
        QCOMPARE(chunks.size(), 1);
        QCOMPARE(chunks[0].span.label(), QStringLiteral("pp. 1–3"));
    }

    void unbreakableTextIsCutBetweenCodePoints() {
        Document doc;
        doc.segments.append(Segment{QString(QStringLiteral("😀日")).repeated(500), 0, QStringLiteral("Emoji"), 0, 0});
        const QList<Chunk> chunks = chunkDocument(doc, byteCounter, 10);
        QVERIFY(chunks.size() > 50);
        checkInvariants(doc, chunks, byteCounter, 10);
        QCOMPARE(chunks[3].span.label(), QStringLiteral("§ Emoji"));
    }

    void emptyDocument() { QVERIFY(chunkDocument(Document{}, byteCounter, 10).isEmpty()); }

    void realTokenizer() {
        const QString model = QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf");
        if (!QFileInfo::exists(model)) LD_QSKIP_OR_FAIL_IN_CI("stories260K.gguf not in LLAMADESK_SHARED_DIR");
        ld::BackendOptions o;
        o.n_ctx = 512;
        o.n_threads = 1;
        auto c = SessionCompletion::open(model.toStdString(), o);
        const TokenCounter count = [&](const QString& t) { return c->countTokens(t); };
        for (int budget : {16, 100, 400}) {
            const Document doc = pagedDocument(20, budget);
            checkInvariants(doc, chunkDocument(doc, count, budget), count, budget);
        }
    }
};

QTEST_MAIN(DocumentChunkerTest)
#include "test_documents_chunker.moc"
