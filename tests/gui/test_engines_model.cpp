// Settings → Engines' view model (ui::EnginesModel) under QAbstractItemModelTester: adding
// (checked name, URL and CA file), changing a key, removing, the list read back by a new model
// (an app restart) with the key never in the settings file; "Test connection" against a local
// fake OpenAI server: the model ids, the plain errors (401, unreachable), the add form's test,
// and the UI thread staying free while a server stalls; where keys are kept (the keyring's
// verdict reaches the page's note: headless, "kept for this session only").
#include <QAbstractItemModelTester>
#include <QElapsedTimer>
#include <QFile>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include "../app/test_remote_fake_server.h"
#include "app/remote/engine_registry.h"
#include "app/remote/keychain_secret_store.h"
#include "ui/engines_model.h"

using namespace ld;
using ld::test::FakeOpenAiServer;
using Roles = ui::EnginesModel::Role;

namespace {

const QByteArray kModels = R"({"object":"list","data":[{"id":"tiny-a","object":"model","owned_by":"me"},)"
                           R"({"id":"tiny-b","object":"model","max_model_len":2048}]})";

QVariant roleOf(const ui::EnginesModel& m, int row, int role) { return m.data(m.index(row), role); }

// The settings, the key store, the registry and the model over them, with the model tester.
struct Fixture {
    QTemporaryDir dir;
    QSettings settings{dir.filePath(QStringLiteral("s.ini")), QSettings::IniFormat};
    remote::MemorySecretStore store;
    remote::EngineRegistry registry{settings, store};
    ui::EnginesModel model{&registry, nullptr};
    QAbstractItemModelTester tester{&model, QAbstractItemModelTester::FailureReportingMode::QtTest};
};

}  // namespace

class TestEnginesModel : public QObject {
    Q_OBJECT
private slots:
    void presetsHaveHelp() {
        Fixture f;
        const QVariantList presets = f.model.presets();
        QCOMPARE(presets.size(), 5);
        QStringList labels;
        for (const QVariant& v : presets) {
            const QVariantMap p = v.toMap();
            labels << p.value(QStringLiteral("label")).toString();
            QVERIFY(!p.value(QStringLiteral("help")).toString().isEmpty());
            QVERIFY(p.value(QStringLiteral("baseUrl")).toString().endsWith(QStringLiteral("/v1")));
        }
        QCOMPARE(labels, (QStringList{"vLLM", "SGLang", "llama.cpp llama-server", "Ollama", "LlamaDesk server"}));
    }

    void addEditRemove() {
        QTemporaryDir dir;
        const QString ini = dir.filePath(QStringLiteral("s.ini"));
        const QString ca = dir.filePath(QStringLiteral("ca.pem"));
        {
            QFile pem(ca);
            QVERIFY(pem.open(QIODevice::WriteOnly));
            pem.write("-----BEGIN CERTIFICATE-----\n");
        }
        remote::MemorySecretStore store;
        {
            QSettings settings(ini, QSettings::IniFormat);
            remote::EngineRegistry registry(settings, store);
            ui::EnginesModel model(&registry, nullptr);
            QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
            QSignalSpy changed(&model, &ui::EnginesModel::enginesChanged);
            QCOMPARE(model.count(), 0);

            QVERIFY(model.add(QStringLiteral("Box"), QStringLiteral("box:8000"), {}, {}).contains(QStringLiteral("not a server URL")));
            QVERIFY(model.add(QStringLiteral(" "), QStringLiteral("http://box/v1"), {}, {}).contains(QStringLiteral("name")));
            QVERIFY(model.add(QStringLiteral("Box"), QStringLiteral("http://box/v1"), {}, dir.filePath(QStringLiteral("none.pem")))
                        .contains(QStringLiteral("does not exist")));
            QCOMPARE(model.count(), 0);
            QCOMPARE(changed.count(), 0);

            QCOMPARE(model.add(QStringLiteral(" GPU box "), QStringLiteral("http://gpu-box:8000/v1/"), QStringLiteral(" sk-secret-42 "), {}),
                     QString());
            // A FileDialog hands over a file:// URL; the registry keeps the path.
            QCOMPARE(model.add(QStringLiteral("Laptop"), QStringLiteral("https://laptop:8443/v1"), {}, QUrl::fromLocalFile(ca).toString()),
                     QString());
            QVERIFY(model.add(QStringLiteral("gpu BOX"), QStringLiteral("http://x/v1"), {}, {}).contains(QStringLiteral("already")));
            QCOMPARE(model.count(), 2);
            QCOMPARE(changed.count(), 2);
            QCOMPARE(roleOf(model, 0, Roles::NameRole).toString(), QStringLiteral("GPU box"));
            QCOMPARE(roleOf(model, 0, Qt::DisplayRole).toString(), QStringLiteral("GPU box"));
            QCOMPARE(roleOf(model, 0, Roles::BaseUrlRole).toString(), QStringLiteral("http://gpu-box:8000/v1"));
            QVERIFY(roleOf(model, 0, Roles::HasKeyRole).toBool());
            QVERIFY(!roleOf(model, 1, Roles::HasKeyRole).toBool());
            QCOMPARE(roleOf(model, 1, Roles::CaFileRole).toString(), ca);
            QCOMPARE(registry.endpoint(roleOf(model, 0, Roles::EngineIdRole).toString())->apiKey, QStringLiteral("sk-secret-42"));

            // Keys: set, cleared, refused for a row that is not there.
            QSignalSpy data(&model, &QAbstractItemModel::dataChanged);
            QCOMPARE(model.setApiKey(1, QStringLiteral("sk-laptop")), QString());
            QVERIFY(roleOf(model, 1, Roles::HasKeyRole).toBool());
            QCOMPARE(data.count(), 1);
            QCOMPARE(data.first().at(0).toModelIndex().row(), 1);
            QCOMPARE(model.setApiKey(0, QString()), QString());
            QVERIFY(!roleOf(model, 0, Roles::HasKeyRole).toBool());
            QVERIFY(!registry.endpoint(roleOf(model, 0, Roles::EngineIdRole).toString())->apiKey.size());
            QVERIFY(!model.setApiKey(7, QStringLiteral("k")).isEmpty());
            QCOMPARE(model.setApiKey(0, QStringLiteral("sk-secret-43")), QString());
            QCOMPARE(model.roleNames().value(Roles::TestResultRole), QByteArray("testResult"));
        }
        // The key is not in the settings file; a new model (the app restarted) lists both.
        QFile f(ini);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray text = f.readAll();
        QVERIFY(text.contains("gpu-box"));
        QVERIFY(!text.contains("sk-secret") && !text.contains("sk-laptop"));
        QSettings settings(ini, QSettings::IniFormat);
        remote::EngineRegistry registry(settings, store);
        ui::EnginesModel model(&registry, nullptr);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(model.count(), 2);
        QVERIFY(roleOf(model, 0, Roles::HasKeyRole).toBool());
        QCOMPARE(roleOf(model, 1, Roles::NameRole).toString(), QStringLiteral("Laptop"));
        const QString laptop = roleOf(model, 1, Roles::EngineIdRole).toString();
        model.remove(0);
        QCOMPARE(model.count(), 1);
        QCOMPARE(roleOf(model, 0, Roles::EngineIdRole).toString(), laptop);
        model.remove(5);  // nothing there: ignored
        QCOMPARE(model.count(), 1);
        QCOMPARE(registry.engines().size(), 1);
        model.reload();
        QCOMPARE(model.count(), 1);
    }

