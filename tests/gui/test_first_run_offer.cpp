// The welcome page's one-click first model, in the real window: it shows the entry the
// recommendation picks, and its button downloads it from a local server playing the hub —
// an error with Retry, progress with percent and speed, Cancel, Retry again — until the file
// is in the models folder and loaded, which hides the welcome page.
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "../qt_test_util.h"
#include "app/chat/engine_host.h"
#include "app/chat/model_info.h"
#include "app/settings/app_settings.h"
#include "gui/qml_warnings.h"
#include "gui/temp_paths.h"
#include "tests/app/test_models_server.h"
#include "ui/app_parts.h"
#include "ui/catalog_model.h"
#include "ui/first_model_offer.h"
#include "ui/model_list_model.h"
#include "ui/model_manager_parts.h"

using namespace ld;
using ld::test::TestHttpServer;

namespace {

const QString kStories = QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf");

models::CatalogEntry entry(const QString& id, const QString& name, const QUrl& url, const QString& params, qint64 size,
                           qint64 memory) {
    models::CatalogEntry e;
    e.id = id;
    e.name = name;
    e.quant = QStringLiteral("F32");
    e.parameters = params;
    e.url = url;
    e.fileName = QFileInfo(url.path()).fileName();
    e.sizeBytes = size;
    e.sizeApproximate = true;
    e.license = QStringLiteral("MIT");
    e.licenseUrl = QUrl(QStringLiteral("https://opensource.org/license/mit"));
    e.ramBytes = memory;
    e.vramBytes = memory;
    e.description = QStringLiteral("A test model.");
    return e;
}

QQuickItem* item(QQuickWindow* window, const char* name) {
    return window->findChild<QQuickItem*>(QString::fromLatin1(name));
}

QString text(QQuickWindow* window, const char* name) {
    QQuickItem* i = item(window, name);
    return i ? i->property("text").toString() : QStringLiteral("<no %1>").arg(QString::fromLatin1(name));
}

bool shown(QQuickWindow* window, const char* name) {
    QQuickItem* i = item(window, name);
    return i && i->isVisible();
}

// For a person to look at: LLAMADESK_SCREENSHOT_DIR or the temp folder.
void screenshot(QQuickWindow* window, const QString& name) {
    const QString folder = qEnvironmentVariableIsEmpty("LLAMADESK_SCREENSHOT_DIR") ? QDir::tempPath()
                                                                                  : qEnvironmentVariable("LLAMADESK_SCREENSHOT_DIR");
    const QString path = folder + QLatin1Char('/') + name;
    QVERIFY2(window->grabWindow().save(path), qPrintable(path));
    qInfo("screenshot: %s", qPrintable(path));
}

void click(QQuickWindow* window, const char* name) {
    QQuickItem* i = item(window, name);
    QVERIFY2(i && i->isVisible() && i->isEnabled(), name);
    const QPointF centre = i->mapToScene(QPointF(i->width() / 2, i->height() / 2));
    QTest::mouseClick(window, Qt::LeftButton, {}, centre.toPoint());
}

}  // namespace

