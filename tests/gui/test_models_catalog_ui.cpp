// The settings panel's catalog view model against a local HTTP server on 127.0.0.1: memory
// fit per entry, a download from "available" through "running" to "downloaded", a .part left
// by an earlier run shown as paused and resumed, cancel deleting the .part, failures reported,
// and what each downloaded file was checked against (the server's SHA-256, or "Not verified").
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "../qt_test_util.h"
#include "app/models/model_download.h"
#include "tests/app/test_models_server.h"
#include "ui/catalog_model.h"

using namespace ld;
using ld::test::TestHttpServer;

namespace {

QString sharedModel() { return QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf"); }

models::CatalogEntry entry(const QUrl& url, const QString& file, qint64 ram) {
    models::CatalogEntry e;
    e.id = file;
    e.name = file;
    e.quant = QStringLiteral("F32");
    e.url = url;
    e.fileName = file;
    e.sizeBytes = 1'000'000;
    e.sizeApproximate = true;
    e.ramBytes = ram;
    e.vramBytes = ram;
    return e;
}

}  // namespace

class TestModelsCatalogUi : public QObject {
    Q_OBJECT
private slots:
    void downloadsAndReportsState() {
        QFile src(sharedModel());
        if (!src.open(QIODevice::ReadOnly)) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        const QByteArray gguf = src.readAll();
        TestHttpServer server;
        QVERIFY(server.listen());
        TestHttpServer::Route slow = TestHttpServer::serving(gguf);
        slow.chunkDelayMs = 5;
        // As Hugging Face: the file's SHA-256 and the commit on the answer.
        slow.headers = {"X-Linked-Etag: \"" + QCryptographicHash::hash(gguf, QCryptographicHash::Sha256).toHex() + '"',
                        "X-Repo-Commit: 0123456789abcdef0123456789abcdef01234567"};
        server.routes["/a.gguf"] = slow;
        server.routes["/b.gguf"] = TestHttpServer::serving(gguf);

        QTemporaryDir dir;
        const QString folder = dir.filePath(QStringLiteral("models"));
        const models::MemoryInfo mem{8'000'000'000, 4'000'000'000};
        ui::CatalogModel model(folder, mem,
                               {entry(server.url("/a.gguf"), QStringLiteral("a.gguf"), 1'000'000'000),
                                entry(server.url("/b.gguf"), QStringLiteral("b.gguf"), 7'900'000'000),
                                entry(server.url("/missing.gguf"), QStringLiteral("c.gguf"), 1'000'000)});
        auto role = [&](int row, int r) { return model.data(model.index(row), r); };
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(role(0, ui::CatalogModel::FitRole).toString(), QStringLiteral("fits"));
        QCOMPARE(role(1, ui::CatalogModel::FitRole).toString(), QStringLiteral("too_big"));
        QCOMPARE(role(0, ui::CatalogModel::StateRole).toString(), QStringLiteral("available"));

        // Start, pause (keeps the .part), throw the model away as an app restart would.
        model.download(0);
        QVERIFY(QTest::qWaitFor([&] { return model.downloadAt(0)->progress().received > 100000; }, 10000));
        QCOMPARE(role(0, ui::CatalogModel::StateRole).toString(), QStringLiteral("running"));
        QVERIFY(role(0, ui::CatalogModel::ProgressTextRole).toString().contains(QLatin1String(" of ")));
        model.pause(0);
        QCOMPARE(role(0, ui::CatalogModel::StateRole).toString(), QStringLiteral("paused"));

        ui::CatalogModel restarted(folder, mem, model.entries());
        QCOMPARE(restarted.data(restarted.index(0), ui::CatalogModel::StateRole).toString(), QStringLiteral("paused"));
        QVERIFY(restarted.data(restarted.index(0), ui::CatalogModel::ProgressRole).toDouble() > 0);
        QSignalSpy downloaded(&restarted, &ui::CatalogModel::downloaded);
        server.routes["/a.gguf"].chunkDelayMs = 0;
        restarted.download(0);
        QVERIFY(downloaded.wait(20000));
        QCOMPARE(downloaded.first().first().toString(), QDir(folder).filePath(QStringLiteral("a.gguf")));
        QCOMPARE(restarted.data(restarted.index(0), ui::CatalogModel::StateRole).toString(), QStringLiteral("downloaded"));
        QVERIFY(server.seen.last().range.startsWith("bytes="));
        const QString verified = QStringLiteral("Verified: the SHA-256 matches the one Hugging Face reported (commit 0123456789ab)");
        QCOMPARE(restarted.data(restarted.index(0), ui::CatalogModel::VerificationRole).toString(), verified);
        QCOMPARE(restarted.data(restarted.index(0), ui::CatalogModel::VerifiedRole).toBool(), true);
        // After another restart it comes from the record beside the file.
        ui::CatalogModel again(folder, mem, model.entries());
        QCOMPARE(again.data(again.index(0), ui::CatalogModel::VerificationRole).toString(), verified);

        // Cancel a .part nobody is downloading.
        QFile part(QDir(folder).filePath(QStringLiteral("b.gguf.part")));
        QVERIFY(part.open(QIODevice::WriteOnly) && part.write(gguf.left(1000)) == 1000);
        part.close();
        // Files appearing behind the model's back are seen on a refresh (the app's model library
        // triggers one on a rescan), not by data(), which reads no files on the UI thread.
        QCOMPARE(restarted.data(restarted.index(1), ui::CatalogModel::StateRole).toString(), QStringLiteral("available"));
        restarted.refreshLocalState();
        QCOMPARE(restarted.data(restarted.index(1), ui::CatalogModel::StateRole).toString(), QStringLiteral("paused"));
        restarted.cancel(1);
        QVERIFY(!part.exists());
        QCOMPARE(restarted.data(restarted.index(1), ui::CatalogModel::StateRole).toString(), QStringLiteral("available"));

        // A server with no checksum: downloaded, and the row says it was not verified.
        QSignalSpy downloadedB(&restarted, &ui::CatalogModel::downloaded);
        restarted.download(1);
        QVERIFY(downloadedB.wait(20000));
        QCOMPARE(restarted.data(restarted.index(1), ui::CatalogModel::VerificationRole).toString(),
                 QStringLiteral("Not verified: the server reported no checksum"));
        QCOMPARE(restarted.data(restarted.index(1), ui::CatalogModel::VerifiedRole).toBool(), false);

        // Failures reach the toast and the row.
        QSignalSpy failed(&restarted, &ui::CatalogModel::downloadFailed);
        restarted.download(2);
        QVERIFY(failed.wait(10000));
        QVERIFY(failed.first().first().toString().contains(QLatin1String("404")));
        QCOMPARE(restarted.data(restarted.index(2), ui::CatalogModel::StateRole).toString(), QStringLiteral("failed"));
        QVERIFY(restarted.data(restarted.index(2), ui::CatalogModel::ErrorRole).toString().contains(QLatin1String("404")));
    }

    void builtinCatalogLoads() {
        QTemporaryDir dir;
        ui::CatalogModel model(dir.path(), models::MemoryInfo{16'000'000'000, 8'000'000'000});
        QCOMPARE(model.catalogError(), QString());
        QCOMPARE(model.rowCount(), 4);
        QVERIFY(model.memoryText().contains(QLatin1String("16.0 GB")));
    }
};

QTEST_MAIN(TestModelsCatalogUi)
#include "test_models_catalog_ui.moc"
