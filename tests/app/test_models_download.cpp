// The model downloader against a local HTTP server on 127.0.0.1 serving a real GGUF: full
// download, a dropped connection resumed (same object and a fresh one, as after an app
// restart), pause/resume, cancel, checksum mismatch, a server that ignores Range, 404, 401
// with and without a token, a redirect, and too little disk space (simulated).
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "app/models/model_download.h"
#include "app/test_models_server.h"

using namespace ld::models;
using ld::test::TestHttpServer;

namespace {

QString sharedModel() { return QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf"); }

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QString sha256(const QByteArray& b) { return QString::fromLatin1(QCryptographicHash::hash(b, QCryptographicHash::Sha256).toHex()); }

// Runs the download until it finishes, fails or `until` holds (bounded).
bool waitDone(ModelDownload& d, int ms = 20000) {
    return QTest::qWaitFor([&] {
        return d.state() == DownloadState::Finished || d.state() == DownloadState::Failed || d.state() == DownloadState::Cancelled;
    }, ms);
}

}  // namespace

class TestModelsDownload : public QObject {
    Q_OBJECT
    QByteArray gguf_;
    TestHttpServer server_;
    QTemporaryDir dir_;

    DownloadRequest request(const QByteArray& path, const QString& sha = {}) {
        DownloadRequest r;
        r.url = server_.url(path);
        r.folder = dir_.path() + QStringLiteral("/models");
        r.fileName = QStringLiteral("model.gguf");
        r.sha256 = sha;
        return r;
    }
    QString finalPath() const { return dir_.path() + QStringLiteral("/models/model.gguf"); }

private slots:
    void initTestCase() {
        if (!QFile::exists(sharedModel())) QSKIP("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        gguf_ = readAll(sharedModel());
        QVERIFY(gguf_.size() > 500000);
        QVERIFY(server_.listen());
    }

    void init() {
        server_.routes.clear();
        server_.seen.clear();
        QDir(dir_.path() + QStringLiteral("/models")).removeRecursively();
    }

    void fullDownloadVerifiesAndRenames() {
        server_.routes["/m.gguf"] = TestHttpServer::serving(gguf_);
        ModelDownload d(request("/m.gguf", sha256(gguf_)));
        QSignalSpy finished(&d, &ModelDownload::finished);
        d.start();
        QVERIFY(waitDone(d));
        QCOMPARE(d.state(), DownloadState::Finished);
        QCOMPARE(finished.count(), 1);
        QCOMPARE(readAll(finalPath()), gguf_);
        QVERIFY(!QFile::exists(d.partPath()));
        QVERIFY(!QFile::exists(d.partPath() + QStringLiteral(".json")));
        QCOMPARE(d.computedSha256(), sha256(gguf_));
        QCOMPARE(d.progress().received, qint64(gguf_.size()));
        QCOMPARE(d.progress().total, qint64(gguf_.size()));
        QVERIFY(server_.seen.first().range.isEmpty());
        // A second download of the same file refuses to overwrite it.
        ModelDownload again(request("/m.gguf"));
        again.start();
        QCOMPARE(again.state(), DownloadState::Failed);
        QVERIFY2(again.errorString().contains(QLatin1String("already exists")), qPrintable(again.errorString()));
    }

    void droppedConnectionResumesWithRange() {
        TestHttpServer::Route r = TestHttpServer::serving(gguf_);
        r.dropAfter = 300000;
        r.dropTimes = 1;
        server_.routes["/m.gguf"] = r;
        ModelDownload d(request("/m.gguf", sha256(gguf_)));
        d.start();
        QVERIFY(waitDone(d));
        QCOMPARE(d.state(), DownloadState::Failed);
        QVERIFY2(d.errorString().contains(QLatin1String("resume")), qPrintable(d.errorString()));
        QCOMPARE(QFileInfo(d.partPath()).size(), qint64(300000));
        QVERIFY(!QFile::exists(finalPath()));

        d.start();
        QVERIFY(waitDone(d));
        QCOMPARE(d.state(), DownloadState::Finished);
        QVERIFY(d.resumed());
        QCOMPARE(server_.seen.last().range, QByteArray("bytes=300000-"));
        QCOMPARE(readAll(finalPath()), gguf_);
    }

    void resumesAfterRestartingTheManager() {
        TestHttpServer::Route r = TestHttpServer::serving(gguf_);
        r.dropAfter = 123457;
        r.dropTimes = 1;
        server_.routes["/m.gguf"] = r;
        {
            ModelDownload first(request("/m.gguf", sha256(gguf_)));
            first.start();
            QVERIFY(waitDone(first));
            QCOMPARE(first.state(), DownloadState::Failed);
        }  // the "app" quits; FILE.part and its sidecar stay
        QCOMPARE(ModelDownload::partialBytes(dir_.path() + QStringLiteral("/models"), QStringLiteral("model.gguf")), qint64(123457));

        ModelDownload second(request("/m.gguf", sha256(gguf_)));
        second.start();
        QCOMPARE(second.resumedFrom(), qint64(123457));
        QVERIFY(waitDone(second));
        QCOMPARE(second.state(), DownloadState::Finished);
        QCOMPARE(server_.seen.last().range, QByteArray("bytes=123457-"));
        QCOMPARE(readAll(finalPath()), gguf_);
    }

    void pauseKeepsThePartAndResumes() {
        TestHttpServer::Route r = TestHttpServer::serving(gguf_);
        r.chunkDelayMs = 5;
        server_.routes["/m.gguf"] = r;
        ModelDownload d(request("/m.gguf", sha256(gguf_)));
        d.start();
        QVERIFY(QTest::qWaitFor([&] { return d.progress().received > 100000; }, 10000));
        QCOMPARE(d.state(), DownloadState::Running);
        QVERIFY(d.progress().bytesPerSecond > 0);
        d.pause();
        QCOMPARE(d.state(), DownloadState::Paused);
        const qint64 kept = QFileInfo(d.partPath()).size();
        QVERIFY(kept > 0 && kept < gguf_.size());
        QTest::qWait(50);
        QCOMPARE(QFileInfo(d.partPath()).size(), kept);  // nothing written while paused

        server_.routes["/m.gguf"].chunkDelayMs = 0;
        d.start();
        QVERIFY(waitDone(d));
        QCOMPARE(d.state(), DownloadState::Finished);
        QCOMPARE(server_.seen.last().range, "bytes=" + QByteArray::number(kept) + '-');
        QCOMPARE(readAll(finalPath()), gguf_);
    }

    void cancelDeletesThePart() {
        TestHttpServer::Route r = TestHttpServer::serving(gguf_);
        r.chunkDelayMs = 5;
        server_.routes["/m.gguf"] = r;
        ModelDownload d(request("/m.gguf"));
        d.start();
        QVERIFY(QTest::qWaitFor([&] { return d.progress().received > 50000; }, 10000));
        d.cancel();
        QCOMPARE(d.state(), DownloadState::Cancelled);
        QVERIFY(!QFile::exists(d.partPath()));
        QVERIFY(!QFile::exists(d.partPath() + QStringLiteral(".json")));
        QVERIFY(!QFile::exists(finalPath()));
    }

    void wrongChecksumIsRejectedAndRemoved() {
        server_.routes["/m.gguf"] = TestHttpServer::serving(gguf_);
        ModelDownload d(request("/m.gguf", QString(64, QLatin1Char('0'))));
        QSignalSpy failed(&d, &ModelDownload::failed);
        d.start();
        QVERIFY(waitDone(d));
        QCOMPARE(d.state(), DownloadState::Failed);
        QCOMPARE(failed.count(), 1);
        QVERIFY2(d.errorString().contains(QLatin1String("Checksum mismatch")) && d.errorString().contains(QLatin1String("deleted")),
                 qPrintable(d.errorString()));
        QVERIFY(d.errorString().contains(sha256(gguf_)));
        QVERIFY(!QFile::exists(finalPath()));
        QVERIFY(!QFile::exists(d.partPath()));
    }

    void serverIgnoringRangeRestartsCleanly() {
        TestHttpServer::Route r = TestHttpServer::serving(gguf_);
        r.dropAfter = 200000;
        r.dropTimes = 1;
        server_.routes["/m.gguf"] = r;
        ModelDownload d(request("/m.gguf", sha256(gguf_)));
        d.start();
        QVERIFY(waitDone(d));
        QCOMPARE(d.state(), DownloadState::Failed);

        server_.routes["/m.gguf"].ignoreRange = true;  // answers 200 with the whole file
        d.start();
        QVERIFY(waitDone(d));
        QCOMPARE(d.state(), DownloadState::Finished);
        QCOMPARE(server_.seen.last().range, QByteArray("bytes=200000-"));
        QCOMPARE(readAll(finalPath()), gguf_);  // not the first 200000 bytes twice
    }

    void notFound() {
        ModelDownload d(request("/missing.gguf"));
        d.start();
        QVERIFY(waitDone(d));
        QCOMPARE(d.state(), DownloadState::Failed);
        QVERIFY2(d.errorString().contains(QLatin1String("404")), qPrintable(d.errorString()));
        QVERIFY(!d.errorString().contains(QLatin1Char('\n')));
        QVERIFY(!QFile::exists(finalPath()));
    }

    void unauthorizedThenToken() {
        TestHttpServer::Route r = TestHttpServer::serving(gguf_);
        r.token = "hf_secret";
        server_.routes["/gated.gguf"] = r;
        ModelDownload d(request("/gated.gguf"));
        d.start();
        QVERIFY(waitDone(d));
        QCOMPARE(d.state(), DownloadState::Failed);
        QVERIFY2(d.errorString().contains(QLatin1String("401")) && d.errorString().contains(QLatin1String("token")),
                 qPrintable(d.errorString()));

        DownloadRequest withToken = request("/gated.gguf", sha256(gguf_));
        withToken.token = QStringLiteral("hf_secret");
        ModelDownload d2(withToken);
        d2.start();
        QVERIFY(waitDone(d2));
        QCOMPARE(d2.state(), DownloadState::Finished);
        QCOMPARE(server_.seen.last().authorization, QByteArray("Bearer hf_secret"));
    }

    void followsRedirects() {
        server_.routes["/m.gguf"] = TestHttpServer::serving(gguf_);
        TestHttpServer::Route redirect;
        redirect.redirectTo = "/m.gguf";
        server_.routes["/resolve/main/m.gguf"] = redirect;
        ModelDownload d(request("/resolve/main/m.gguf", sha256(gguf_)));
        d.start();
        QVERIFY(waitDone(d));
        QVERIFY2(d.state() == DownloadState::Finished, qPrintable(d.errorString()));
        QCOMPARE(server_.seen.size(), 2);
        QCOMPARE(readAll(finalPath()), gguf_);
    }

    void tooLittleDiskSpace() {
        server_.routes["/m.gguf"] = TestHttpServer::serving(gguf_);
        // Known size: refused before any request.
        DownloadRequest r = request("/m.gguf");
        r.expectedSize = gguf_.size();
        ModelDownload d(r);
        d.setFreeSpaceCheck([](const QString&) { return qint64(4096); });
        d.start();
        QCOMPARE(d.state(), DownloadState::Failed);
        QVERIFY2(d.errorString().contains(QLatin1String("Not enough disk space")), qPrintable(d.errorString()));
        QVERIFY(server_.seen.isEmpty());

        // Unknown size: refused once the server says how big the file is.
        ModelDownload d2(request("/m.gguf"));
        d2.setFreeSpaceCheck([](const QString&) { return qint64(4096); });
        d2.start();
        QVERIFY(waitDone(d2));
        QCOMPARE(d2.state(), DownloadState::Failed);
        QVERIFY2(d2.errorString().contains(QLatin1String("Not enough disk space")), qPrintable(d2.errorString()));
        QVERIFY(!QFile::exists(finalPath()));
        QCOMPARE(ModelDownload::partialBytes(r.folder, r.fileName), qint64(0));
    }

    void refusesPlainHttpToOtherHostsAndBadChecksums() {
        DownloadRequest r = request("/m.gguf");
        r.url = QUrl(QStringLiteral("http://example.invalid/m.gguf"));  // never contacted
        ModelDownload d(r);
        d.start();
        QCOMPARE(d.state(), DownloadState::Failed);
        QVERIFY2(d.errorString().contains(QLatin1String("https")), qPrintable(d.errorString()));

        ModelDownload bad(request("/m.gguf", QStringLiteral("xyz")));
        bad.start();
        QCOMPARE(bad.state(), DownloadState::Failed);
        QVERIFY(bad.errorString().contains(QLatin1String("64 hex")));
        QVERIFY(server_.seen.isEmpty());
    }

    void fileNameFromUrl() {
        QCOMPARE(ModelDownload::fileNameForUrl(QUrl(QStringLiteral("https://huggingface.co/a/b/resolve/main/X-Q4_K_M.gguf?download=true"))),
                 QStringLiteral("X-Q4_K_M.gguf"));
        QCOMPARE(ModelDownload::fileNameForUrl(QUrl(QStringLiteral("https://h/x/.hidden.gguf"))), QStringLiteral("hidden.gguf"));
        QCOMPARE(ModelDownload::fileNameForUrl(QUrl(QStringLiteral("https://h/"))), QString());
    }
};

QTEST_GUILESS_MAIN(TestModelsDownload)
#include "test_models_download.moc"