    void testConnectionListsModels() {
        FakeOpenAiServer server;
        QVERIFY(server.listen());
        server.add("/v1/models", FakeOpenAiServer::json(200, kModels));
        Fixture f;
        QCOMPARE(f.model.add(QStringLiteral("Fake"), server.baseUrl().toString(), QStringLiteral("sk-test"), {}), QString());
        QSignalSpy tested(&f.model, &ui::EnginesModel::tested);
        f.model.testConnection(0);
        QVERIFY(roleOf(f.model, 0, Roles::TestingRole).toBool());  // shown at once, answered later
        QVERIFY(!roleOf(f.model, 0, Roles::TestedRole).toBool());
        QVERIFY(tested.wait(10000));
        QVERIFY(!roleOf(f.model, 0, Roles::TestingRole).toBool());
        QVERIFY(roleOf(f.model, 0, Roles::TestedRole).toBool());
        QVERIFY(roleOf(f.model, 0, Roles::TestOkRole).toBool());
        QCOMPARE(roleOf(f.model, 0, Roles::TestResultRole).toString(), QStringLiteral("2 models: tiny-a, tiny-b"));
        QCOMPARE(tested.first().at(1).toBool(), true);
        QCOMPARE(server.seen.size(), 1);
        QCOMPARE(server.seen[0].method, QByteArray("GET"));
        QCOMPARE(server.seen[0].authorization, QByteArray("Bearer sk-test"));

        // A new key forgets the last result.
        QCOMPARE(f.model.setApiKey(0, QStringLiteral("sk-other")), QString());
        QVERIFY(!roleOf(f.model, 0, Roles::TestedRole).toBool());
    }

    void testConnectionErrorsArePlain() {
        FakeOpenAiServer server;
        QVERIFY(server.listen());
        server.add("/v1/models", FakeOpenAiServer::json(401, R"({"error":{"message":"Invalid API key","type":"invalid_request_error"}})"));
        Fixture f;
        QCOMPARE(f.model.add(QStringLiteral("Fake"), server.baseUrl().toString(), QStringLiteral("sk-wrong"), {}), QString());
        // A port nobody listens on.
        QTcpServer closed;
        QVERIFY(closed.listen(QHostAddress::LocalHost, 0));
        const quint16 deadPort = closed.serverPort();
        closed.close();
        QCOMPARE(f.model.add(QStringLiteral("Gone"), QStringLiteral("http://127.0.0.1:%1/v1").arg(deadPort), {}, {}), QString());
        QSignalSpy tested(&f.model, &ui::EnginesModel::tested);
        f.model.testConnection(0);
        f.model.testConnection(1);
        QTRY_COMPARE_WITH_TIMEOUT(tested.count(), 2, 15000);
        QVERIFY(!roleOf(f.model, 0, Roles::TestOkRole).toBool());
        const QString refused = roleOf(f.model, 0, Roles::TestResultRole).toString();
        QVERIFY2(refused.contains(QStringLiteral("HTTP 401")) && refused.contains(QStringLiteral("Invalid API key")) &&
                     refused.contains(QStringLiteral("check the API key")),
                 qPrintable(refused));
        QVERIFY(!roleOf(f.model, 1, Roles::TestOkRole).toBool());
        const QString unreachable = roleOf(f.model, 1, Roles::TestResultRole).toString();
        QVERIFY2(!unreachable.isEmpty(), "an unreachable server gets a reason");
        qInfo("unreachable: %s", qPrintable(unreachable));
    }

