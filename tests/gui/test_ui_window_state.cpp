// What the window remembers between sessions: the folder its file dialogs open in (Documents,
// else home, then the last folder used) and its geometry (first run: ~70% of the screen; then
// the last position, size and maximized state, through the settings).
#include <QDir>
#include <QFile>
#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQuickWindow>
#include <QScreen>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "app/settings/app_settings.h"
#include "gui/qml_warnings.h"
#include "gui/temp_paths.h"
#include "ui/app_parts.h"

using namespace ld;

namespace {

// HOME and the XDG user-dirs file point into a temporary folder, whose Documents folder is
// "Papers"; the previous environment comes back at the end of the test.
class FakeHome {
public:
    explicit FakeHome(const QTemporaryDir& dir)
        : oldHome_(qgetenv("HOME")), oldConfig_(qgetenv("XDG_CONFIG_HOME")), hadConfig_(qEnvironmentVariableIsSet("XDG_CONFIG_HOME")) {
        home = dir.filePath(QStringLiteral("home"));
        documents = home + QStringLiteral("/Papers");
        QDir().mkpath(documents);
        QDir().mkpath(dir.filePath(QStringLiteral("config")));
        QFile dirs(dir.filePath(QStringLiteral("config/user-dirs.dirs")));
        if (dirs.open(QIODevice::WriteOnly)) dirs.write("XDG_DOCUMENTS_DIR=\"$HOME/Papers\"\n");
        qputenv("HOME", home.toLocal8Bit());
        qputenv("XDG_CONFIG_HOME", dir.filePath(QStringLiteral("config")).toLocal8Bit());
    }
    ~FakeHome() {
        qputenv("HOME", oldHome_);
        if (hadConfig_) qputenv("XDG_CONFIG_HOME", oldConfig_);
        else qunsetenv("XDG_CONFIG_HOME");
    }
    QString home, documents;

private:
    QByteArray oldHome_, oldConfig_;
    bool hadConfig_;
};

QQuickWindow* load(ui::AppParts& parts, QQmlApplicationEngine& qml) {
    if (!parts.loadQml(qml)) return nullptr;
    auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
    if (window && !QTest::qWaitForWindowExposed(window)) return nullptr;
    return window;
}

QUrl folderUrl(const QString& path) { return QUrl::fromLocalFile(QDir(path).absolutePath()); }

}  // namespace

class TestUiWindowState : public QObject {
    Q_OBJECT
    std::optional<test::QmlWarnings> warnings_;  // the running test function's

private slots:
    // Closing a test's window must not end the test.
    void initTestCase() { QGuiApplication::setQuitOnLastWindowClosed(false); }
    // Every function ends without warnings, its window's teardown included.
    void init() { warnings_.emplace(); }
    void cleanup() {
        const QString seen = test::endWarnings(warnings_);
        QVERIFY2(seen.isEmpty(), qPrintable(seen));
    }

    void dialogFolderSettings() {
        QTemporaryDir dir;
        FakeHome fake(dir);
        const QString ini = dir.filePath(QStringLiteral("settings.ini"));
        settings::AppSettings s(ini);
        QSignalSpy folderChanged(&s, &settings::AppSettings::dialogFolderChanged);
        QSignalSpy changed(&s, &settings::AppSettings::changed);

        QCOMPARE(s.dialogFolder(), folderUrl(fake.documents));
        QDir(fake.documents).removeRecursively();
        QCOMPARE(s.dialogFolder(), folderUrl(fake.home));  // no Documents folder: home
        QDir().mkpath(fake.documents);

        // A chosen file counts by its folder, also one a save dialog is about to create.
        const QString reports = dir.filePath(QStringLiteral("reports"));
        QDir().mkpath(reports);
        QFile existing(reports + QStringLiteral("/q3.txt"));
        QVERIFY(existing.open(QIODevice::WriteOnly));
        existing.close();
        s.rememberDialogFolder(QUrl::fromLocalFile(existing.fileName()));
        QCOMPARE(s.dialogFolder(), folderUrl(reports));
        QCOMPARE(folderChanged.count(), 1);
        s.rememberDialogFolder(QUrl::fromLocalFile(reports + QStringLiteral("/new.md")));
        QCOMPARE(folderChanged.count(), 1);  // same folder: nothing to say
        const QString models = dir.filePath(QStringLiteral("models dir"));
        QDir().mkpath(models);
        s.rememberDialogFolder(QUrl::fromLocalFile(models));  // a folder itself
        QCOMPARE(s.dialogFolder(), folderUrl(models));
        QCOMPARE(s.dialogFile(QStringLiteral("My chat.md")), QUrl::fromLocalFile(models + QStringLiteral("/My chat.md")));
        s.rememberDialogFolder(QUrl(QStringLiteral("https://example.org/a.gguf")));  // not a local file: ignored
        s.rememberDialogFolder(QUrl::fromLocalFile(dir.filePath(QStringLiteral("gone/x.gguf"))));  // no such folder
        QCOMPARE(s.dialogFolder(), folderUrl(models));
        QCOMPARE(folderChanged.count(), 2);
        QCOMPARE(changed.count(), 0);  // state, not a preference

        // Persisted; a remembered folder that was deleted falls back to Documents.
        QCOMPARE(settings::AppSettings(ini).dialogFolder(), folderUrl(models));
        QDir(models).removeRecursively();
        QCOMPARE(settings::AppSettings(ini).dialogFolder(), folderUrl(fake.documents));
    }

