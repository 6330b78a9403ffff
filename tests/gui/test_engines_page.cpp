// Settings → Engines on the real window: open Settings, switch to the Engines tab, pick the
// LlamaDesk preset (its help line shows), fill in a name, the URL of a local fake OpenAI server
// and a key with the keyboard, add the engine, then "Test connection" lists the server's model,
// asked with that key. The page says keys are kept for this session only (the test's memory
// store). A screenshot is saved (LLAMADESK_SCREENSHOT_DIR or the temp folder).
#include <QDir>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QTemporaryDir>
#include <QTest>

#include "../app/test_remote_fake_server.h"
#include "app/remote/engine_registry.h"
#include "gui/qml_warnings.h"
#include "gui/temp_paths.h"
#include "ui/app_parts.h"

using namespace ld;
using ld::test::FakeOpenAiServer;

namespace {

// Repeater delegates are not QObject children of the page: walk the visual tree.
void findItems(QQuickItem* root, const QString& name, QList<QQuickItem*>* out) {
    if (root->objectName() == name) out->append(root);
    for (QQuickItem* child : root->childItems()) findItems(child, name, out);
}
QQuickItem* onlyItem(QQuickItem* root, const QString& name) {
    QList<QQuickItem*> items;
    findItems(root, name, &items);
    return items.size() == 1 ? items.first() : nullptr;
}

// Focus and the keyboard, as a user without a mouse would: the item need not be scrolled into view.
void press(QQuickWindow* window, QQuickItem* button) {
    button->forceActiveFocus();
    QTest::keyClick(window, Qt::Key_Space);
}
void typeInto(QQuickWindow* window, QQuickItem* field, const QString& text) {
    field->forceActiveFocus();
    QTest::keyClick(window, Qt::Key_A, Qt::ControlModifier);
    QTest::keyClick(window, Qt::Key_Backspace);
    for (const QChar c : text) QTest::keyClick(window, c.toLatin1());  // QTest::keyClicks is for widgets
}

}  // namespace

class TestEnginesPage : public QObject {
    Q_OBJECT
private slots:

    void addEngineAndTestConnection() {
        test::QmlWarnings warnings;
        FakeOpenAiServer server;
        QVERIFY(server.listen());
        server.add("/v1/models", FakeOpenAiServer::json(200, R"({"object":"list","data":[{"id":"stories260K","object":"model","owned_by":"llamadesk"}]})"));

        QTemporaryDir dir;
        ui::AppPaths paths = test::tempPaths(dir);
        paths.sessionOnlyKeys = true;  // never the user's keyring
        ui::AppParts parts(paths);
        QQmlApplicationEngine qml;
        QVERIFY(parts.loadQml(qml));
        auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
        QVERIFY(window);
        QVERIFY(QTest::qWaitForWindowExposed(window));
        window->resize(1120, 740);

        auto* settingsDialog = window->findChild<QObject*>(QStringLiteral("settingsDialog"));
        QVERIFY(settingsDialog);
        QMetaObject::invokeMethod(settingsDialog, "open");
        QTRY_VERIFY(settingsDialog->property("opened").toBool());
        auto* tab = window->findChild<QQuickItem*>(QStringLiteral("settingsEnginesTab"));
        auto* page = window->findChild<QQuickItem*>(QStringLiteral("settingsEnginesPage"));
        QVERIFY(tab && page);
        QVERIFY(!page->isVisible());
        press(window, tab);
        QTRY_VERIFY(page->isVisible());

        QQuickItem* note = onlyItem(page, QStringLiteral("engineKeyStorageNote"));
        QVERIFY(note);
        QVERIFY2(note->property("text").toString().contains(QStringLiteral("kept for this session only")),
                 qPrintable(note->property("text").toString()));

        // The LlamaDesk preset fills in its URL and name and shows how to start the server.
        QQuickItem* presets = onlyItem(page, QStringLiteral("enginePresetBox"));
        QQuickItem* name = onlyItem(page, QStringLiteral("engineNameField"));
        QQuickItem* url = onlyItem(page, QStringLiteral("engineUrlField"));
        QQuickItem* key = onlyItem(page, QStringLiteral("engineKeyField"));
        QQuickItem* help = onlyItem(page, QStringLiteral("enginePresetHelp"));
        QQuickItem* add = onlyItem(page, QStringLiteral("engineAddButton"));
        QVERIFY(presets && name && url && key && help && add);
        QCOMPARE(presets->property("count").toInt(), 6);  // "Other" and the five presets
        presets->setProperty("currentIndex", 5);
        QMetaObject::invokeMethod(presets, "activated", Q_ARG(int, 5));
        QCOMPARE(url->property("text").toString(), QStringLiteral("http://127.0.0.1:8080/v1"));
        QCOMPARE(name->property("text").toString(), QStringLiteral("LlamaDesk server"));
        QVERIFY(help->isVisible());
        QVERIFY(help->property("text").toString().contains(QStringLiteral("llamadesk-cli serve")));

        typeInto(window, name, QStringLiteral("Fake box"));
        typeInto(window, url, server.baseUrl().toString());
        typeInto(window, key, QStringLiteral("sk-gui"));
        QCOMPARE(url->property("text").toString(), server.baseUrl().toString());
        press(window, add);

        QTRY_COMPARE(parts.engines->engines().size(), 1);
        const remote::EngineEntry saved = parts.engines->engines().first();
        QCOMPARE(saved.name, QStringLiteral("Fake box"));
        QCOMPARE(saved.baseUrl, server.baseUrl());
        QCOMPARE(parts.engines->endpoint(saved.id)->apiKey, QStringLiteral("sk-gui"));
        QQuickItem* message = onlyItem(page, QStringLiteral("engineMessage"));
        QVERIFY(message);
        QCOMPARE(message->property("text").toString(), QStringLiteral("Added Fake box."));
        QCOMPARE(name->property("text").toString(), QString());  // the form is cleared for the next one

        QQuickItem* row = nullptr;
        QTRY_VERIFY((row = onlyItem(page, QStringLiteral("engineRow"))) != nullptr);
        QQuickItem* keyState = onlyItem(row, QStringLiteral("engineKeyState"));
        QVERIFY(keyState);
        QCOMPARE(keyState->property("text").toString(), QStringLiteral("API key set"));

        press(window, onlyItem(row, QStringLiteral("engineTestButton")));
        QQuickItem* result = onlyItem(row, QStringLiteral("engineTestResult"));
        QVERIFY(result);
        QTRY_COMPARE_WITH_TIMEOUT(result->property("text").toString(), QStringLiteral("1 model: stories260K"), 15000);
        QVERIFY(result->isVisible());
        // The test, and the model picker listing the new engine, both asked with the key.
        QVERIFY(!server.seen.isEmpty());
        for (const FakeOpenAiServer::Seen& seen : server.seen) {
            QCOMPARE(seen.path, QByteArray("/v1/models"));
            QCOMPARE(seen.authorization, QByteArray("Bearer sk-gui"));
        }

        QTest::qWait(200);
        const QString folder = qEnvironmentVariableIsEmpty("LLAMADESK_SCREENSHOT_DIR") ? QDir::tempPath()
                                                                                      : qEnvironmentVariable("LLAMADESK_SCREENSHOT_DIR");
        const QString shot = folder + QStringLiteral("/llamadesk-settings-engines.png");
        QVERIFY(window->grabWindow().save(shot));
        qInfo("screenshot: %s", qPrintable(shot));
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
    }
};

QTEST_MAIN(TestEnginesPage)
#include "test_engines_page.moc"
