// The remote client end to end against LlamaDesk's own server: `llamadesk-cli serve --port 0`
// on stories260K, started by the test. Through the app core: the model list (with its
// context), a streamed chat equal to a local `generate --chat` at temperature 0, a document
// summary whose map steps go out 4 at a time and are chunked by the server's /tokenize; and
// through the CLI: `generate --remote ... -p "Once upon a time" --temp 0 -n 20` equals the
// local `generate`, and `summarize --remote` summarizes a file.
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "app/documents/document_reader.h"
#include "app/documents/summarizer.h"
#include "app/remote/remote_client.h"
#include "app/remote/remote_completion.h"
#include "qt_test_util.h"

using namespace ld::remote;

namespace {

const QString kModel = QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf");

struct CliRun {
    int code = -1;
    QByteArray out, err;
};

CliRun runCli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(LLAMADESK_CLI), args);
    CliRun r;
    if (!p.waitForFinished(120000)) {
        p.kill();
        p.waitForFinished();
        r.err = "timed out";
        return r;
    }
    r.code = p.exitCode();
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

}  // namespace

class TestRemoteServe : public QObject {
    Q_OBJECT

    QProcess serve;
    QString base;   // http://127.0.0.1:PORT/v1

    RemoteEndpoint endpoint() const {
        RemoteEndpoint ep;
        ep.baseUrl = QUrl(base);
        ep.firstByteTimeoutMs = 60000;
        return ep;
    }

private slots:
    void initTestCase() {
        LD_QREQUIRE_FILE(kModel);
        serve.setProcessChannelMode(QProcess::SeparateChannels);
        serve.start(QStringLiteral(LLAMADESK_CLI), {"serve", "--port", "0", "--parallel", "4", "-m", kModel});
        QVERIFY2(serve.waitForStarted(10000), qPrintable(serve.errorString()));
        QByteArray err;
        static const QRegularExpression listening(QStringLiteral("listening on (http://[0-9.]+:[0-9]+)"));
        for (int waited = 0; waited < 60000 && base.isEmpty(); waited += 50) {
            serve.waitForReadyRead(50);
            err += serve.readAllStandardError();
            const auto m = listening.match(QString::fromUtf8(err));
            if (m.hasMatch()) base = m.captured(1) + QStringLiteral("/v1");
            QVERIFY2(serve.state() == QProcess::Running, err.constData());
        }
        QVERIFY2(!base.isEmpty(), err.constData());
    }
    void cleanupTestCase() {
        if (serve.state() != QProcess::NotRunning) {
            serve.terminate();
            if (!serve.waitForFinished(10000)) serve.kill();
            serve.waitForFinished();
        }
    }

    void modelList() {
        const ModelList list = RemoteClient(endpoint()).models();
        QVERIFY2(list.error.isEmpty(), qPrintable(list.error));
        QCOMPARE(list.models.size(), 1);
        QCOMPARE(list.models[0].id, QStringLiteral("stories260K"));
        QCOMPARE(list.models[0].maxModelLen, 512);
        QString error;
        QCOMPARE(RemoteClient(endpoint()).tokenCount(QStringLiteral("Once upon a time"), &error).value_or(-1) >= 4, true);
    }

    void chatEqualsLocalGenerate() {
        GenerationRequest req;
        req.model = QStringLiteral("stories260K");
        req.messages = {{QStringLiteral("user"), QStringLiteral("Tell me a story")}};
        req.maxTokens = 20;
        req.temperature = 0.0;
        QStringList pieces;
        const GenerationReply r = RemoteClient(endpoint()).generate(req, [&](const QString& p) { pieces << p; }, nullptr);
        QVERIFY2(r.ok(), qPrintable(r.error));
        QVERIFY(pieces.size() > 1);  // streamed, not one block
        QCOMPARE(pieces.join(QString()), r.text);
        QCOMPARE(r.completionTokens, 20);
        QVERIFY(r.promptTokens > 0);
        QCOMPARE(r.finishReason, QStringLiteral("length"));
        const CliRun local = runCli({"generate", "-m", kModel, "--chat", "-p", "Tell me a story", "--temp", "0", "-n", "20"});
        QVERIFY2(local.code == 0, local.err.constData());
        QCOMPARE(r.text.trimmed(), QString::fromUtf8(local.out).trimmed());
    }

