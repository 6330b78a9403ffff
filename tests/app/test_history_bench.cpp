// Benchmark of the history database (benchmarks/history.md): insert throughput and FTS search
// latency over 100,000 messages. Skipped unless LLAMADESK_BENCH=1; prints numbers, asserts only
// correctness (no timing asserts). LLAMADESK_BENCH_DB=path keeps the database for inspection.
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <cmath>

#include "app/history/history_database.h"

using namespace ld::history;

namespace {

// Pseudo-words with a Zipf-like (log-uniform rank) frequency, like real chat text: a few very
// common words (the worst case for search) and a long tail of rare ones.
class TextGen {
public:
    explicit TextGen(quint32 seed) : rng_(seed) {
        static const char* syl[] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "an", "el", "is",
                                    "or", "um", "pra", "ste", "gli", "dor", "fen", "wha"};
        QRandomGenerator r(7);
        while (vocab_.size() < 5000) {
            QString w;
            const int n = 2 + int(r.bounded(3));
            for (int i = 0; i < n; ++i) w += QLatin1String(syl[r.bounded(20)]);
            if (!vocab_.contains(w)) vocab_ << w;
        }
    }
    QString word() { return vocab_[int(std::pow(double(vocab_.size()), rng_.generateDouble())) - 1]; }
    QString text(int words) {
        QString t;
        for (int i = 0; i < words; ++i) t += word() + (i % 12 == 11 ? QStringLiteral(". ") : QStringLiteral(" "));
        return t;
    }
    int bounded(int lo, int hi) { return lo + int(rng_.bounded(hi - lo)); }
    const QStringList& vocab() const { return vocab_; }

private:
    QRandomGenerator rng_;
    QStringList vocab_;
};

struct Stats {
    double median = 0, p95 = 0, max = 0;
};

Stats summarize(QList<double> ms) {
    std::sort(ms.begin(), ms.end());
    Stats s;
    s.median = ms[ms.size() / 2];
    s.p95 = ms[std::min<qsizetype>(ms.size() - 1, qsizetype(std::ceil(ms.size() * 0.95)) - 1)];
    s.max = ms.last();
    return s;
}

}  // namespace

