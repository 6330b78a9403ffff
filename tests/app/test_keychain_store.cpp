// API keys in the desktop keyring (KeychainSecretStore over QtKeychain):
// - headless (no D-Bus session): the store falls back to keeping keys for the session only,
//   persistent() is false, and the UI thread never waits;
// - a D-Bus session without any Secret Service: the same fallback, fast (the error path, not
//   the check timeout), while the event loop keeps running;
// - a real Secret Service (gnome-keyring-daemon under dbus-run-session, with a throw-away
//   HOME): keys persist across store instances (an app restart), reach worker threads, never
//   lie in clear on disk, and removal deletes them.
// The last two run this binary again as a child inside a private D-Bus session.
#include <QCoreApplication>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QUuid>
#include <QtConcurrent>

#include "qt_test_util.h"
#include "app/remote/engine_registry.h"
#include "app/remote/keychain_secret_store.h"

using namespace ld::remote;
using State = KeychainSecretStore::State;

namespace {

const QString kService = QStringLiteral("LlamaDesk-test");

// Counts the longest pause of the event loop while it lives (a UI that hung).
class LoopWatch {
public:
    LoopWatch() {
        clock_.start();
        timer_.setInterval(10);
        QObject::connect(&timer_, &QTimer::timeout, [this] {
            maxGapMs_ = std::max(maxGapMs_, clock_.restart());
        });
        timer_.start();
    }
    qint64 maxGapMs() const { return maxGapMs_; }

private:
    QTimer timer_;
    QElapsedTimer clock_;
    qint64 maxGapMs_ = 0;
};

}  // namespace

// Runs inside the private D-Bus session (see TestKeychainStore::runChild).
class KeyringChild : public QObject {
    Q_OBJECT
private slots:
    void noSecretServiceFallsBack() {
        LoopWatch watch;
        QElapsedTimer clock;
        clock.start();
        KeychainSecretStore store(kService);
        QVERIFY(!store.persistent());
        QTRY_COMPARE_WITH_TIMEOUT(store.state(), State::SessionOnly, KeychainSecretStore::kCheckTimeoutMs - 2000);
        qInfo("fell back after %lld ms: %s", qint64(clock.elapsed()), qPrintable(store.unavailableReason()));
        QVERIFY(!store.unavailableReason().isEmpty());
        QVERIFY2(watch.maxGapMs() < 300, qPrintable(QString::number(watch.maxGapMs())));
        QVERIFY(store.write(QStringLiteral("k"), QStringLiteral("v"), nullptr));
        QCOMPARE(store.read(QStringLiteral("k")), std::optional<QString>(QStringLiteral("v")));
    }