    void documentSummaryThroughAppCore() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("notes.md"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        for (int s = 1; s <= 6; ++s) {
            f.write(QStringLiteral("# Part %1\n\n").arg(s).toUtf8());
            for (int i = 0; i < 8; ++i)
                f.write(QStringLiteral("Lily and Tom went to the park on day %1 and found a red ball near the tree. ").arg(s * 10 + i).toUtf8());
            f.write("\n\n");
        }
        f.close();
        auto doc = ld::documents::readDocument(path, {});
        QVERIFY2(doc, qPrintable(doc.error()));
        QString error;
        std::unique_ptr<RemoteCompletion> c = RemoteCompletion::open(endpoint(), QStringLiteral("stories260K"), {}, &error);
        QVERIFY2(c, qPrintable(error));
        QVERIFY(c->usesServerTokenizer());
        QCOMPARE(c->contextSize(), 512);
        ld::documents::SummaryOptions options;
        options.mapConcurrency = 4;
        options.maxSummaryTokens = 48;
        ld::documents::SummaryResult result;
        QString streamed;
        std::unique_ptr<QThread> worker(QThread::create([&] {
            ld::documents::Summarizer summarizer(*c, options);
            ld::documents::SummaryCallbacks cb;
            cb.text = [&](const QString& piece) { streamed += piece; };
            result = summarizer.summarize(doc.value(), cb, nullptr);
        }));
        worker->start();
        QTRY_VERIFY_WITH_TIMEOUT(worker->isFinished(), 120000);
        QVERIFY2(result.ok(), qPrintable(result.error));
        QVERIFY2(result.chunks > 1, QByteArray::number(result.chunks).constData());
        QVERIFY(!result.summary.trimmed().isEmpty());
        QCOMPARE(streamed, result.summary);
        QVERIFY(result.promptTokens > 0 && result.generatedTokens > 0);
        // Every prompt fitted the context: the server would have refused one that did not.
        QVERIFY(ld::documents::hasCitation(result.summary));
    }

    void cliGenerateRemoteEqualsLocal() {
        const QStringList common{"-p", "Once upon a time", "--temp", "0", "-n", "20"};
        const CliRun remote = runCli(QStringList{"generate", "--remote", base, "--remote-model", "stories260K"} + common);
        QVERIFY2(remote.code == 0, remote.err.constData());
        const CliRun local = runCli(QStringList{"generate", "-m", kModel} + common);
        QVERIFY2(local.code == 0, local.err.constData());
        QVERIFY(remote.out.size() > 10);
        QCOMPARE(remote.out, local.out);
        QVERIFY(remote.err.contains("generation: 20 tokens"));
        // --db records the exchange with the engine that wrote the reply.
        QTemporaryDir dir;
        const QString db = dir.filePath(QStringLiteral("history.db"));
        const CliRun recorded = runCli(QStringList{"generate", "--remote", base, "--remote-model", "stories260K", "--db", db} + common);
        QVERIFY2(recorded.code == 0, recorded.err.constData());
        QCOMPARE(recorded.out, local.out);
        const CliRun shown = runCli({"history", "--db", db, "export", "1", "--format", "json"});
        QVERIFY2(shown.code == 0, shown.err.constData());
        QVERIFY2(shown.out.contains(("\"model\": \"stories260K @ " + base + "\"").toUtf8()), shown.out.constData());
        QVERIFY(shown.out.contains("\"gen_tokens\": 20"));
        QVERIFY(shown.out.contains(("\"content\": \"" + QString::fromUtf8(local.out).trimmed() + "\"").toUtf8()));
        // Errors: an unknown model, a local -m beside --remote, nothing listening.
        CliRun bad = runCli({"generate", "--remote", base, "--remote-model", "nope", "-p", "x"});
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.contains("'nope' does not exist"), bad.err.constData());
        bad = runCli({"generate", "--remote", base, "--remote-model", "stories260K", "-m", kModel, "-p", "x"});
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.contains("--remote-model"), bad.err.constData());
        bad = runCli({"generate", "--remote", "http://127.0.0.1:1/v1", "--remote-model", "m", "-p", "x"});
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.contains("connection refused"), bad.err.constData());
    }

    void cliSummarizeRemote() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("story.txt"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        for (int i = 0; i < 60; ++i) f.write(QStringLiteral("On day %1 the little dog ran to the big tree.\n").arg(i).toUtf8());
        f.close();
        const CliRun r = runCli({"summarize", "--remote", base, "--remote-model", "stories260K", path, "-q", "-n", "32"});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY(!r.out.trimmed().isEmpty());
        QVERIFY2(r.err.contains("model call"), r.err.constData());
        const CliRun bad = runCli({"summarize", "--remote", base, "--remote-model", "nope", path});
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.contains("has no model 'nope'; it offers: stories260K"), bad.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestRemoteServe)
#include "test_remote_serve.moc"