    void dialogsOpenInTheRememberedFolder() {
        QTemporaryDir dir;
        FakeHome fake(dir);
        ui::AppParts parts(test::tempPaths(dir));
        QQmlApplicationEngine qml;
        QQuickWindow* window = load(parts, qml);
        QVERIFY(window);
        const QStringList dialogs{QStringLiteral("documentsFileDialog"), QStringLiteral("exportFileDialog"),
                                  QStringLiteral("addModelFileDialog"), QStringLiteral("firstRunFileDialog")};
        for (const QString& name : dialogs) {
            QObject* dialog = window->findChild<QObject*>(name);
            QVERIFY2(dialog, qPrintable(name));
            QCOMPARE(dialog->property("currentFolder").toUrl(), folderUrl(fake.documents));
        }

        // Choosing a file in one dialog moves them all to its folder.
        const QString picked = dir.filePath(QStringLiteral("picked"));
        QDir().mkpath(picked);
        QFile note(picked + QStringLiteral("/note.txt"));
        QVERIFY(note.open(QIODevice::WriteOnly));
        note.write("A note.\n");
        note.close();
        // A dialog reports acceptance only while open; the file is chosen before (the dialog
        // opens in its folder) and again in the open dialog.
        QObject* documents = window->findChild<QObject*>(QStringLiteral("documentsFileDialog"));
        QVERIFY(documents->setProperty("selectedFile", QUrl::fromLocalFile(note.fileName())));
        QVERIFY(QMetaObject::invokeMethod(documents, "open"));
        QTRY_VERIFY(documents->property("visible").toBool());
        QVERIFY(documents->setProperty("selectedFile", QUrl::fromLocalFile(note.fileName())));
        QVERIFY(QMetaObject::invokeMethod(documents, "accept"));
        QCOMPARE(parts.settings->dialogFolder(), folderUrl(picked));
        for (const QString& name : dialogs)
            QTRY_COMPARE(window->findChild<QObject*>(name)->property("currentFolder").toUrl(), folderUrl(picked));

        // Export suggests the chat's file name in that folder (it used to be the file system's root).
        auto* sidebar = window->findChild<QObject*>(QStringLiteral("sidebar"));
        QVERIFY(sidebar);
        QVERIFY(QMetaObject::invokeMethod(sidebar, "exportAs", Q_ARG(QVariant, QStringLiteral("md"))));
        QObject* exportDialog = window->findChild<QObject*>(QStringLiteral("exportFileDialog"));
        QCOMPARE(exportDialog->property("selectedFile").toUrl(), QUrl::fromLocalFile(picked + QStringLiteral("/conversation.md")));
        QVERIFY(QMetaObject::invokeMethod(exportDialog, "reject"));
        window->close();
    }

    void geometryFirstRunThenRestored() {
        QTemporaryDir dir;
        const ui::AppPaths paths = test::tempPaths(dir);
        const QRect screen = QGuiApplication::primaryScreen()->geometry();
        const QRect available = QGuiApplication::primaryScreen()->availableVirtualGeometry();
        const QRect saved(screen.x() + 30, screen.y() + 40, 700, 500);
        {
            ui::AppParts parts(paths);
            QQmlApplicationEngine qml;
            QQuickWindow* window = load(parts, qml);
            QVERIFY(window);
            // First run: 70% of the screen, no less than the minimum, no more than the desktop.
            const int minW = window->minimumWidth(), minH = window->minimumHeight();
            QCOMPARE(window->width(), qBound(minW, qRound(screen.width() * 0.7), std::max(minW, available.width())));
            QCOMPARE(window->height(), qBound(minH, qRound(screen.height() * 0.7), std::max(minH, available.height())));
            QVERIFY(screen.contains(window->geometry().center()));
            QVERIFY(parts.settings->windowGeometry().isEmpty());

            window->setGeometry(saved);
            QTest::qWait(500);  // the window takes a geometry once it has been still for a moment
            window->close();
            QCOMPARE(parts.settings->windowGeometry(), saved);
            QCOMPARE(parts.settings->windowMaximized(), false);
        }
        {
            ui::AppParts parts(paths);
            QQmlApplicationEngine qml;
            QQuickWindow* window = load(parts, qml);
            QVERIFY(window);
            QCOMPARE(window->geometry(), saved);
            QCOMPARE(window->visibility(), QWindow::Windowed);

            // Maximized: remembered as such, with the normal geometry kept for later.
            window->showMaximized();
            QTRY_COMPARE(window->visibility(), QWindow::Maximized);
            QTest::qWait(500);
            window->close();
            QCOMPARE(parts.settings->windowMaximized(), true);
            QCOMPARE(parts.settings->windowGeometry(), saved);
        }
        {
            ui::AppParts parts(paths);
            QQmlApplicationEngine qml;
            QQuickWindow* window = load(parts, qml);
            QVERIFY(window);
            QTRY_COMPARE(window->visibility(), QWindow::Maximized);
            window->close();
            QCOMPARE(parts.settings->windowGeometry(), saved);
        }
        {
            // A geometry on a screen that is no longer attached: its size, on this screen.
            ui::AppParts parts(paths);
            parts.settings->saveWindow(QRect(screen.right() + 5000, screen.y() + 10, 660, 480), false);
            QQmlApplicationEngine qml;
            QQuickWindow* window = load(parts, qml);
            QVERIFY(window);
            QCOMPARE(window->size(), QSize(660, 480));
            QVERIFY(screen.contains(window->geometry().center()));
            window->close();
        }
    }
};

QTEST_MAIN(TestUiWindowState)
#include "test_ui_window_state.moc"
