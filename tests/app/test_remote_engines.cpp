// The engine list behind Settings → Engines: presets, adding (name and URL checked), keeping
// the list across restarts in the settings file while the API key goes to the secret store and
// never into that file, removing, and the endpoint handed to the client with its key.
#include <QFile>
#include <QSettings>
#include <QTemporaryDir>
#include <QTest>

#include "app/remote/engine_registry.h"

using namespace ld::remote;

class TestRemoteEngines : public QObject {
    Q_OBJECT

private slots:
    void presets() {
        const QList<EnginePreset>& p = enginePresets();
        QStringList kinds;
        for (const EnginePreset& e : p) {
            kinds << e.kind;
            QVERIFY(!e.help.isEmpty());
            QVERIFY(e.baseUrl.path().endsWith(QStringLiteral("/v1")));
        }
        QCOMPARE(kinds, (QStringList{"vllm", "sglang", "llama-server", "ollama", "llamadesk"}));
    }

    void addPersistRemove() {
        QTemporaryDir dir;
        const QString ini = dir.filePath(QStringLiteral("settings.ini"));
        MemorySecretStore store;
        QString id;
        {
            QSettings settings(ini, QSettings::IniFormat);
            EngineRegistry reg(settings, store);
            QVERIFY(!reg.keysPersistent());
            QString error;
            id = reg.add(QStringLiteral(" GPU box "), QStringLiteral("http://gpu-box:8000/v1/"), QStringLiteral("sk-secret-123"), {}, &error);
            QVERIFY2(!id.isEmpty(), qPrintable(error));
            QVERIFY(reg.add(QStringLiteral("gpu box"), QStringLiteral("http://other/v1"), {}, {}, &error).isEmpty());
            QVERIFY(error.contains(QStringLiteral("already")));
            QVERIFY(reg.add(QStringLiteral("Bad"), QStringLiteral("gpu-box:8000"), {}, {}, &error).isEmpty());
            QVERIFY(error.contains(QStringLiteral("not a server URL")));
            QVERIFY(reg.add(QStringLiteral(""), QStringLiteral("http://x/v1"), {}, {}, &error).isEmpty());
            QVERIFY(!reg.add(QStringLiteral("Laptop"), QStringLiteral("https://laptop:8443/v1"), {}, QStringLiteral("/etc/ca.pem"), &error).isEmpty());
        }
        // The key is not in the settings file.
        QFile f(ini);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray text = f.readAll();
        QVERIFY(text.contains("gpu-box"));
        QVERIFY(!text.contains("sk-secret-123"));
        // A new registry (the app restarted) reads the list back; the key comes from the store.
        QSettings settings(ini, QSettings::IniFormat);
        EngineRegistry reg(settings, store);
        const QList<EngineEntry> list = reg.engines();
        QCOMPARE(list.size(), 2);
        QCOMPARE(list[0].name, QStringLiteral("GPU box"));
        QCOMPARE(list[0].baseUrl.toString(), QStringLiteral("http://gpu-box:8000/v1"));
        QVERIFY(list[0].hasKey);
        QVERIFY(!list[1].hasKey);
        QCOMPARE(list[1].caFile, QStringLiteral("/etc/ca.pem"));
        const auto ep = reg.endpoint(id);
        QVERIFY(ep);
        QCOMPARE(ep->apiKey, QStringLiteral("sk-secret-123"));
        QCOMPARE(ep->url(QStringLiteral("/models")).toString(), QStringLiteral("http://gpu-box:8000/v1/models"));
        QString error;
        QVERIFY(reg.setApiKey(id, QStringLiteral("sk-new"), &error));
        QCOMPARE(reg.endpoint(id)->apiKey, QStringLiteral("sk-new"));
        QVERIFY(!reg.setApiKey(QStringLiteral("nope"), QStringLiteral("k"), &error));
        reg.remove(id);
        QCOMPARE(reg.engines().size(), 1);
        QVERIFY(!reg.endpoint(id));
        QVERIFY(!store.read(QStringLiteral("llamadesk/engine/") + id));  // the key went with it
    }
};

QTEST_GUILESS_MAIN(TestRemoteEngines)
#include "test_remote_engines.moc"
