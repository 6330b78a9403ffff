// The main window: the QML loads without warnings (first run and with a model), a conversation
// streams into it, and a screenshot is saved (LLAMADESK_SCREENSHOT_DIR or the temp folder;
// its path is printed) for a person to look at.
#include <QDir>
#include <QFileInfo>
#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "../qt_test_util.h"
#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/history/history_store.h"
#include "app/history/history_types.h"
#include "app/settings/app_settings.h"
#include "gui/qml_warnings.h"
#include "gui/temp_paths.h"
#include "ui/app_parts.h"
#include "ui/workspace.h"

using namespace ld;

namespace {

const QString kStories = QFileInfo(QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf")).absoluteFilePath();

// The screenshots' window size (a laptop's window); the offscreen screen is 800x800.
const QSize kShotSize(1120, 740);

// Delegates of a ListView are not QObject children of it: walk the visual tree.
void findItems(QQuickItem* root, const QString& name, QList<QQuickItem*>* out) {
    if (root->objectName() == name) out->append(root);
    for (QQuickItem* child : root->childItems()) findItems(child, name, out);
}
int visibleItems(QQuickItem* root, const QString& name) {
    QList<QQuickItem*> items;
    findItems(root, name, &items);
    return int(std::count_if(items.begin(), items.end(), [](QQuickItem* i) { return i->isVisible(); }));
}

}  // namespace

class TestUiWindow : public QObject {
    Q_OBJECT
private slots:
    void firstRunLoadsWithoutWarnings() {
        test::QmlWarnings warnings;
        QTemporaryDir dir;
        ui::AppParts parts(test::tempPaths(dir));
        QVERIFY(!parts.loadInitialModel({}));
        QQmlApplicationEngine qml;
        QVERIFY(parts.loadQml(qml));
        auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
        QVERIFY(window);
        QVERIFY(QTest::qWaitForWindowExposed(window));
        window->resize(kShotSize);  // a desktop's window, not 70% of the offscreen 800x800 screen
        QTest::qWait(100);
        auto* firstRun = window->findChild<QQuickItem*>(QStringLiteral("firstRun"));
        QVERIFY(firstRun);
        QVERIFY(firstRun->isVisible());
        const QString folder = qEnvironmentVariableIsEmpty("LLAMADESK_SCREENSHOT_DIR") ? QDir::tempPath()
                                                                                      : qEnvironmentVariable("LLAMADESK_SCREENSHOT_DIR");
        QVERIFY(window->grabWindow().save(folder + QStringLiteral("/llamadesk-first-run.png")));
        qInfo("screenshot: %s/llamadesk-first-run.png", qPrintable(folder));
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
    }

    void conversationStreamsIntoWindow() {
        test::QmlWarnings warnings;
        if (!QFileInfo::exists(kStories)) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        QTemporaryDir dir;
        ui::AppParts parts(test::tempPaths(dir));
        parts.settings->setTemperature(0);
        parts.settings->setMaxTokens(60);
        parts.settings->setTheme(QStringLiteral("light"));
        QSignalSpy loaded(parts.engine.get(), &chat::EngineHost::modelLoaded);
        QVERIFY(parts.loadInitialModel(kStories));
        QQmlApplicationEngine qml;
        QVERIFY(parts.loadQml(qml));
        auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
        QVERIFY(window);
        QVERIFY(QTest::qWaitForWindowExposed(window));
        window->resize(kShotSize);
        QVERIFY(loaded.count() || loaded.wait(30000));
        QCOMPARE(parts.settings->modelPath(), kStories);  // a successful load is remembered

        // Type into the real input box and press Enter.
        auto* input = window->findChild<QQuickItem*>(QStringLiteral("messageInput"));
        QVERIFY(input);
        input->forceActiveFocus();
        for (char c : QByteArrayLiteral("Once upon a time")) QTest::keyClick(window, c);
        QSignalSpy done(parts.chat.get(), &chat::ChatController::replyFinished);
        QTest::keyClick(window, Qt::Key_Return);
        QVERIFY(done.wait(30000));
        QCOMPARE(input->property("text").toString(), QString());
        QCOMPARE(parts.chat->messages().size(), 2);
        QCOMPARE(parts.chat->messages().first().content, QStringLiteral("Once upon a time"));

        // A second exchange with a code block, so the screenshot shows the Markdown rendering.
        parts.settings->setMaxTokens(30);
        QVERIFY(parts.chat->send(QStringLiteral("Show me `code`:\n\n```\nint main() { return 0; }\n```")));
        QVERIFY(done.wait(30000));
        auto* list = window->findChild<QQuickItem*>(QStringLiteral("messageList"));
        QVERIFY(list);
        QTRY_COMPARE(list->property("count").toInt(), 4);
        auto* conversations = window->findChild<QQuickItem*>(QStringLiteral("conversationList"));
        QVERIFY(conversations);
        QTRY_COMPARE(conversations->property("count").toInt(), 1);

        // Esc stops a streaming reply; it is shown as interrupted, with Continue.
        parts.settings->setMaxTokens(400);
        parts.settings->setTemperature(1.0);
        bool escaped = false;
        auto once = connect(parts.chat.get(), &chat::ChatController::replyText, this, [&] {
            if (escaped) return;
            escaped = true;
            QTest::keyClick(window, Qt::Key_Escape);
        });
        QVERIFY(parts.chat->send(QStringLiteral("Tell me a long story")));
        QVERIFY(done.wait(30000));
        disconnect(once);
        QVERIFY(escaped);
        QCOMPARE(parts.chat->messages().last().status, history::MessageStatus::Interrupted);
        QTRY_COMPARE(list->property("count").toInt(), 6);
        QTRY_VERIFY(parts.chat->canContinue());
        QTest::qWait(100);
        QTRY_COMPARE(visibleItems(list, QStringLiteral("continueButton")), 1);
        QTest::qWait(200);
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));