    void realKeyringPersists() {
        LoopWatch watch;
        const QString key = QStringLiteral("llamadesk/engine/test-") + QUuid::createUuid().toString(QUuid::WithoutBraces);
        const QString secret = QStringLiteral("sk-ключ-%1").arg(QUuid::createUuid().toString(QUuid::Id128));
        {
            KeychainSecretStore store(kService);
            QTRY_COMPARE_WITH_TIMEOUT(store.state(), State::Keyring, 15000);
            QVERIFY(store.persistent());
            QVERIFY(store.unavailableReason().isEmpty());
            QSignalSpy failures(&store, &KeychainSecretStore::failed);
            QVERIFY(store.write(key, secret, nullptr));
            QCOMPARE(store.read(key), std::optional<QString>(secret));  // the cache has it at once
            QTRY_COMPARE_WITH_TIMEOUT(store.jobsInFlight(), 0, 15000);
            QVERIFY2(failures.isEmpty(), qPrintable(failures.value(0).value(0).toString()));
        }
        {
            // The app restarted: on the store's thread read() answers at once (nothing cached
            // yet), then the key arrives from the keyring.
            KeychainSecretStore store(kService);
            QSignalSpy arrived(&store, &KeychainSecretStore::keysChanged);
            QElapsedTimer clock;
            clock.start();
            QVERIFY(!store.read(key));
            QVERIFY(clock.elapsed() < 50);
            QVERIFY(arrived.wait(15000));
            const std::optional<QString> got = store.read(key);
            QVERIFY2(got == secret, qPrintable(got.value_or(QStringLiteral("<none>")) + QStringLiteral(" state ") + QString::number(int(store.state())) + QLatin1Char(' ') + store.unavailableReason()));
            QVERIFY(store.persistent());
        }
        const QString quitKey = key + QStringLiteral("-quit");
        {
            // Saved just before the app quits: the store goes at once, the key still arrives.
            KeychainSecretStore store(kService);
            store.write(quitKey, secret, nullptr);
        }
        {
            // A worker thread (a remote call about to start) waits for the keyring's answer.
            KeychainSecretStore quitStore(kService);
            QFuture<std::optional<QString>> q = QtConcurrent::run([&quitStore, quitKey] { return quitStore.read(quitKey); });
            QTRY_VERIFY_WITH_TIMEOUT(q.isFinished(), 15000);
            QCOMPARE(q.result(), std::optional<QString>(secret));
            quitStore.remove(quitKey);
        }
        {
            KeychainSecretStore store(kService);
            QFuture<std::optional<QString>> f = QtConcurrent::run([&store, key] { return store.read(key); });
            QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 15000);
            QCOMPARE(f.result(), std::optional<QString>(secret));
        }
        {
            // The registry on top: the endpoint carries the key, the settings file does not.
            QTemporaryDir dir;
            const QString ini = dir.filePath(QStringLiteral("s.ini"));
            KeychainSecretStore store(kService);
            QTRY_COMPARE_WITH_TIMEOUT(store.state(), State::Keyring, 15000);
            QString id;
            {
                QSettings settings(ini, QSettings::IniFormat);
                EngineRegistry reg(settings, store);
                QVERIFY(reg.keysPersistent());
                QString error;
                id = reg.add(QStringLiteral("Box"), QStringLiteral("http://box:8000/v1"), secret, {}, &error);
                QVERIFY2(!id.isEmpty(), qPrintable(error));
                QTRY_COMPARE_WITH_TIMEOUT(store.jobsInFlight(), 0, 15000);
            }
            // The app's start: the engine list asks for the keys, and a remote model remembered
            // from the last session is loaded once they have answered, on the UI thread.
            KeychainSecretStore restarted(kService);
            QSettings settings(ini, QSettings::IniFormat);
            EngineRegistry reg(settings, restarted);
            QVERIFY(!reg.engines().value(0).hasKey);  // asked for, not here yet
            QString keyWhenReady;
            restarted.whenReady(this, [&] { keyWhenReady = reg.endpoint(id)->apiKey; });
            QTRY_COMPARE_WITH_TIMEOUT(keyWhenReady, secret, 15000);
            QVERIFY(reg.engines().value(0).hasKey);
            bool again = false;
            restarted.whenReady(this, [&] { again = true; });  // nothing pending: at once (queued)
            QVERIFY(!again);
            QTRY_VERIFY_WITH_TIMEOUT(again, 1000);
            reg.remove(id);
            QTRY_COMPARE_WITH_TIMEOUT(restarted.jobsInFlight(), 0, 15000);
        }
        // Never in clear on disk: not in the keyring's files, not anywhere under HOME.
        QDirIterator files(QDir::homePath(), QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
        int seen = 0;
        while (files.hasNext()) {
            QFile f(files.next());
            if (!f.open(QIODevice::ReadOnly)) continue;
            ++seen;
            const QByteArray bytes = f.readAll();
            QVERIFY2(!bytes.contains(secret.toUtf8()), qPrintable(f.fileName()));
        }
        QVERIFY(seen > 0);  // the keyring wrote its (encrypted) files there
        {
            KeychainSecretStore store(kService);
            store.remove(key);
            QTRY_COMPARE_WITH_TIMEOUT(store.jobsInFlight(), 0, 15000);
        }
        {
            KeychainSecretStore store(kService);
            QVERIFY(!store.read(key));
            QTRY_COMPARE_WITH_TIMEOUT(store.jobsInFlight(), 0, 15000);
            QCOMPARE(store.state(), State::Keyring);
            QVERIFY(!store.read(key));  // now known absent, not pending
        }
        QVERIFY2(watch.maxGapMs() < 300, qPrintable(QString::number(watch.maxGapMs())));
    }
};

