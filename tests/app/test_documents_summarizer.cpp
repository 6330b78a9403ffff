// The summarizer's pipeline: one pass when the document fits, map-reduce (recursively) when it
// does not, every prompt within the context, progress reports, cancel, errors, and page
// citations carried from the chunks to the final summary. A scripted completion checks the
// mechanics exactly; stories260K (context 512) runs the same pipeline through the real engine.
#include <QPainter>
#include <QPdfWriter>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include "../qt_test_util.h"
#include "app/documents/document_reader.h"
#include "app/documents/session_completion.h"
#include "app/documents/summarizer.h"

using namespace ld::documents;

namespace {

// Tokens = words; replies echo the citations they were shown, so the test can follow them.
class ScriptedCompletion final : public Completion {
public:
    int ctx = 200;
    int failAt = -1;                  // call index that fails
    std::atomic<bool>* cancelAt = nullptr;
    int cancelAfter = -1;             // sets *cancelAt after this many calls
    QStringList prompts;
    int overflows = 0;                // prompts + replies that would not fit the context
    qint64 promptTotal = 0, generatedTotal = 0;

    int contextSize() const override { return ctx; }
    int countTokens(const QString& t) const override {
        return int(t.split(QRegularExpression(QStringLiteral("\\s+")), Qt::SkipEmptyParts).size());
    }
    int templateOverhead() const override { return 5; }
    CompletionResult complete(const CompletionRequest& r, const std::function<void(const QString&)>& onText,
                              const std::atomic<bool>* cancel) override {
        CompletionResult out;
        const int call = int(prompts.size());
        prompts << r.user;
        if (countTokens(r.system) + countTokens(r.user) + templateOverhead() + r.maxTokens > ctx) ++overflows;
        if (call == failAt) {
            out.error = QStringLiteral("scripted failure");
            return out;
        }
        if (cancel && cancel->load()) {
            out.cancelled = true;
            return out;
        }
        QStringList cites;
        static const QRegularExpression re(QStringLiteral("\\[(pp?\\. [0-9–]+)\\]"));
        for (auto it = re.globalMatch(r.user); it.hasNext();) cites << it.next().captured(0);
        cites.removeDuplicates();
        QString text = QStringLiteral("Summary") + (cites.isEmpty() ? QString() : QLatin1Char(' ') + cites.join(QLatin1Char(' ')));
        const QStringList words = text.split(QLatin1Char(' '));
        text = words.mid(0, r.maxTokens).join(QLatin1Char(' '));
        for (const QString& w : text.split(QLatin1Char(' ')))
            if (onText) onText(w + QLatin1Char(' '));
        out.text = text;
        out.generatedTokens = int(text.split(QLatin1Char(' ')).size());
        out.promptTokens = countTokens(r.system) + countTokens(r.user) + templateOverhead();
        promptTotal += out.promptTokens;
        generatedTotal += out.generatedTokens;
        if (cancelAt && call + 1 == cancelAfter) cancelAt->store(true);
        return out;
    }
};

Document pages(int n, int wordsPerPage) {
    Document d;
    d.fileName = QStringLiteral("long.pdf");
    d.pageCount = n;
    for (int p = 1; p <= n; ++p) {
        QString t;
        for (int w = 0; w < wordsPerPage; ++w) t += QStringLiteral("word%1 ").arg(w % 7);
        d.segments.append(Segment{t.trimmed() + QLatin1Char('.'), p, {}, 0, 0});
    }
    return d;
}

}  // namespace

class DocumentSummarizerTest : public QObject {
    Q_OBJECT
private slots:
    void singlePass() {
        ScriptedCompletion c;
        c.ctx = 400;
        Summarizer s(c, SummaryOptions{64, 0});
        QString streamed;
        SummaryCallbacks cb;
        cb.text = [&](const QString& p) { streamed += p; };
        const SummaryResult r = s.summarize(pages(3, 10), cb, nullptr);
        QVERIFY2(r.ok(), qPrintable(r.error));
        QCOMPARE(r.chunks, 1);
        QCOMPARE(r.calls, 1);
        QCOMPARE(r.levels, 0);
        QCOMPARE(streamed, r.summary);
        QVERIFY2(r.summary.contains(QStringLiteral("[p. 1]")) && r.summary.contains(QStringLiteral("[p. 3]")), qPrintable(r.summary));
        QCOMPARE(c.overflows, 0);
    }