        const QImage shot = window->grabWindow();
        QVERIFY(!shot.isNull());
        const QString folder = qEnvironmentVariableIsEmpty("LLAMADESK_SCREENSHOT_DIR") ? QDir::tempPath()
                                                                                      : qEnvironmentVariable("LLAMADESK_SCREENSHOT_DIR");
        const QString path = folder + QStringLiteral("/llamadesk-window.png");
        QVERIFY(shot.save(path));
        qInfo("screenshot: %s", qPrintable(path));

        parts.settings->setTheme(QStringLiteral("dark"));
        QTest::qWait(100);
        const QString darkPath = folder + QStringLiteral("/llamadesk-window-dark.png");
        QVERIFY(window->grabWindow().save(darkPath));
        qInfo("screenshot: %s", qPrintable(darkPath));

        // This chat's settings: its own system prompt and overrides.
        auto* chatSettings = window->findChild<QObject*>(QStringLiteral("chatSettingsDialog"));
        QVERIFY(chatSettings);
        parts.chat->setChatSettings(QStringLiteral("You tell stories."), {{QStringLiteral("temperature"), 0.3}});
        QMetaObject::invokeMethod(chatSettings, "open");
        QTRY_VERIFY(chatSettings->property("opened").toBool());
        QTest::qWait(200);
        const QString chatSettingsPath = folder + QStringLiteral("/llamadesk-chat-settings.png");
        QVERIFY(window->grabWindow().save(chatSettingsPath));
        qInfo("screenshot: %s", qPrintable(chatSettingsPath));
        QMetaObject::invokeMethod(chatSettings, "close");
        QTRY_VERIFY(!chatSettings->property("visible").toBool());

        // The settings dialog lists the loaded model.
        parts.settings->setTheme(QStringLiteral("light"));
        auto* settingsDialog = window->findChild<QObject*>(QStringLiteral("settingsDialog"));
        QVERIFY(settingsDialog);
        QMetaObject::invokeMethod(settingsDialog, "open");
        auto* modelList = window->findChild<QQuickItem*>(QStringLiteral("modelList"));
        QVERIFY(modelList);
        QTRY_COMPARE(modelList->property("count").toInt(), 1);
        QTest::qWait(300);
        const QString settingsPath = folder + QStringLiteral("/llamadesk-settings.png");
        QVERIFY(window->grabWindow().save(settingsPath));
        qInfo("screenshot: %s", qPrintable(settingsPath));
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
    }

    void failedModelKeepsPreviousAndShowsWhy() {
        if (!QFileInfo::exists(kStories)) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        QTemporaryDir dir;
        ui::AppParts parts(test::tempPaths(dir));
        QSignalSpy loaded(parts.engine.get(), &chat::EngineHost::modelLoaded);
        QVERIFY(parts.loadInitialModel(kStories));
        QVERIFY(loaded.wait(30000));
        QSignalSpy errors(parts.workspace.get(), &ui::Workspace::errorOccurred);
        parts.workspace->selectModel(dir.filePath(QStringLiteral("missing.gguf")));
        QVERIFY(errors.wait(10000));
        QVERIFY(errors.first().first().toString().contains(QStringLiteral("Still using")));
        QCOMPARE(parts.engine->modelPath(), kStories);
        QCOMPARE(parts.settings->modelPath(), kStories);
    }
};

QTEST_MAIN(TestUiWindow)
#include "test_ui_window.moc"
