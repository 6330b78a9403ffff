// Crash safety: a writer streaming a long reply is killed with SIGKILL at random moments, many
// times, into the same database. After each kill: every completed message is intact, the cut
// reply holds at least its last checkpoint (and nothing that was never generated), and it is
// `interrupted`, not `streaming`.
//
// The writer is this test binary re-run as `--stream-child` (the same ExchangeRecorder that
// `llamadesk-cli generate --db` uses), and, when the model and the CLI's generate are
// available, the real `llamadesk-cli generate --db`.
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>
#include <csignal>
#include <cstdio>
#include <unistd.h>

#include "../qt_test_util.h"
#include "app/history/exchange_recorder.h"
#include "app/history/history_database.h"

using namespace ld::history;

namespace {

const QString kPrompt = QStringLiteral("Tell me a very long story about a llama 🦙.");

// The reply the child writes for `seed`: deterministic, with multi-unit characters so a
// checkpoint can land inside what a byte-oriented writer would split.
QStringList replyPieces(quint32 seed, int count) {
    static const QStringList words = {
        QStringLiteral("llama "), QStringLiteral("alpaca "), QStringLiteral("café "), QStringLiteral("naïve "),
        QStringLiteral("🦙 "), QStringLiteral("mountain "), QStringLiteral("Zürich "), QStringLiteral("\n\n"),
        QStringLiteral("über "), QStringLiteral("数据 "), QStringLiteral("once "), QStringLiteral("upon "),
    };
    QRandomGenerator rng(seed);
    QStringList pieces;
    for (int i = 0; i < count; ++i) pieces << words[int(rng.bounded(quint32(words.size())))];
    return pieces;
}

constexpr int kPieces = 3000;  // ~1 ms apart: a 3+ second reply

// Never kill(0, ...): that is our whole process group. processId() is 0 once the child exited.
void killHard(QProcess& child) {
    const qint64 pid = child.processId();
    if (pid > 0 && child.state() != QProcess::NotRunning) ::kill(pid_t(pid), SIGKILL);
}

void say(const QByteArray& line) {
    // Straight to the fd: the parent must see it even if we die right after.
    const QByteArray l = line + '\n';
    (void)!::write(STDOUT_FILENO, l.constData(), size_t(l.size()));
}

// `test_history_crash --stream-child DB CONVERSATION SEED`
int streamChild(const QStringList& args) {
    const QString path = args.value(2);
    const qint64 conversation = args.value(3).toLongLong();
    const quint32 seed = args.value(4).toUInt();
    QString error;
    auto db = HistoryDatabase::open(path, nullptr, &error);
    if (!db) {
        say("OPEN-FAILED " + error.toUtf8());
        return 1;
    }
    ExchangeRecorder rec(*db, conversation > 0 ? std::optional(conversation) : std::nullopt);
    const Result<qint64> id = rec.begin(QStringLiteral("fake-model"), {}, kPrompt);
    if (!id) {
        say("BEGIN-FAILED " + id.error().toUtf8());
        return 1;
    }
    rec.reply()->setCheckpointCallback([](qsizetype saved) { say("CKPT " + QByteArray::number(qint64(saved))); });
    say(QStringLiteral("BEGIN %1 %2 %3").arg(id.value()).arg(rec.userMessageId()).arg(rec.reply()->messageId()).toUtf8());
    for (const QString& piece : replyPieces(seed, kPieces)) {
        if (Status s = rec.append(piece); !s) say("APPEND-FAILED " + s.error().toUtf8());
        ::usleep(1000);
    }
    if (Status s = rec.finish(GenerationStats{10, kPieces, 100, 900, 5}, true, {}); !s) {
        say("FINISH-FAILED " + s.error().toUtf8());
        return 1;
    }
    say("DONE");
    return 0;
}

struct Exchange {
    qint64 userId = 0;
    qint64 replyId = 0;
    QString reply;       // the full text the reply would have had
    bool completed = false;
    QString stored;      // what the database held when we last looked
};

int envInt(const char* name, int fallback) {
    bool ok = false;
    const int v = qEnvironmentVariableIntValue(name, &ok);
    return ok ? v : fallback;
}

QString integrity(HistoryDatabase& db) { return db.pragma(QStringLiteral("integrity_check")).toString(); }

}  // namespace

