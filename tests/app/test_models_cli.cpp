// llamadesk-cli models list / download, run as a separate process against the local HTTP
// server on 127.0.0.1: JSON listing, a verified download, an interrupted download that a rerun
// resumes from FILE.part, a checksum mismatch, a 404 — failures are exit 1 with one line —
// and what each download was checked against: --sha256, the server's X-Linked-Etag, or nothing.
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "../qt_test_util.h"
#include "app/test_models_server.h"

using ld::test::TestHttpServer;

namespace {

QString sharedModel() { return QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf"); }

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

struct Run {
    int code = -1;
    QByteArray out, err;
};

// Runs the CLI while this thread's event loop keeps serving HTTP (bounded).
Run cli(const QStringList& args) {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(QStringLiteral("HF_TOKEN"));
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(LLAMADESK_CLI), args);
    Run r;
    if (!p.waitForStarted(10000)) return r;
    if (!QTest::qWaitFor([&] { return p.state() == QProcess::NotRunning; }, 60000)) {
        p.kill();
        p.waitForFinished(5000);
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

}  // namespace

class TestModelsCli : public QObject {
    Q_OBJECT
    QByteArray gguf_;
    TestHttpServer server_;

private slots:
    void initTestCase() {
        if (!QFile::exists(sharedModel())) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        gguf_ = readAll(sharedModel());
        QVERIFY(server_.listen());
    }

    void listPrintsJson() {
        QTemporaryDir dir;
        QVERIFY(QFile::copy(sharedModel(), dir.filePath(QStringLiteral("a.gguf"))));
        QFile bad(dir.filePath(QStringLiteral("b.gguf")));
        QVERIFY(bad.open(QIODevice::WriteOnly) && bad.write(gguf_.left(4000)) == 4000);
        bad.close();
        const Run r = cli({QStringLiteral("models"), QStringLiteral("list"), QStringLiteral("--dir"), dir.path()});
        QCOMPARE(r.code, 0);
        const QJsonArray arr = QJsonDocument::fromJson(r.out).array();
        QCOMPARE(arr.size(), 2);
        const QJsonObject a = arr[0].toObject(), b = arr[1].toObject();
        QCOMPARE(a.value(QStringLiteral("file")).toString(), QStringLiteral("a.gguf"));
        QCOMPARE(a.value(QStringLiteral("loadable")).toBool(), true);
        QCOMPARE(a.value(QStringLiteral("architecture")).toString(), QStringLiteral("llama"));
        QCOMPARE(a.value(QStringLiteral("context_length")).toInt(), 512);
        QVERIFY(a.value(QStringLiteral("parameters")).toDouble() > 200000);
        QCOMPARE(a.value(QStringLiteral("quant_type")).toString(), QStringLiteral("F32"));
        QCOMPARE(b.value(QStringLiteral("loadable")).toBool(), false);
        QCOMPARE(b.value(QStringLiteral("problem_kind")).toString(), QStringLiteral("truncated"));
    }

    void downloadVerifies() {
        QTemporaryDir dir;
        server_.routes["/m.gguf"] = TestHttpServer::serving(gguf_);
        const QString sha = QString::fromLatin1(QCryptographicHash::hash(gguf_, QCryptographicHash::Sha256).toHex());
        const Run r = cli({QStringLiteral("models"), QStringLiteral("download"), server_.url("/m.gguf").toString(),
                           QStringLiteral("--sha256"), sha, QStringLiteral("--dir"), dir.path()});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(readAll(dir.filePath(QStringLiteral("m.gguf"))), gguf_);
        QCOMPARE(r.out.trimmed(), dir.filePath(QStringLiteral("m.gguf")).toUtf8());
        QVERIFY2(r.err.contains("sha256 " + sha.toLatin1() + "; verified: the SHA-256 matches --sha256"), r.err.constData());
    }

    void downloadChecksAgainstTheServersHash() {
        QTemporaryDir dir;
        const QByteArray sha = QCryptographicHash::hash(gguf_, QCryptographicHash::Sha256).toHex();
        TestHttpServer::Route resolve;
        resolve.redirectTo = "/cdn/s.gguf";
        resolve.headers = {"X-Linked-Etag: \"" + sha + '"', "X-Repo-Commit: 0123456789abcdef0123456789abcdef01234567"};
        server_.routes["/resolve/main/s.gguf"] = resolve;
        server_.routes["/cdn/s.gguf"] = TestHttpServer::serving(gguf_);
        const Run r = cli({QStringLiteral("models"), QStringLiteral("download"), server_.url("/resolve/main/s.gguf").toString(),
                           QStringLiteral("--dir"), dir.path()});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.err.contains("verifying s.gguf"), r.err.constData());
        QVERIFY2(r.err.contains("; verified: the SHA-256 matches the one the server reported (commit 0123456789ab)"), r.err.constData());

        // The same with a wrong hash from the server: one error line, no file.
        server_.routes["/resolve/main/s.gguf"].headers = {"X-Linked-Etag: \"" + QByteArray(64, 'e') + '"'};
        QVERIFY(QFile::remove(dir.filePath(QStringLiteral("s.gguf"))));
        const Run bad = cli({QStringLiteral("models"), QStringLiteral("download"), server_.url("/resolve/main/s.gguf").toString(),
                             QStringLiteral("--dir"), dir.path()});
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.trimmed().split('\n').last().startsWith("error: Checksum mismatch for s.gguf: the server reported SHA-256 eeee"),
                 bad.err.constData());
        QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("s.gguf"))));
        QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("s.gguf.part"))));
    }

    void downloadWithoutAnyChecksumSaysSo() {
        QTemporaryDir dir;
        server_.routes["/n.gguf"] = TestHttpServer::serving(gguf_);
        const Run r = cli({QStringLiteral("models"), QStringLiteral("download"), server_.url("/n.gguf").toString(),
                           QStringLiteral("--dir"), dir.path()});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.err.contains("hashing n.gguf"), r.err.constData());
        QVERIFY2(r.err.trimmed().split('\n').last().endsWith("; not verified: the server reported no checksum"), r.err.constData());
        QVERIFY(!r.err.contains("; verified"));
    }

    void interruptedDownloadResumesOnRerun() {
        QTemporaryDir dir;
        TestHttpServer::Route route = TestHttpServer::serving(gguf_);
        route.dropAfter = 400000;
        route.dropTimes = 1;
        server_.routes["/r.gguf"] = route;
        server_.seen.clear();
        const QStringList args{QStringLiteral("models"), QStringLiteral("download"), server_.url("/r.gguf").toString(),
                               QStringLiteral("--dir"), dir.path()};
        const Run first = cli(args);
        QCOMPARE(first.code, 1);
        const QList<QByteArray> lines = first.err.trimmed().split('\n');
        QVERIFY2(lines.last().startsWith("error: ") && lines.last().contains("resume"), first.err.constData());
        QCOMPARE(QFileInfo(dir.filePath(QStringLiteral("r.gguf.part"))).size(), qint64(400000));

        const Run second = cli(args);
        QVERIFY2(second.code == 0, second.err.constData());
        QVERIFY2(second.err.contains("resuming r.gguf"), second.err.constData());
        QCOMPARE(server_.seen.last().range, QByteArray("bytes=400000-"));
        QCOMPARE(readAll(dir.filePath(QStringLiteral("r.gguf"))), gguf_);
        QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("r.gguf.part"))));
        QVERIFY2(second.err.contains("not verified: the server reported no checksum"), second.err.constData());
    }

    void fileChangedOnTheServerIsNotSpliced() {
        QTemporaryDir dir;
        TestHttpServer::Route route = TestHttpServer::serving(gguf_);
        route.dropAfter = 400000;
        route.dropTimes = 1;
        route.headers = {"X-Repo-Commit: 1111"};
        server_.routes["/c.gguf"] = route;
        const QStringList args{QStringLiteral("models"), QStringLiteral("download"), server_.url("/c.gguf").toString(),
                               QStringLiteral("--dir"), dir.path()};
        QCOMPARE(cli(args).code, 1);
        QByteArray v2 = gguf_;
        v2[10] = char(v2[10] ^ 1);
        TestHttpServer::Route next = TestHttpServer::serving(v2);
        next.headers = {"X-Repo-Commit: 2222"};
        server_.routes["/c.gguf"] = next;
        const Run second = cli(args);
        QVERIFY2(second.code == 0, second.err.constData());
        QVERIFY2(second.err.contains("note: c.gguf changed on the server since the partial download began (commit 1111, now 2222)"),
                 second.err.constData());
        QCOMPARE(readAll(dir.filePath(QStringLiteral("c.gguf"))), v2);
    }

    void checksumMismatchAndNotFoundFailInOneLine() {
        QTemporaryDir dir;
        server_.routes["/m.gguf"] = TestHttpServer::serving(gguf_);
        const Run bad = cli({QStringLiteral("models"), QStringLiteral("download"), server_.url("/m.gguf").toString(),
                             QStringLiteral("--sha256"), QString(64, QLatin1Char('a')), QStringLiteral("--dir"), dir.path()});
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.trimmed().split('\n').last().startsWith("error: Checksum mismatch"), bad.err.constData());
        QVERIFY(QDir(dir.path()).entryList(QDir::Files).filter(QStringLiteral("m.gguf")).isEmpty());

        const Run missing = cli({QStringLiteral("models"), QStringLiteral("download"), server_.url("/nope.gguf").toString(),
                                 QStringLiteral("--dir"), dir.path()});
        QCOMPARE(missing.code, 1);
        QCOMPARE(missing.err.trimmed().count('\n'), 0);
        QVERIFY2(missing.err.startsWith("error: Not found (HTTP 404)"), missing.err.constData());
    }

    void usageErrors() {
        const Run r = cli({QStringLiteral("models"), QStringLiteral("frobnicate")});
        QVERIFY(r.code != 0);
        QVERIFY(r.err.contains("usage: llamadesk-cli models"));
    }
};

QTEST_GUILESS_MAIN(TestModelsCli)
#include "test_models_cli.moc"