class TestFirstRunOffer : public QObject {
    Q_OBJECT
private slots:
    void downloadsAndLoadsTheRecommendedModel() {
        test::QmlWarnings warnings;
        QFile src(kStories);
        if (!src.open(QIODevice::ReadOnly)) {
            if (qEnvironmentVariable("CI") == QLatin1String("true")) QFAIL("CI needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf");
            LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        }
        const QByteArray gguf = src.readAll();
        TestHttpServer server;
        QVERIFY(server.listen());
        TestHttpServer::Route slow = TestHttpServer::serving(gguf);
        slow.chunkDelayMs = 40;  // 16 KiB per 40 ms: about 3 s for the file
        server.routes["/stories260K.gguf"] = slow;

        QTemporaryDir dir;
        const ui::AppPaths paths = test::tempPaths(dir);
        ui::AppParts parts(paths);
        QVERIFY(!parts.loadInitialModel({}));

        // A catalog with a model too big for any machine and one that fits every machine: the
        // page must offer the second whatever this computer has.
        ui::CatalogModel catalog(paths.modelsFolder, models::readMemoryInfo(),
                                 {entry(QStringLiteral("huge"), QStringLiteral("Huge 1T"), server.url("/huge.gguf"),
                                        QStringLiteral("1T"), 4'000'000'000'000, 8'000'000'000'000'000),
                                  entry(QStringLiteral("stories"), QStringLiteral("Stories 260K"),
                                        server.url("/stories260K.gguf"), QStringLiteral("260K"), gguf.size(), 50'000'000)});
        ui::FirstModelOffer* offer = parts.modelManager->firstModel.get();
        offer->setCatalog(&catalog);

        QQmlApplicationEngine qml;
        QVERIFY(parts.loadQml(qml));
        auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
        QVERIFY(window);
        QVERIFY(QTest::qWaitForWindowExposed(window));
        QVERIFY(shown(window, "firstRun"));

        // The page looked at this machine by itself and offers the entry that fits.
        QTRY_VERIFY_WITH_TIMEOUT(offer->ready(), 20000);
        QCOMPARE(offer->entryId(), QStringLiteral("stories"));
        QTRY_COMPARE(text(window, "offerName"), QStringLiteral("Stories 260K · F32"));
        const QString size = chat::formatBytes(gguf.size());
        QCOMPARE(text(window, "offerButton"), QStringLiteral("Download Stories 260K (%1)").arg(size));
        QVERIFY2(text(window, "offerReason").startsWith(QLatin1String("Recommended for this computer")),
                 qPrintable(text(window, "offerReason")));
        qInfo("offered: %s; %s", qPrintable(text(window, "offerButton")), qPrintable(text(window, "offerReason")));
        screenshot(window, QStringLiteral("llamadesk-first-model.png"));
        QVERIFY(shown(window, "chooseFile"));
        QVERIFY(shown(window, "browseCatalog"));

        // The disk is full: the error and a Retry show on the page.
        QSignalSpy loadRequested(offer, &ui::FirstModelOffer::loadRequested);
        catalog.setFreeSpaceCheck([](const QString&) { return qint64(1000); });
        click(window, "offerButton");
        QTRY_VERIFY_WITH_TIMEOUT(shown(window, "offerError"), 15000);
        QVERIFY2(text(window, "offerError").contains(QLatin1String("Not enough disk space")), qPrintable(text(window, "offerError")));
        QCOMPARE(text(window, "offerButton"), QStringLiteral("Retry"));

        // Retry, and the hub answers 503: the same.
        catalog.setFreeSpaceCheck({});
        TestHttpServer::Route down;
        down.status = 503;
        server.routes["/stories260K.gguf"] = down;
        click(window, "offerButton");
        QTRY_VERIFY_WITH_TIMEOUT(text(window, "offerError").contains(QLatin1String("503")), 15000);
        QVERIFY(shown(window, "offerError"));
        QCOMPARE(text(window, "offerButton"), QStringLiteral("Retry"));

        // Retry against a slow hub: progress with percent, bytes and speed; then Cancel.
        server.routes["/stories260K.gguf"] = slow;
        click(window, "offerButton");
        QTRY_VERIFY_WITH_TIMEOUT(shown(window, "offerProgress"), 10000);
        QVERIFY(!shown(window, "offerButton"));
        QVERIFY(!shown(window, "offerError"));
        const QRegularExpression withSpeed(QStringLiteral("^\\d+% · .+ of .+ · .+/s"));
        QTRY_VERIFY2_WITH_TIMEOUT(withSpeed.match(text(window, "offerProgressText")).hasMatch(),
                                  qPrintable(text(window, "offerProgressText")), 10000);
        QVERIFY(item(window, "offerProgress")->property("value").toDouble() > 0);
        qInfo("progress shown: %s", qPrintable(text(window, "offerProgressText")));
        screenshot(window, QStringLiteral("llamadesk-first-model-progress.png"));
        click(window, "offerCancel");
        QTRY_VERIFY(shown(window, "offerError"));
        QVERIFY(text(window, "offerError").contains(QLatin1String("cancelled")));
        QCOMPARE(text(window, "offerButton"), QStringLiteral("Retry"));
        QVERIFY(!QFile::exists(QDir(paths.modelsFolder).filePath(QStringLiteral("stories260K.gguf.part"))));
        QCOMPARE(loadRequested.count(), 0);

        // Retry once more, to the end: the file lands in the models folder and loads.
        server.routes["/stories260K.gguf"].chunkDelayMs = 1;
        QSignalSpy loaded(parts.engine.get(), &chat::EngineHost::modelLoaded);
        click(window, "offerButton");
        QVERIFY(loaded.wait(30000));
        const QString path = QDir(paths.modelsFolder).filePath(QStringLiteral("stories260K.gguf"));
        QCOMPARE(loadRequested.count(), 1);
        QCOMPARE(loadRequested.first().first().toString(), path);
        QFile landed(path);
        QVERIFY(landed.open(QIODevice::ReadOnly));
        QCOMPARE(landed.readAll(), gguf);
        QVERIFY(parts.engine->modelReady());
        QCOMPARE(QFileInfo(parts.settings->modelPath()), QFileInfo(path));
        QTRY_VERIFY(parts.models->rowOfPath(path) >= 0 || parts.models->rowOfPath(QFileInfo(path).absoluteFilePath()) >= 0);
        QTRY_VERIFY(!shown(window, "firstRun"));
        // Were the page shown again (the model unloaded), it would load the file, not fetch it.
        QCOMPARE(offer->state(), QStringLiteral("downloaded"));
        QCOMPARE(offer->actionText(), QStringLiteral("Load Stories 260K"));
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
    }

    void resumesWhereAnEarlierRunStopped() {
        QFile src(kStories);
        if (!src.open(QIODevice::ReadOnly)) {
            if (qEnvironmentVariable("CI") == QLatin1String("true")) QFAIL("CI needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf");
            LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        }
        const QByteArray gguf = src.readAll();
        TestHttpServer server;
        QVERIFY(server.listen());
        server.routes["/stories260K.gguf"] = TestHttpServer::serving(gguf);
        QTemporaryDir dir;
        QFile part(dir.filePath(QStringLiteral("stories260K.gguf.part")));
        QVERIFY(part.open(QIODevice::WriteOnly));
        QCOMPARE(part.write(gguf.left(gguf.size() / 2)), gguf.size() / 2);
        part.close();

        ui::CatalogModel catalog(dir.path(), models::MemoryInfo{},
                                 {entry(QStringLiteral("stories"), QStringLiteral("Stories 260K"),
                                        server.url("/stories260K.gguf"), QStringLiteral("260K"), gguf.size(), 50'000'000)});
        ui::FirstModelOffer offer(&catalog, nullptr);
        QVERIFY(!offer.ready());
        QVERIFY(!offer.available());
        offer.setMachine(models::MachineInfo{qint64(4) << 30, 0, {}});
        QVERIFY(offer.available());
        QCOMPARE(offer.state(), QStringLiteral("paused"));
        QCOMPARE(offer.actionText(), QStringLiteral("Resume downloading Stories 260K (50% done)"));
        QSignalSpy loadRequested(&offer, &ui::FirstModelOffer::loadRequested);
        offer.start();
        QCOMPARE(offer.state(), QStringLiteral("downloading"));
        QVERIFY(loadRequested.wait(20000));
        QCOMPARE(loadRequested.first().first().toString(), dir.filePath(QStringLiteral("stories260K.gguf")));
        QCOMPARE(server.seen.last().range, QByteArray("bytes=") + QByteArray::number(gguf.size() / 2) + '-');
        QCOMPARE(offer.state(), QStringLiteral("downloaded"));

        // Nothing fits a machine too small: no offer, and the reason says why.
        offer.setMachine(models::MachineInfo{10'000'000, 0, {}});
        QVERIFY(!offer.available());
        QCOMPARE(offer.state(), QString());
        QVERIFY2(offer.reason().contains(QLatin1String("No model in the catalog fits")), qPrintable(offer.reason()));
    }

    void browseOpensTheCatalog() {
        test::QmlWarnings warnings;
        QTemporaryDir dir;
        ui::AppParts parts(test::tempPaths(dir));
        QQmlApplicationEngine qml;
        QVERIFY(parts.loadQml(qml));
        auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
        QVERIFY(window && QTest::qWaitForWindowExposed(window));
        // With the embedded catalog: whatever this machine is, the page says what it offers.
        QTRY_VERIFY_WITH_TIMEOUT(parts.modelManager->firstModel->ready(), 20000);
        QVERIFY(!text(window, "offerReason").isEmpty());
        screenshot(window, QStringLiteral("llamadesk-first-model-catalog.png"));
        click(window, "browseCatalog");
        QObject* dialog = window->findChild<QObject*>(QStringLiteral("catalogDialog"));
        QVERIFY(dialog);
        QTRY_VERIFY(dialog->property("opened").toBool());
        QTest::qWait(300);  // the open transition
        screenshot(window, QStringLiteral("llamadesk-first-model-browse.png"));
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
    }
};

QTEST_MAIN(TestFirstRunOffer)
#include "test_first_run_offer.moc"