class TestHistoryCrash : public QObject {
    Q_OBJECT

private slots:
    void init() { QVERIFY(dir_.isValid()); }

    void killedWriterLosesAtMostTheLastCheckpoint() {
        const QString path = dir_.filePath(QStringLiteral("crash.db"));
        const int runs = envInt("LLAMADESK_KILL_RUNS", 24);
        const quint32 baseSeed = quint32(envInt("LLAMADESK_KILL_SEED", int(QRandomGenerator::global()->bounded(1 << 30))));
        qInfo("%d runs, LLAMADESK_KILL_SEED=%u", runs, baseSeed);
        QRandomGenerator rng(baseSeed);

        qint64 conversation = 0;
        QList<Exchange> history;
        int cutDuringStream = 0, completed = 0, beforeBegin = 0;
        // The prompt is committed on its own, before the reply row (HistoryDatabase::addMessage:
        // a user message is durable before generation starts), so a kill between the two
        // leaves the prompt without a reply: kept, complete, and counted here.
        qsizetype lonePrompts = 0;
        for (int run = 0; run < runs; ++run) {
            const quint32 seed = baseSeed + quint32(run);
            QProcess child;
            child.setProgram(QCoreApplication::applicationFilePath());
            child.setArguments({QStringLiteral("--stream-child"), path, QString::number(conversation), QString::number(seed)});
            child.start();
            QVERIFY(child.waitForStarted());
            // Mostly mid-reply; sometimes during open/begin, sometimes after the end. The
            // mid-reply delay counts from BEGIN, since starting the child can take seconds on a
            // busy machine.
            QByteArray early;
            if (run % 8 != 0) {
                QElapsedTimer wait;
                wait.start();
                while (!early.contains("BEGIN") && wait.elapsed() < 30000 && child.state() == QProcess::Running) {
                    child.waitForReadyRead(10);
                    early += child.readAllStandardOutput();
                }
            }
            const int delayMs = run % 8 == 0 ? int(rng.bounded(60)) : int(rng.bounded(4200));
            QTest::qWait(delayMs);
            killHard(child);
            if (child.state() != QProcess::NotRunning) QVERIFY(child.waitForFinished(10000));
            const QList<QByteArray> lines = (early + child.readAllStandardOutput()).split('\n');

            Exchange ex;
            qsizetype lastCheckpoint = 0;
            bool done = false;
            for (const QByteArray& line : lines) {
                const QList<QByteArray> f = line.split(' ');
                if (f[0] == "BEGIN") {
                    conversation = f[1].toLongLong();
                    ex.userId = f[2].toLongLong();
                    ex.replyId = f[3].toLongLong();
                } else if (f[0] == "CKPT") {
                    const qsizetype n = f[1].toLongLong();
                    QVERIFY2(n >= lastCheckpoint, "checkpoints only grow");
                    lastCheckpoint = n;
                } else if (f[0] == "DONE") {
                    done = true;
                } else if (!line.isEmpty()) {
                    QFAIL(qPrintable(QStringLiteral("run %1: child said: %2").arg(run).arg(QString::fromUtf8(line))));
                }
            }
            ex.reply = replyPieces(seed, kPieces).join(QString());

            OpenReport report;
            QString error;
            auto db = HistoryDatabase::open(path, &report, &error);
            QVERIFY2(db, qPrintable(error));
            QCOMPARE(integrity(*db), QStringLiteral("ok"));

            const QString where = QStringLiteral("run %1 (seed %2, killed after %3 ms)").arg(run).arg(seed).arg(delayMs);
            if (ex.userId == 0) {
                ++beforeBegin;  // killed while opening or committing the prompt: allowed to have nothing
                // ...or the prompt was committed and the kill came before BEGIN reached us: then
                // the exchange must be whole (a complete prompt, a reply that is not `streaming`).
                if (conversation > 0) {
                    const Result<QList<Message>> all = db->messages(conversation);
                    QVERIFY(all);
                    if (all->size() == history.size() * 2 + lonePrompts + 1) {
                        QCOMPARE(all->last().role, QStringLiteral("user"));
                        QCOMPARE(all->last().content, kPrompt);
                        QCOMPARE(all->last().status, MessageStatus::Complete);
                        ++lonePrompts;
                    } else if (all->size() == history.size() * 2 + lonePrompts + 2) {
                        const Message& user = all->at(all->size() - 2);
                        const Message& reply = all->last();
                        QCOMPARE(user.content, kPrompt);
                        QCOMPARE(user.status, MessageStatus::Complete);
                        QVERIFY2(reply.status != MessageStatus::Streaming, qPrintable(where));
                        QVERIFY2(ex.reply.startsWith(reply.content), qPrintable(where + QStringLiteral(": not a prefix")));
                        ex.userId = user.id;
                        ex.replyId = reply.id;
                        ex.stored = reply.content;
                        history << ex;
                    }
                }
            } else {
                const Result<Message> user = db->message(ex.userId);
                QVERIFY2(user, qPrintable(where));
                QCOMPARE(user->content, kPrompt);
                QCOMPARE(user->status, MessageStatus::Complete);
                const Result<Message> reply = db->message(ex.replyId);
                QVERIFY2(reply, qPrintable(where));
                QCOMPARE(reply->parentId, std::optional<qint64>(ex.userId));
                if (done) {
                    ++completed;
                    QCOMPARE(reply->status, MessageStatus::Complete);
                    QCOMPARE(reply->content, ex.reply);
                    QCOMPARE(reply->stats.genTokens, kPieces);
                } else {
                    // Killed after finish committed but before "DONE" reached us is fine too.
                    if (reply->status == MessageStatus::Complete) {
                        QCOMPARE(reply->content, ex.reply);
                    } else {
                        ++cutDuringStream;
                        QVERIFY2(reply->status == MessageStatus::Interrupted, qPrintable(where));
                        QVERIFY2(reply->content.size() >= lastCheckpoint,
                                 qPrintable(where + QStringLiteral(": stored %1 < checkpoint %2")
                                                         .arg(reply->content.size()).arg(lastCheckpoint)));
                        QVERIFY2(ex.reply.startsWith(reply->content), qPrintable(where + QStringLiteral(": not a prefix")));
                    }
                }
                ex.stored = reply->content;
                history << ex;
            }
            // Every earlier exchange is exactly as it was.
            for (const Exchange& old : history) {
                QCOMPARE(db->message(old.userId)->content, kPrompt);
                QCOMPARE(db->message(old.replyId)->content, old.stored);
                QVERIFY(db->message(old.replyId)->status != MessageStatus::Streaming);
            }
            if (conversation > 0) {
                const Result<QList<Message>> all = db->messages(conversation);
                QCOMPARE(all->size(), history.size() * 2 + lonePrompts);
            }
        }
        qInfo("runs: %d cut mid-reply, %d completed, %d killed before BEGIN (%d of them after the prompt's commit)",
              cutDuringStream, completed, beforeBegin, int(lonePrompts));
        QVERIFY2(cutDuringStream >= runs / 3, "the kills should mostly land mid-reply");
    }

