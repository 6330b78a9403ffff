// "Speed up replies" on the real window (issue 19, item 4): the setting sits in Settings →
// General's Engine section with its explanation; choosing prompt lookup and then a draft model
// from the local model files with the keyboard is saved (a second AppSettings on the same file
// reads it). With prompt lookup on, a stories260K chat reply's stats line says how many tokens
// were drafted and accepted, as the reply stored in the history does, and the setting's status
// line names what is in use. No QML warnings on the way. A screenshot of the section is saved
// (LLAMADESK_SCREENSHOT_DIR or the temp folder) for a person to look at.
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
#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/history/history_database.h"
#include "app/settings/app_settings.h"
#include "gui/qml_warnings.h"
#include "ui/app_parts.h"

using namespace ld;

namespace {

const QString kStories = QFileInfo(QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf")).absoluteFilePath();

// Delegates of a ListView are not QObject children of it: walk the visual tree.
void findItems(QQuickItem* root, const QString& name, QList<QQuickItem*>* out) {
    if (root->objectName() == name && root->isVisible()) out->append(root);
    for (QQuickItem* child : root->childItems()) findItems(child, name, out);
}

ui::AppPaths tempPaths(const QTemporaryDir& dir) {
    ui::AppPaths p;
    p.database = dir.filePath(QStringLiteral("history.db"));
    p.settingsIni = dir.filePath(QStringLiteral("settings.ini"));
    p.modelsFolder = dir.filePath(QStringLiteral("models"));
    p.sessionOnlyKeys = true;
    return p;
}

QQuickWindow* windowOf(QQmlApplicationEngine& qml) {
    return qml.rootObjects().isEmpty() ? nullptr : qobject_cast<QQuickWindow*>(qml.rootObjects().first());
}

QQuickItem* openSettings(QQuickWindow* window) {
    auto* dialog = window->findChild<QObject*>(QStringLiteral("settingsDialog"));
    if (!dialog) return nullptr;
    QMetaObject::invokeMethod(dialog, "open");
    if (!QTest::qWaitFor([&] { return dialog->property("opened").toBool(); }, 5000)) return nullptr;
    return window->findChild<QQuickItem*>(QStringLiteral("settingsGeneralPage"));
}

}  // namespace

class TestSpeedUpSetting : public QObject {
    Q_OBJECT
private slots:
    void init() { LD_QREQUIRE_FILE(kStories); }

    void settingIsOnTheGeneralPageAndSaved() {
        test::QmlWarnings warnings;
        QTemporaryDir dir;
        // A local model file to draft with: stories260K, linked into the models folder.
        QVERIFY(QDir().mkpath(dir.filePath(QStringLiteral("models"))));
        const QString draftFile = dir.filePath(QStringLiteral("models/stories260K.gguf"));
        QVERIFY(QFile::link(kStories, draftFile));
        ui::AppParts parts(tempPaths(dir));
        QCOMPARE(parts.settings->speedUp(), QStringLiteral("off"));  // the default
        QQmlApplicationEngine qml;
        QVERIFY(parts.loadQml(qml));
        QQuickWindow* window = windowOf(qml);
        QVERIFY(window);
        QVERIFY(QTest::qWaitForWindowExposed(window));

        QQuickItem* page = openSettings(window);
        QVERIFY(page);
        QTRY_VERIFY(page->isVisible());  // the first tab
        auto* section = page->findChild<QQuickItem*>(QStringLiteral("speedUpSettings"));
        auto* mode = page->findChild<QQuickItem*>(QStringLiteral("speedUpMode"));
        auto* draftBox = page->findChild<QQuickItem*>(QStringLiteral("draftModelBox"));
        auto* hint = page->findChild<QQuickItem*>(QStringLiteral("speedUpHint"));
        QVERIFY(section && mode && draftBox && hint);
        QVERIFY(section->isVisible());
        QCOMPARE(mode->property("currentText").toString(), QStringLiteral("Off"));
        QVERIFY(!draftBox->isVisible());
        const QString explanation = hint->property("text").toString();
        QVERIFY2(explanation.contains(QStringLiteral("vocabulary")) && explanation.contains(QStringLiteral("Llama 3.2 1B")) &&
                     explanation.contains(QStringLiteral("memory")),
                 qPrintable(explanation));

        // The keyboard, as a user without a mouse: Down on the closed box picks the next mode.
        mode->forceActiveFocus();
        QTest::keyClick(window, Qt::Key_Down);
        QTRY_COMPARE(parts.settings->speedUp(), QStringLiteral("lookup"));
        QCOMPARE(mode->property("currentText").toString(), QStringLiteral("Prompt lookup"));
        QCOMPARE(settings::AppSettings(dir.filePath(QStringLiteral("settings.ini"))).speedUp(), QStringLiteral("lookup"));

        QTest::keyClick(window, Qt::Key_Down);
        QTRY_COMPARE(parts.settings->speedUp(), QStringLiteral("draft"));
        QTRY_VERIFY(draftBox->isVisible());
        QTRY_COMPARE(draftBox->property("count").toInt(), 1);  // the local files, once scanned
        QCOMPARE(draftBox->property("displayText").toString(), QStringLiteral("Choose a draft model…"));
        draftBox->forceActiveFocus();
        QTest::keyClick(window, Qt::Key_Down);
        QTRY_COMPARE(QFileInfo(parts.settings->draftModelPath()).fileName(), QStringLiteral("stories260K.gguf"));
        QCOMPARE(draftBox->property("displayText").toString(), QStringLiteral("stories260K.gguf"));
        const settings::AppSettings reread(dir.filePath(QStringLiteral("settings.ini")));
        QCOMPARE(reread.speedUp(), QStringLiteral("draft"));
        QCOMPARE(reread.draftModelPath(), parts.settings->draftModelPath());
        QCOMPARE(reread.engineConfig().speculation, parts.settings->speculation());

        // A screenshot with the section in view, for a person to look at (LLAMADESK_SCREENSHOT_DIR
        // or the temp folder; its path is printed).
        window->resize(1120, 740);  // a laptop's window, as test_ui_window's screenshots
        auto* flick = page->property("contentItem").value<QQuickItem*>();
        if (flick) flick->setProperty("contentY", std::max(0.0, section->mapToItem(flick->property("contentItem").value<QQuickItem*>(), QPointF(0, 0)).y() - 200));
        QTest::qWait(50);
        const QString folder = qEnvironmentVariableIsEmpty("LLAMADESK_SCREENSHOT_DIR") ? QDir::tempPath()
                                                                                      : qEnvironmentVariable("LLAMADESK_SCREENSHOT_DIR");
        QVERIFY(window->grabWindow().save(folder + QStringLiteral("/llamadesk-speed-up-setting.png")));
        qInfo("screenshot: %s/llamadesk-speed-up-setting.png", qPrintable(folder));

        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
    }