class TestKeychainStore : public QObject {
    Q_OBJECT

    // This binary again, as a KeyringChild running `function` in a private D-Bus session of
    // dbus-run-session (`busConfig`: its configuration file, empty for the standard session),
    // after `shellBefore` (started inside that session). A throw-away HOME and runtime folder.
    void runChild(const QString& function, const QString& busConfig, const QString& shellBefore) {
        const QString dbusRun = QStandardPaths::findExecutable(QStringLiteral("dbus-run-session"));
        if (dbusRun.isEmpty()) LD_QSKIP_OR_FAIL_IN_CI("needs dbus-run-session (Debian: dbus)");
        QTemporaryDir home;
        QVERIFY(QDir(home.path()).mkpath(QStringLiteral("run")));
        QFile::setPermissions(home.filePath(QStringLiteral("run")), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        for (const char* v : {"DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "KDE_FULL_SESSION",
                              "KDE_SESSION_VERSION", "DESKTOP_SESSION", "GNOME_DESKTOP_SESSION_ID", "XDG_DATA_HOME",
                              "XDG_CONFIG_HOME", "XDG_CACHE_HOME"})
            env.remove(QString::fromLatin1(v));
        env.insert(QStringLiteral("XDG_CURRENT_DESKTOP"), QStringLiteral("GNOME"));  // libsecret, as on most desktops
        env.insert(QStringLiteral("HOME"), home.path());
        env.insert(QStringLiteral("XDG_RUNTIME_DIR"), home.filePath(QStringLiteral("run")));
        QStringList args;
        if (!busConfig.isEmpty()) args << QStringLiteral("--config-file=") + busConfig;
        args << QStringLiteral("--") << QStringLiteral("sh") << QStringLiteral("-c")
             << shellBefore + QStringLiteral(" exec \"$0\" --child \"$1\"") << QCoreApplication::applicationFilePath()
             << function;
        QProcess p;
        p.setProcessEnvironment(env);
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(dbusRun, args);
        QVERIFY(p.waitForStarted());
        QVERIFY2(p.waitForFinished(90000), "the child in the private D-Bus session did not finish in 90 s");
        const QString out = QString::fromUtf8(p.readAll());
        qInfo("%s", qPrintable(out));
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, qPrintable(out));
        QVERIFY2(out.contains(QStringLiteral("PASS   : KeyringChild::") + function), qPrintable(out));
    }

private slots:
    // Before any other test: QtKeychain picks its backend once per process.
    void headlessFallsBackToSession() {
        QTemporaryDir runtime;
        qputenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/llamadesk-test-bus");
        qputenv("XDG_RUNTIME_DIR", runtime.path().toUtf8());
        qunsetenv("DISPLAY");
        qunsetenv("WAYLAND_DISPLAY");
        LoopWatch watch;
        KeychainSecretStore store(kService);
        QCOMPARE(store.state(), State::Checking);
        QVERIFY(!store.persistent());
        QSignalSpy changed(&store, &KeychainSecretStore::stateChanged);
        // The error path, well before the check's timeout.
        QTRY_COMPARE_WITH_TIMEOUT(store.state(), State::SessionOnly, KeychainSecretStore::kCheckTimeoutMs - 2000);
        QVERIFY(changed.count() >= 1);
        QVERIFY(!store.persistent());
        QVERIFY(!store.unavailableReason().isEmpty());
        qInfo("no keyring: %s", qPrintable(store.unavailableReason()));
        QVERIFY2(watch.maxGapMs() < 300, qPrintable(QString::number(watch.maxGapMs())));

        // Session-only: what is written is there until the store goes, on any thread.
        QVERIFY(store.write(QStringLiteral("a"), QStringLiteral("sk-1"), nullptr));
        QCOMPARE(store.read(QStringLiteral("a")), std::optional<QString>(QStringLiteral("sk-1")));
        QFuture<std::optional<QString>> f = QtConcurrent::run([&store] { return store.read(QStringLiteral("a")); });
        QCOMPARE(f.result(), std::optional<QString>(QStringLiteral("sk-1")));
        QElapsedTimer clock;
        clock.start();
        QFuture<std::optional<QString>> g = QtConcurrent::run([&store] { return store.read(QStringLiteral("never")); });
        QVERIFY(!g.result());
        QVERIFY(clock.elapsed() < 1000);  // nothing to wait for once the keyring is known absent
        store.remove(QStringLiteral("a"));
        QVERIFY(!store.read(QStringLiteral("a")));
        QCOMPARE(store.jobsInFlight(), 0);  // nothing goes to a keyring that is not there

        // The registry tells the UI the keys are not kept.
        QTemporaryDir dir;
        QSettings settings(dir.filePath(QStringLiteral("s.ini")), QSettings::IniFormat);
        EngineRegistry reg(settings, store);
        QVERIFY(!reg.keysPersistent());
        QString error;
        const QString id = reg.add(QStringLiteral("Box"), QStringLiteral("http://box:8000/v1"), QStringLiteral("sk-2"), {}, &error);
        QVERIFY2(!id.isEmpty(), qPrintable(error));
        QCOMPARE(reg.endpoint(id)->apiKey, QStringLiteral("sk-2"));
        QVERIFY(reg.engines().value(0).hasKey);

        bool ready = false;
        store.whenReady(this, [&] { ready = true; });
        QTRY_VERIFY_WITH_TIMEOUT(ready, 1000);

        // A second store (the next session) has none of them.
        KeychainSecretStore next(kService);
        QTRY_COMPARE_WITH_TIMEOUT(next.state(), State::SessionOnly, KeychainSecretStore::kCheckTimeoutMs - 2000);
        QVERIFY(!next.read(QStringLiteral("llamadesk/engine/") + id));
    }