class TestHistoryBench : public QObject {
    Q_OBJECT

private slots:
    void insertAndSearch100kMessages() {
        if (qEnvironmentVariableIntValue("LLAMADESK_BENCH") != 1) QSKIP("set LLAMADESK_BENCH=1 to run the history benchmark");
        QTemporaryDir dir;
        const QString path = qEnvironmentVariableIsSet("LLAMADESK_BENCH_DB")
                                 ? qEnvironmentVariable("LLAMADESK_BENCH_DB") : dir.filePath(QStringLiteral("bench.db"));
        QFile::remove(path);
        auto db = HistoryDatabase::open(path, nullptr, nullptr);
        QVERIFY(db);
        TextGen gen(42);

        // 1. Bulk: 1,000 conversations x 100 messages, one transaction per conversation (import).
        const int conversations = 1000, perConversation = 100;
        QElapsedTimer t;
        t.start();
        qint64 chars = 0;
        for (int c = 0; c < conversations; ++c) {
            ConversationBundle b;
            b.conversation.title = gen.text(4).trimmed();
            b.conversation.createdMs = b.conversation.updatedMs = 1700000000000 + c * 1000;
            for (int i = 0; i < perConversation; ++i) {
                Message m;
                m.id = i + 1;
                m.parentId = i ? std::optional<qint64>(i) : std::nullopt;
                m.role = i % 2 ? QStringLiteral("assistant") : QStringLiteral("user");
                m.content = gen.text(i % 2 ? gen.bounded(40, 200) : gen.bounded(5, 40));
                m.createdMs = m.updatedMs = b.conversation.createdMs + i;
                chars += m.content.size();
                b.messages << m;
            }
            QVERIFY(db->importBundle(b));
        }
        const double bulkS = t.elapsed() / 1000.0;
        const int total = conversations * perConversation;
        qInfo("bulk insert: %d messages (%.1f M characters) in %.1f s = %.0f messages/s (one transaction per conversation)",
              total, chars / 1e6, bulkS, total / bulkS);

        // 2. Durable one-by-one: each addMessage is its own fsync'd transaction (the chat path).
        const qint64 conv = db->createConversation({})->id;
        QList<double> commitMs;
        for (int i = 0; i < 300; ++i) {
            NewMessage m;
            m.conversationId = conv;
            m.role = QStringLiteral("user");
            m.content = gen.text(30);
            QElapsedTimer one;
            one.start();
            QVERIFY(db->addMessage(m));
            commitMs << one.nsecsElapsed() / 1e6;
        }
        const Stats commit = summarize(commitMs);
        qInfo("single-message commits (synchronous=FULL): median %.2f ms, p95 %.2f ms, max %.2f ms => %.0f messages/s",
              commit.median, commit.p95, commit.max, 1000.0 / commit.median);

        // 3. Reply checkpoints: the growing reply rewritten in its own transaction.
        const qint64 reply = db->beginReply(conv, std::nullopt, QStringLiteral("m"))->id;
        QString text;
        QList<double> ckptMs;
        for (int i = 0; i < 100; ++i) {
            text += gen.text(25);
            QElapsedTimer one;
            one.start();
            QVERIFY(db->checkpointReply(reply, text));
            ckptMs << one.nsecsElapsed() / 1e6;
        }
        const Stats ckpt = summarize(ckptMs);
        qInfo("reply checkpoints (reply growing to %lld chars): median %.2f ms, p95 %.2f ms, max %.2f ms",
              qint64(text.size()), ckpt.median, ckpt.p95, ckpt.max);
        QVERIFY(db->finishMessage(reply, text, MessageStatus::Complete, {}));

        // 4. Search latency over the whole history, limit 50.
        const QStringList& v = gen.vocab();
        const QList<QPair<QString, QString>> queries = {
            {QStringLiteral("most common word"), v[0]},
            {QStringLiteral("mid-frequency word"), v[100]},
            {QStringLiteral("rare word"), v[4000]},
            {QStringLiteral("two words (AND)"), v[1] + QLatin1Char(' ') + v[50]},
            {QStringLiteral("two rare words"), v[2000] + QLatin1Char(' ') + v[3000]},
            {QStringLiteral("prefix (3 letters)"), v[10].left(3)},
            {QStringLiteral("no match"), QStringLiteral("qqqxyz")},
        };
        for (const auto& [label, query] : queries) {
            QList<double> ms;
            qsizetype hits = 0;
            for (int i = 0; i < 30; ++i) {
                QElapsedTimer one;
                one.start();
                const auto r = db->search(query);
                ms << one.nsecsElapsed() / 1e6;
                QVERIFY2(r, qPrintable(r.error()));
                hits = r->size();
            }
            const Stats s = summarize(ms);
            qInfo("search %-20s %-22s: %2lld hits, median %.2f ms, p95 %.2f ms, max %.2f ms",
                  qPrintable(label), qPrintable(QLatin1Char('"') + query + QLatin1Char('"')), qint64(hits), s.median, s.p95, s.max);
        }

        // 5. Opening the full database (integrity quick_check + recovery).
        db.reset();
        QList<double> openMs;
        for (int i = 0; i < 5; ++i) {
            QElapsedTimer one;
            one.start();
            QVERIFY(HistoryDatabase::open(path, nullptr, nullptr));
            openMs << one.nsecsElapsed() / 1e6;
        }
        const Stats open = summarize(openMs);
        qInfo("open (quick_check + recovery) of the %.0f MB database: median %.1f ms, max %.1f ms",
              QFileInfo(path).size() / 1e6, open.median, open.max);
    }
};

QTEST_GUILESS_MAIN(TestHistoryBench)
#include "test_history_bench.moc"