    void replyStatsShowTheAcceptance() {
        test::QmlWarnings warnings;
        QTemporaryDir dir;
        ui::AppParts parts(tempPaths(dir));
        parts.settings->setTemperature(0);
        parts.settings->setMaxTokens(80);
        parts.settings->setSpeedUp(QStringLiteral("lookup"));
        QSignalSpy loaded(parts.engine.get(), &chat::EngineHost::modelLoaded);
        QVERIFY(parts.loadInitialModel(kStories));
        QQmlApplicationEngine qml;
        QVERIFY(parts.loadQml(qml));
        QQuickWindow* window = windowOf(qml);
        QVERIFY(window);
        QVERIFY(QTest::qWaitForWindowExposed(window));
        QVERIFY(loaded.count() || loaded.wait(30000));
        QTRY_COMPARE(parts.engine->speculation(), QStringLiteral("prompt lookup"));

        // stories260K repeats these phrases, which prompt lookup finds earlier in the chat.
        QSignalSpy done(parts.chat.get(), &chat::ChatController::replyFinished);
        QVERIFY(parts.chat->send(QStringLiteral("The cat sat. The dog ran. The cat sat. The dog ran. The cat sat. The dog ran.")));
        QVERIFY(done.wait(30000));
        QCOMPARE(parts.chat->messages().size(), 2);
        const history::GenerationStats stats = parts.chat->messages().at(1).stats;
        QVERIFY2(stats.drafted > 0 && stats.accepted > 0 && stats.accepted <= stats.drafted,
                 qPrintable(QStringLiteral("drafted %1, accepted %2").arg(stats.drafted).arg(stats.accepted)));

        const QString expected = QStringLiteral("drafted %1, accepted %2 (%3%)")
                                     .arg(stats.drafted)
                                     .arg(stats.accepted)
                                     .arg(qRound(100.0 * stats.accepted / stats.drafted));
        auto* list = window->findChild<QQuickItem*>(QStringLiteral("messageList"));
        QVERIFY(list);
        QString shown;
        QTRY_VERIFY([&] {
            QList<QQuickItem*> labels;
            findItems(list, QStringLiteral("replyStats"), &labels);
            for (QQuickItem* l : labels)
                if (l->property("text").toString().contains(expected)) shown = l->property("text").toString();
            return !shown.isEmpty();
        }());
        QVERIFY2(shown.contains(QRegularExpression(QStringLiteral("tok/s · drafted"))), qPrintable(shown));
        qInfo("stats line: %s", qPrintable(shown));

        // What the history keeps (the line after a restart).
        const qint64 replyId = parts.chat->messages().at(1).id;
        QString error;
        history::OpenOptions readOnly;
        readOnly.readOnly = true;  // beside the app's own connection, as a second window reads
        readOnly.recoverStreaming = false;
        auto db = history::HistoryDatabase::open(dir.filePath(QStringLiteral("history.db")), nullptr, &error, readOnly);
        QVERIFY2(db, qPrintable(error));
        QTRY_COMPARE(db->message(replyId)->stats.drafted, stats.drafted);
        QCOMPARE(db->message(replyId)->stats.accepted, stats.accepted);
        db.reset();

        // The setting's status line names what is in use.
        QQuickItem* page = openSettings(window);
        QVERIFY(page);
        auto* status = page->findChild<QQuickItem*>(QStringLiteral("speedUpStatus"));
        QVERIFY(status);
        QTRY_COMPARE(status->property("text").toString(), QStringLiteral("In use: prompt lookup"));

        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
    }
};

QTEST_MAIN(TestSpeedUpSetting)
#include "test_speed_up_setting.moc"