    void noSecretServiceFallsBack() {
        // A session bus that knows no services: nothing answers for org.freedesktop.secrets.
        QTemporaryDir dir;
        const QString conf = dir.filePath(QStringLiteral("session.conf"));
        QFile f(conf);
        QVERIFY(f.open(QIODevice::WriteOnly));
        // (An ordinary literal: moc misreads the "//" of a raw string as a comment.)
        f.write(QStringLiteral("<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                               " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                               "<busconfig>\n"
                               "  <type>session</type>\n"
                               "  <listen>unix:tmpdir=%1</listen>\n"
                               "  <auth>EXTERNAL</auth>\n"
                               "  <policy context=\"default\">\n"
                               "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                               "    <allow eavesdrop=\"true\"/>\n"
                               "    <allow own=\"*\"/>\n"
                               "  </policy>\n"
                               "</busconfig>\n")
                    .arg(dir.path())
                    .toUtf8());
        f.close();
        runChild(QStringLiteral("noSecretServiceFallsBack"), conf, {});
    }

    void realKeyring() {
        if (QStandardPaths::findExecutable(QStringLiteral("gnome-keyring-daemon")).isEmpty())
            LD_QSKIP_OR_FAIL_IN_CI("needs gnome-keyring-daemon (Debian: gnome-keyring) for a real Secret Service");
        // --unlock creates the login keyring (the default collection) with this password and
        // leaves it open; the daemon ends with the session bus.
        runChild(QStringLiteral("realKeyringPersists"), {},
                 QStringLiteral("printf test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 3;"));
    }
};

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    if (argc >= 3 && qstrcmp(argv[1], "--child") == 0) {
        KeyringChild child;
        char* childArgs[] = {argv[0], argv[2]};
        return QTest::qExec(&child, 2, childArgs);
    }
    TestKeychainStore test;
    return QTest::qExec(&test, argc, argv);
}

#include "test_keychain_store.moc"
