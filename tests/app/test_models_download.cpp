// The model downloader against a local HTTP server on 127.0.0.1 serving a real GGUF: full
// download, a dropped connection resumed (same object and a fresh one, as after an app
// restart), pause/resume, cancel, checksum mismatch, a server that ignores Range, 404, 401
// with and without a token, a redirect, and too little disk space (simulated). The server
// also plays the Hugging Face hub's checksum headers (X-Linked-Etag, X-Repo-Commit, on the
// 302 or on the file): a right, wrong or missing hash, a given hash winning over the
// server's, and a file that changed on the server between the first bytes and the resume.
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "../qt_test_util.h"
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

QJsonObject readJson(const QString& path) { return QJsonDocument::fromJson(readAll(path)).object(); }

// The headers Hugging Face puts on a resolve URL's answer for an LFS file.
QList<QByteArray> hubHeaders(const QString& sha, const QByteArray& commit) {
    QList<QByteArray> h;
    if (!sha.isEmpty()) h << "X-Linked-Etag: \"" + sha.toLatin1() + '"';
    if (!commit.isEmpty()) h << "X-Repo-Commit: " + commit;
    return h;
}

// The same size as `b` but other bytes near the start, as a new revision of a file would be.
QByteArray otherRevision(QByteArray b) {
    for (int i = 1000; i < 1100; ++i) b[i] = char(b[i] ^ 0x5a);
    return b;
}

// `body`, the connection dropped after `dropAfter` bytes of the first answer only.
TestHttpServer::Route droppingOnce(const QByteArray& body, qint64 dropAfter) {
    TestHttpServer::Route r = TestHttpServer::serving(body);
    r.dropAfter = dropAfter;
    r.dropTimes = 1;
    return r;
}

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
    // As on the hub: /resolve/main/m.gguf answers 302 with the checksum headers (body's SHA-256,
    // `commit`), and /cdn/m.gguf sends only the bytes, dropping the first connection after
    // `dropAfter` of them.
    void serveBehindRedirect(const QByteArray& body, qint64 dropAfter, const QByteArray& commit) {
        server_.routes["/cdn/m.gguf"] = droppingOnce(body, dropAfter);
        TestHttpServer::Route resolve;
        resolve.redirectTo = "/cdn/m.gguf";
        resolve.headers = hubHeaders(sha256(body), commit);
        server_.routes["/resolve/main/m.gguf"] = resolve;
    }
    QString finalPath() const { return dir_.path() + QStringLiteral("/models/model.gguf"); }