    void draftTest() {
        FakeOpenAiServer server;
        QVERIFY(server.listen());
        server.add("/v1/models", FakeOpenAiServer::json(200, R"({"object":"list","data":[{"id":"only-one"}]})"));
        Fixture f;
        QSignalSpy draft(&f.model, &ui::EnginesModel::draftChanged);
        f.model.testDraft(QStringLiteral("not a url"), {}, {});
        QVERIFY(!f.model.draftTesting());
        QVERIFY(!f.model.draftOk());
        QVERIFY(f.model.draftResult().contains(QStringLiteral("not a server URL")));
        f.model.testDraft(server.baseUrl().toString(), QStringLiteral("sk-draft"), {});
        QVERIFY(f.model.draftTesting());
        QTRY_VERIFY_WITH_TIMEOUT(!f.model.draftTesting(), 10000);
        QVERIFY(f.model.draftOk());
        QCOMPARE(f.model.draftResult(), QStringLiteral("1 model: only-one"));
        QCOMPARE(server.seen.last().authorization, QByteArray("Bearer sk-draft"));
        QCOMPARE(f.model.count(), 0);  // testing does not save
    }

    void stalledServerLeavesUiFree() {
        // The server accepts and never answers: the test runs on a pool thread while the event
        // loop (the UI) keeps going; removing the engine drops the late answer.
        Fixture f;  // before the server, which goes first and so ends the stalled call
        FakeOpenAiServer server;
        QVERIFY(server.listen());
        server.add("/v1/models", FakeOpenAiServer::Script{{}, false});
        QCOMPARE(f.model.add(QStringLiteral("Slow"), server.baseUrl().toString(), {}, {}), QString());
        QSignalSpy tested(&f.model, &ui::EnginesModel::tested);
        QElapsedTimer clock;
        clock.start();
        f.model.testConnection(0);
        QVERIFY(clock.elapsed() < 100);
        qint64 maxGap = 0;
        QElapsedTimer gap;
        gap.start();
        QTimer tick;
        connect(&tick, &QTimer::timeout, [&] { maxGap = std::max(maxGap, gap.restart()); });
        tick.start(10);
        QTest::qWait(600);
        QVERIFY2(maxGap < 200, qPrintable(QString::number(maxGap)));
        QVERIFY(roleOf(f.model, 0, Roles::TestingRole).toBool());
        QCOMPARE(tested.count(), 0);
        f.model.remove(0);
    }

    void keyStorageNote() {
        // Memory keys: session only, said so.
        {
            Fixture f;
            QCOMPARE(f.model.keyStorage(), QStringLiteral("session"));
            QVERIFY(f.model.keyStorageNote().contains(QStringLiteral("kept for this session only")));
        }
        // The keychain store with no D-Bus session (headless CI): "checking" turns into the
        // session-only note once the keyring's absence is known.
        QTemporaryDir runtime;
        qputenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/llamadesk-test-bus");
        qputenv("XDG_RUNTIME_DIR", runtime.path().toUtf8());
        qunsetenv("DISPLAY");
        QTemporaryDir dir;
        QSettings settings(dir.filePath(QStringLiteral("s.ini")), QSettings::IniFormat);
        remote::KeychainSecretStore keychain(QStringLiteral("LlamaDesk-test"));
        remote::EngineRegistry registry(settings, keychain);
        ui::EnginesModel model(&registry, &keychain);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(model.keyStorage(), QStringLiteral("checking"));
        QSignalSpy storage(&model, &ui::EnginesModel::keyStorageChanged);
        QTRY_COMPARE_WITH_TIMEOUT(model.keyStorage(), QStringLiteral("session"), 8000);
        QVERIFY(storage.count() >= 1);
        QVERIFY2(model.keyStorageNote().contains(QStringLiteral("kept for this session only")), qPrintable(model.keyStorageNote()));
        QCOMPARE(model.add(QStringLiteral("Box"), QStringLiteral("http://box/v1"), QStringLiteral("sk-1"), {}), QString());
        QVERIFY(roleOf(model, 0, Roles::HasKeyRole).toBool());
    }
};

QTEST_MAIN(TestEnginesModel)
#include "test_engines_model.moc"