    void mapReduceRecursesAndCarriesCitations() {
        ScriptedCompletion c;
        c.ctx = 200;
        Summarizer s(c, SummaryOptions{40, 0});
        QList<SummaryProgress> progress;
        SummaryCallbacks cb;
        cb.progress = [&](const SummaryProgress& p) { progress << p; };
        QString streamed;
        cb.text = [&](const QString& p) { streamed += p; };
        const SummaryResult r = s.summarize(pages(60, 40), cb, nullptr);
        QVERIFY2(r.ok(), qPrintable(r.error));
        QVERIFY2(r.chunks >= 10, qPrintable(QString::number(r.chunks)));
        QVERIFY2(r.levels >= 2, qPrintable(QString::number(r.levels)));
        QCOMPARE(r.calls, int(c.prompts.size()));
        QCOMPARE(c.overflows, 0);
        QCOMPARE(streamed, r.summary);
        // The token totals cover every call (what the CLI reports for a timing).
        QCOMPARE(r.promptTokens, c.promptTotal);
        QCOMPARE(r.generatedTokens, c.generatedTotal);
        QVERIFY(r.promptTokens > r.documentTokens);
        // Every page is cited by the notes or by the summary (as a page or a range).
        QVERIFY2(r.summary.contains(QStringLiteral("[p")), qPrintable(r.summary));
        QVERIFY(c.prompts.front().contains(QStringLiteral("[p. 1]")));
        QVERIFY(c.prompts.back().contains(QStringLiteral("[pp. 1–")));
        // Progress: done never goes back, the total is never below done, and it ends complete.
        QVERIFY(!progress.isEmpty());
        int lastDone = 0;
        for (const SummaryProgress& p : progress) {
            QVERIFY(p.done >= lastDone);
            QVERIFY(p.total >= p.done);
            lastDone = p.done;
        }
        QCOMPARE(progress.back().done, r.calls);
        QCOMPARE(progress.back().total, r.calls);
        QVERIFY(progress.back().secondsLeft >= 0);
        QVERIFY(progress[1].stage.startsWith(QStringLiteral("Reading part 1 of")));
    }

    void cancelStopsBetweenCalls() {
        ScriptedCompletion c;
        c.ctx = 200;
        std::atomic<bool> cancel{false};
        c.cancelAt = &cancel;
        c.cancelAfter = 3;
        Summarizer s(c);
        const SummaryResult r = s.summarize(pages(60, 40), {}, &cancel);
        QVERIFY(r.cancelled);
        QVERIFY(r.summary.isEmpty());
        QCOMPARE(int(c.prompts.size()), 3);
    }

    void errorStopsTheRun() {
        ScriptedCompletion c;
        c.ctx = 200;
        c.failAt = 2;
        Summarizer s(c);
        const SummaryResult r = s.summarize(pages(60, 40), {}, nullptr);
        QCOMPARE(r.error, QStringLiteral("scripted failure"));
        QCOMPARE(int(c.prompts.size()), 3);
    }

    void contextTooSmall() {
        ScriptedCompletion c;
        c.ctx = 60;
        Summarizer s(c);
        const SummaryResult r = s.summarize(pages(2, 10), {}, nullptr);
        QVERIFY2(r.error.contains(QStringLiteral("too small")), qPrintable(r.error));
    }

    void stories260kPdf() {
        const QString model = QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf");
        if (!QFileInfo::exists(model)) LD_QSKIP_OR_FAIL_IN_CI("stories260K.gguf not in LLAMADESK_SHARED_DIR");
        QTemporaryDir dir;
        const QString path = dir.filePath("story.pdf");
        {
            QPdfWriter writer(path);
            QPainter painter(&writer);
            for (int p = 1; p <= 8; ++p) {
                if (p > 1) writer.newPage();
                for (int line = 0; line < 12; ++line)
                    painter.drawText(QPointF(200, 300 + line * 250),
                                     QStringLiteral("Page %1: Lily and Tom went to the park to play with the ball, line %2.").arg(p).arg(line));
            }
        }
        const auto doc = readDocument(path);
        QVERIFY2(doc.ok(), qPrintable(doc.error()));
        QCOMPARE(doc->pageCount, 8);

        ld::BackendOptions o;
        o.n_ctx = 512;
        o.n_threads = 2;
        auto c = SessionCompletion::open(model.toStdString(), o);
        QCOMPARE(c->contextSize(), 512);
        Summarizer s(*c, SummaryOptions{96, 0});
        int reports = 0;
        QString streamed;
        SummaryCallbacks cb;
        cb.progress = [&](const SummaryProgress&) { ++reports; };
        cb.text = [&](const QString& p) { streamed += p; };
        const SummaryResult r = s.summarize(doc.value(), cb, nullptr);
        QVERIFY2(r.ok(), qPrintable(r.error));
        QVERIFY2(r.chunks > 1, "an 8-page document must not fit a 512-token context");
        QVERIFY(r.calls > r.chunks);
        QVERIFY(reports >= 2 * r.calls);
        QCOMPARE(streamed, r.summary);
        QVERIFY2(hasCitation(r.summary), qPrintable(r.summary));
        QVERIFY2(r.summary.contains(QStringLiteral("[pp. 1–")) || r.summary.contains(QStringLiteral("[p. 1]")), qPrintable(r.summary));

        // Cancel from the progress callback once the map step is under way.
        std::atomic<bool> cancel{false};
        SummaryCallbacks cancelling;
        cancelling.progress = [&](const SummaryProgress& p) {
            if (p.done >= 2) cancel.store(true);
        };
        Summarizer s2(*c, SummaryOptions{96, 0});
        const SummaryResult rc = s2.summarize(doc.value(), cancelling, &cancel);
        QVERIFY(rc.cancelled);
        QVERIFY(rc.calls <= 3);
    }
};

QTEST_MAIN(DocumentSummarizerTest)
#include "test_documents_summarizer.moc"