private slots:
    void initTestCase() {
        if (!QFile::exists(sharedModel())) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
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
        server_.routes["/m.gguf"] = droppingOnce(gguf_, 300000);
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
        server_.routes["/m.gguf"] = droppingOnce(gguf_, 123457);
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
        server_.routes["/m.gguf"] = droppingOnce(gguf_, 200000);
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

    void serverChecksumVerifiesAndIsRecorded() {
        TestHttpServer::Route r = TestHttpServer::serving(gguf_);
        r.headers = hubHeaders(sha256(gguf_).toUpper(), "c0ffee1234567890c0ffee1234567890c0ffee12");
        server_.routes["/m.gguf"] = r;
        ModelDownload d(request("/m.gguf"));
        d.start();
        QVERIFY(waitDone(d));
        QVERIFY2(d.state() == DownloadState::Finished, qPrintable(d.errorString()));
        QCOMPARE(d.serverSha256(), sha256(gguf_));  // quotes and case normalised
        QCOMPARE(d.checksumSource(), ChecksumSource::Server);
        QCOMPARE(d.verificationText(),
                 QStringLiteral("verified: the SHA-256 matches the one the server reported (commit c0ffee123456)"));
        // Kept beside the model; the view reads it after a restart.
        const DownloadRecord rec = ModelDownload::readRecord(dir_.path() + QStringLiteral("/models"), QStringLiteral("model.gguf"));
        QVERIFY(rec.valid);
        QCOMPARE(rec.sha256, sha256(gguf_));
        QCOMPARE(rec.checkedAgainst, ChecksumSource::Server);
        QCOMPARE(rec.commit, QStringLiteral("c0ffee1234567890c0ffee1234567890c0ffee12"));
        // A record that does not fit the file on disk (replaced by hand) is not believed.
        QFile f(finalPath());
        QVERIFY(f.open(QIODevice::Append) && f.write("x") == 1);
        f.close();
        QVERIFY(!ModelDownload::readRecord(dir_.path() + QStringLiteral("/models"), QStringLiteral("model.gguf")).valid);
    }

    void wrongServerChecksumIsRejectedAndRemoved() {
        TestHttpServer::Route r = TestHttpServer::serving(gguf_);
        r.headers = hubHeaders(QString(64, QLatin1Char('b')), "abc");
        server_.routes["/m.gguf"] = r;
        ModelDownload d(request("/m.gguf"));
        d.start();
        QVERIFY(waitDone(d));
        QCOMPARE(d.state(), DownloadState::Failed);
        QVERIFY2(d.errorString().startsWith(QLatin1String("Checksum mismatch for model.gguf: the server reported SHA-256 bbbb")) &&
                     d.errorString().contains(sha256(gguf_)) && d.errorString().contains(QLatin1String("deleted")),
                 qPrintable(d.errorString()));
        QVERIFY(!QFile::exists(finalPath()));
        QVERIFY(!QFile::exists(d.partPath()));
        QVERIFY(!QFile::exists(d.partPath() + QStringLiteral(".json")));
        QVERIFY(!ModelDownload::readRecord(dir_.path() + QStringLiteral("/models"), QStringLiteral("model.gguf")).valid);
    }

    void noChecksumCompletesButSaysNotVerified() {
        TestHttpServer::Route r = TestHttpServer::serving(gguf_);
        // A git blob's SHA-1 (what the hub sends for a small non-LFS file) is not a SHA-256.
        r.headers = {"X-Linked-Etag: \"0123456789abcdef0123456789abcdef01234567\""};
        server_.routes["/m.gguf"] = r;
        ModelDownload d(request("/m.gguf"));
        QCOMPARE(d.verificationText(), QString());  // nothing known before the server answers
        d.start();
        QVERIFY(waitDone(d));
        QVERIFY2(d.state() == DownloadState::Finished, qPrintable(d.errorString()));
        QCOMPARE(d.checksumSource(), ChecksumSource::None);
        QCOMPARE(d.serverSha256(), QString());
        QCOMPARE(d.verificationText(), QStringLiteral("not verified: the server reported no checksum"));
        QCOMPARE(d.computedSha256(), sha256(gguf_));  // still hashed and reported
        const DownloadRecord rec = ModelDownload::readRecord(dir_.path() + QStringLiteral("/models"), QStringLiteral("model.gguf"));
        QVERIFY(rec.valid);
        QCOMPARE(rec.checkedAgainst, ChecksumSource::None);
        QCOMPARE(rec.sha256, sha256(gguf_));
    }

    void givenChecksumWinsOverTheServers() {
        // The server's hash is wrong, the given one right: passes, checked against the given one.
        TestHttpServer::Route r = TestHttpServer::serving(gguf_);
        r.headers = hubHeaders(QString(64, QLatin1Char('c')), {});
        server_.routes["/m.gguf"] = r;
        ModelDownload d(request("/m.gguf", sha256(gguf_)));
        QSignalSpy notice(&d, &ModelDownload::notice);
        d.start();
        QVERIFY(waitDone(d));
        QVERIFY2(d.state() == DownloadState::Finished, qPrintable(d.errorString()));
        QCOMPARE(d.checksumSource(), ChecksumSource::Given);
        QCOMPARE(notice.count(), 1);  // the disagreement is said, not acted on
        QVERIFY(notice.first().first().toString().contains(QLatin1String("checked against the expected one")));
        QCOMPARE(d.serverSha256(), QString(64, QLatin1Char('c')));
        QCOMPARE(d.verificationText(), QStringLiteral("verified: the SHA-256 matches the expected one"));
        QVERIFY(QFile::remove(finalPath()));

        // The server's hash is right, the given one wrong: fails on the given one.
        server_.routes["/m.gguf"].headers = hubHeaders(sha256(gguf_), {});
        ModelDownload d2(request("/m.gguf", QString(64, QLatin1Char('d'))));
        d2.start();
        QVERIFY(waitDone(d2));
        QCOMPARE(d2.state(), DownloadState::Failed);
        QVERIFY2(d2.errorString().startsWith(QLatin1String("Checksum mismatch for model.gguf: expected SHA-256 dddd")),
                 qPrintable(d2.errorString()));
        QVERIFY(!QFile::exists(finalPath()));
    }

    void checksumOnTheRedirectIsRecordedForTheResume() {
        // As on the hub: the resolve URL answers 302 with the headers; the CDN sends only bytes.
        serveBehindRedirect(gguf_, 250000, "1111111111111111111111111111111111111111");
        {
            ModelDownload first(request("/resolve/main/m.gguf"));
            first.start();
            QVERIFY(waitDone(first));
            QCOMPARE(first.state(), DownloadState::Failed);
            QCOMPARE(first.serverSha256(), sha256(gguf_));
            const QJsonObject side = readJson(first.partPath() + QStringLiteral(".json"));
            QCOMPARE(side.value(QStringLiteral("serverSha256")).toString(), sha256(gguf_));
            QCOMPARE(side.value(QStringLiteral("commit")).toString(), QStringLiteral("1111111111111111111111111111111111111111"));
        }
        // A fresh object (an app restart) knows the hash from the sidecar before asking.
        ModelDownload second(request("/resolve/main/m.gguf"));
        second.start();
        QCOMPARE(second.checksumSource(), ChecksumSource::Server);
        QVERIFY(waitDone(second));
        QVERIFY2(second.state() == DownloadState::Finished, qPrintable(second.errorString()));
        QVERIFY(second.resumed());
        QCOMPARE(server_.seen.last().path, QByteArray("/cdn/m.gguf"));
        QCOMPARE(server_.seen.last().range, QByteArray("bytes=250000-"));
        QCOMPARE(second.checksumSource(), ChecksumSource::Server);
        QCOMPARE(readAll(finalPath()), gguf_);
    }

    void fileChangedBeforeTheResumeStartsOver() {
        // First bytes from revision 1, behind a 302 as on the hub; the connection drops.
        const QByteArray v2 = otherRevision(gguf_);
        serveBehindRedirect(gguf_, 300000, "1111111111111111111111111111111111111111");
        {
            ModelDownload first(request("/resolve/main/m.gguf"));
            first.start();
            QVERIFY(waitDone(first));
            QCOMPARE(first.state(), DownloadState::Failed);
        }
        // Revision 2 is pushed. The CDN honours the Range (it does not know about revisions):
        // resuming would splice revision 1's first bytes onto revision 2's rest.
        server_.routes["/cdn/m.gguf"] = TestHttpServer::serving(v2);
        server_.routes["/resolve/main/m.gguf"].headers = hubHeaders(sha256(v2), "2222222222222222222222222222222222222222");
        server_.seen.clear();
        ModelDownload d(request("/resolve/main/m.gguf"));
        QSignalSpy notice(&d, &ModelDownload::notice);
        d.start();
        QVERIFY(d.resumed());  // it sets out to resume...
        QVERIFY(waitDone(d));
        QVERIFY2(d.state() == DownloadState::Finished, qPrintable(d.errorString()));
        QVERIFY(!d.resumed());  // ...and starts over once the 302 shows the new revision
        QCOMPARE(server_.seen.size(), 2);
        QCOMPARE(server_.seen[0].range, QByteArray("bytes=300000-"));
        QCOMPARE(server_.seen[1].range, QByteArray());
        QCOMPARE(readAll(finalPath()), v2);
        QCOMPARE(d.serverCommit(), QStringLiteral("2222222222222222222222222222222222222222"));
        QCOMPARE(notice.count(), 1);
        QVERIFY2(notice.first().first().toString().contains(QLatin1String("changed on the server")), qPrintable(notice.first().first().toString()));
    }

    void commitChangedWithoutHashesStartsOver() {
        // No checksum at all: the commit is the only sign, on the file's own 206 answer.
        const QByteArray v2 = otherRevision(gguf_);
        TestHttpServer::Route r = droppingOnce(gguf_, 200000);
        r.headers = hubHeaders({}, "aaaa");
        server_.routes["/m.gguf"] = r;
        ModelDownload d(request("/m.gguf"));
        d.start();
        QVERIFY(waitDone(d));
        QCOMPARE(d.state(), DownloadState::Failed);
        QCOMPARE(QFileInfo(d.partPath()).size(), qint64(200000));

        TestHttpServer::Route next = TestHttpServer::serving(v2);
        next.headers = hubHeaders({}, "bbbb");
        server_.routes["/m.gguf"] = next;
        server_.seen.clear();
        d.start();
        QVERIFY(waitDone(d));
        QVERIFY2(d.state() == DownloadState::Finished, qPrintable(d.errorString()));
        QCOMPARE(server_.seen.size(), 2);  // the 206 continuing revision aaaa was dropped
        QCOMPARE(server_.seen[0].range, QByteArray("bytes=200000-"));
        QCOMPARE(server_.seen[1].range, QByteArray());
        QCOMPARE(readAll(finalPath()), v2);
        QCOMPARE(d.verificationText(), QStringLiteral("not verified: the server reported no checksum"));
    }

    void newCommitWithTheSameFileResumes() {
        // A commit that did not touch this file (same SHA-256) costs no restart.
        TestHttpServer::Route r = droppingOnce(gguf_, 200000);
        r.headers = hubHeaders(sha256(gguf_), "aaaa");
        server_.routes["/m.gguf"] = r;
        ModelDownload d(request("/m.gguf"));
        d.start();
        QVERIFY(waitDone(d));
        QCOMPARE(d.state(), DownloadState::Failed);
        server_.routes["/m.gguf"].headers = hubHeaders(sha256(gguf_), "bbbb");
        d.start();
        QVERIFY(waitDone(d));
        QVERIFY2(d.state() == DownloadState::Finished, qPrintable(d.errorString()));
        QVERIFY(d.resumed());
        QCOMPARE(server_.seen.last().range, QByteArray("bytes=200000-"));
        QCOMPARE(d.serverCommit(), QStringLiteral("bbbb"));
        QCOMPARE(readAll(finalPath()), gguf_);
    }

    void completePartOfAnOldRevisionIsNotVerifiedAsNew() {
        // The .part holds all of revision 1; revision 2 is the same size, so the server answers
        // the Range with 416 "complete" — it must not be taken for revision 2.
        const QByteArray v2 = otherRevision(gguf_);
        TestHttpServer::Route r = TestHttpServer::serving(gguf_);
        r.headers = hubHeaders(sha256(gguf_), "aaaa");
        server_.routes["/m.gguf"] = r;
        {
            ModelDownload first(request("/m.gguf"));
            // Leave the whole file as FILE.part with its sidecar, as a crash before the rename would.
            first.start();
            QVERIFY(waitDone(first));
            QVERIFY(QFile::rename(finalPath(), first.partPath()));
            QFile side(first.partPath() + QStringLiteral(".json"));
            QVERIFY(side.open(QIODevice::WriteOnly));
            side.write(QJsonDocument(QJsonObject{{QStringLiteral("url"), server_.url("/m.gguf").toString()},
                                                 {QStringLiteral("serverSha256"), sha256(gguf_)},
                                                 {QStringLiteral("commit"), QStringLiteral("aaaa")}})
                           .toJson());
        }
        TestHttpServer::Route next = TestHttpServer::serving(v2);
        next.headers = hubHeaders(sha256(v2), "bbbb");
        server_.routes["/m.gguf"] = next;
        server_.seen.clear();
        ModelDownload d(request("/m.gguf"));
        d.start();
        QVERIFY(waitDone(d));
        QVERIFY2(d.state() == DownloadState::Finished, qPrintable(d.errorString()));
        QCOMPARE(server_.seen.size(), 2);
        QCOMPARE(server_.seen[0].range, "bytes=" + QByteArray::number(gguf_.size()) + '-');
        QCOMPARE(server_.seen[1].range, QByteArray());
        QCOMPARE(readAll(finalPath()), v2);
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