    // The same, through the real CLI (`generate --db`, built before this test by CMake).
    void killedCliGenerateKeepsItsCheckpoints() {
        const QString cli = QStringLiteral(LLAMADESK_CLI);
        const QString model = QStringLiteral(LLAMADESK_SHARED_DIR "/models/tiny-llama31-random-f16.gguf");
        QVERIFY2(QFileInfo::exists(cli), LLAMADESK_CLI " is missing");
        if (!QFileInfo::exists(model)) LD_QSKIP_OR_FAIL_IN_CI("tiny-llama31-random-f16.gguf is not in the shared models folder");
        {
            // --db is accepted; a missing model is a one-line error (exit 1), before any history.
            QProcess probe;
            probe.start(cli, {QStringLiteral("generate"), QStringLiteral("--db"), dir_.filePath(QStringLiteral("probe.db")),
                              QStringLiteral("-m"), dir_.filePath(QStringLiteral("missing.gguf")), QStringLiteral("-p"), QStringLiteral("x")});
            QVERIFY(probe.waitForFinished(30000));
            const QString out = QString::fromUtf8(probe.readAllStandardError() + probe.readAllStandardOutput());
            QCOMPARE(probe.exitCode(), 1);
            QVERIFY2(out.contains(QStringLiteral("missing.gguf")) && !out.contains(QStringLiteral("unknown")), qPrintable(out));
        }
        const QString path = dir_.filePath(QStringLiteral("cli-crash.db"));
        const int runs = envInt("LLAMADESK_CLI_KILL_RUNS", 6);
        QRandomGenerator rng(quint32(envInt("LLAMADESK_KILL_SEED", 12345)));
        qint64 conversation = 0;
        for (int run = 0; run < runs; ++run) {
            QStringList args{QStringLiteral("generate"), QStringLiteral("-m"), model, QStringLiteral("-p"), kPrompt,
                             QStringLiteral("-n"), QStringLiteral("100000"), QStringLiteral("--seed"), QString::number(run + 1),
                             QStringLiteral("--db"), path};
            if (conversation > 0) args << QStringLiteral("--conversation") << QString::number(conversation);
            QProcess child;
            child.start(cli, args);
            QVERIFY(child.waitForStarted());
            QElapsedTimer clock;
            clock.start();
            QList<QPair<qint64, qsizetype>> received;  // (ms, total stdout bytes)
            QByteArray out;
            // Loading the model can take seconds on a busy machine: start the random kill clock
            // once the reply has begun to stream, so every run cuts a reply, not a model load.
            while (out.isEmpty() && clock.elapsed() < 60000 && child.state() == QProcess::Running) {
                child.waitForReadyRead(20);
                out += child.readAllStandardOutput();
                if (!out.isEmpty()) received << qMakePair(clock.elapsed(), out.size());
            }
            QVERIFY2(!out.isEmpty(), "the reply never started streaming");
            const qint64 killAt = clock.elapsed() + qint64(rng.bounded(2500));
            while (clock.elapsed() < killAt && child.state() == QProcess::Running) {
                child.waitForReadyRead(20);
                const QByteArray chunk = child.readAllStandardOutput();
                if (!chunk.isEmpty()) {
                    out += chunk;
                    received << qMakePair(clock.elapsed(), out.size());
                }
            }
            const qint64 killedMs = clock.elapsed();
            killHard(child);
            if (child.state() != QProcess::NotRunning) QVERIFY(child.waitForFinished(10000));
            const QString err = QString::fromUtf8(child.readAllStandardError());
            const QRegularExpressionMatch m = QRegularExpression(QStringLiteral("conversation: (\\d+)")).match(err);
            QVERIFY2(m.hasMatch(), qPrintable(err));
            conversation = m.captured(1).toLongLong();

            // Text that reached stdout a full second before the kill must be on disk.
            qsizetype mustHave = 0;
            for (const auto& [ms, bytes] : received)
                if (ms <= killedMs - 1000) mustHave = bytes;

            auto db = HistoryDatabase::open(path, nullptr, nullptr);
            QVERIFY(db);
            QCOMPARE(integrity(*db), QStringLiteral("ok"));
            const Result<QList<Message>> msgs = db->activeBranch(conversation);
            QVERIFY(msgs && msgs->size() >= 2);
            const Message& user = msgs->at(msgs->size() - 2);
            const Message& reply = msgs->last();
            QCOMPARE(user.content, kPrompt);
            QCOMPARE(user.status, MessageStatus::Complete);
            QVERIFY(reply.status == MessageStatus::Interrupted || reply.status == MessageStatus::Complete);
            const QByteArray stored = reply.content.toUtf8();
            QVERIFY2(out.startsWith(stored), "the stored reply is what was generated");
            QVERIFY2(stored.size() >= mustHave, qPrintable(QStringLiteral("run %1: stored %2 bytes, %3 were printed 1 s before the kill")
                                                           .arg(run).arg(stored.size()).arg(mustHave)));
            QCOMPARE(db->messages(conversation)->size(), (run + 1) * 2);
            qInfo("run %d: killed at %lld ms, %lld bytes printed, %lld stored (%s), %lld required",
                  run, killedMs, qint64(out.size()), qint64(stored.size()),
                  qPrintable(statusName(reply.status)), qint64(mustHave));
        }
    }

private:
    QTemporaryDir dir_;
};

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.value(1) == QLatin1String("--stream-child")) return streamChild(args);
    TestHistoryCrash test;
    return QTest::qExec(&test, argc, argv);
}

#include "test_history_crash.moc"
