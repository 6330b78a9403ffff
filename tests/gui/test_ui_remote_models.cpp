// Remote models in the model picker: each engine of Settings → Engines is asked for its
// /v1/models off the UI thread, its models are listed after the local files as
// "model — engine" (marked remote, with the server's context), an engine that cannot be
// reached is one row saying so (nothing to choose), and choosing a remote model loads it
// through the Workspace, is remembered and comes back after a restart. The settings dialog
// shows the rows without QML warnings. Against the scripted fake server of the remote tests.
#include <QAbstractItemModelTester>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "../app/test_remote_fake_server.h"
#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/remote/engine_registry.h"
#include "app/settings/app_settings.h"
#include "gui/qml_warnings.h"
#include "ui/app_parts.h"
#include "ui/model_list_model.h"
#include "ui/workspace.h"

using namespace ld;
using ld::test::FakeOpenAiServer;

namespace {

ui::AppPaths tempPaths(const QTemporaryDir& dir) {
    ui::AppPaths p;
    p.database = dir.filePath(QStringLiteral("history.db"));
    p.settingsIni = dir.filePath(QStringLiteral("settings.ini"));
    p.modelsFolder = dir.filePath(QStringLiteral("models"));
    p.sessionOnlyKeys = true;  // never the user's keyring
    return p;
}

QVariant cell(const QAbstractItemModel& m, int row, int role) { return m.data(m.index(row, 0), role); }

}  // namespace

class TestUiRemoteModels : public QObject {
    Q_OBJECT

    FakeOpenAiServer fake_;

    // Two engines: the fake (two models) and one nothing listens on.
    static void addEngines(ui::AppParts& parts, const QUrl& fakeUrl) {
        QString error;
        QVERIFY2(!parts.engines->add(QStringLiteral("Fake"), fakeUrl.toString(), QStringLiteral("sk-1"), {}, &error).isEmpty(), qPrintable(error));
        QVERIFY2(!parts.engines->add(QStringLiteral("Down"), QStringLiteral("http://127.0.0.1:1/v1"), {}, {}, &error).isEmpty(), qPrintable(error));
    }
    static QString fakeKey(ui::AppParts& parts, const QString& model) {
        for (const remote::EngineEntry& e : parts.engines->engines())
            if (e.name == QLatin1String("Fake")) return chat::remoteModelKey(e.id, model);
        return {};
    }

private slots:
    void initTestCase() {
        QVERIFY(fake_.listen());
        fake_.add("/v1/models", FakeOpenAiServer::json(200,
            R"({"object":"list","data":[{"id":"m1","object":"model","max_model_len":8192},{"id":"org/m2","object":"model"}]})"));
    }

    void listsRemoteModelsBesideLocalOnes() {
        QTemporaryDir dir;
        ui::AppParts parts(tempPaths(dir));
        ui::ModelListModel& models = *parts.models;
        QAbstractItemModelTester tester(&models, QAbstractItemModelTester::FailureReportingMode::QtTest);
        addEngines(parts, fake_.baseUrl());
        QSignalSpy read(&models, &ui::ModelListModel::remoteRead);
        models.refreshRemote();
        // At once: one "asking" row per engine; the UI thread is not held while they answer.
        QCOMPARE(models.rowCount(), 2);
        QCOMPARE(cell(models, 0, ui::ModelListModel::ReadyRole).toBool(), false);
        QCOMPARE(cell(models, 0, ui::ModelListModel::RemoteRole).toBool(), true);
        QVERIFY(QTest::qWaitFor([&] { return read.count() == 2; }, 20000));

        QCOMPARE(models.rowCount(), 3);
        QCOMPARE(cell(models, 0, ui::ModelListModel::NameRole).toString(), QStringLiteral("m1 — Fake"));
        QCOMPARE(cell(models, 0, ui::ModelListModel::EngineRole).toString(), QStringLiteral("Fake"));
        QCOMPARE(cell(models, 0, ui::ModelListModel::ContextRole).toInt(), 8192);
        QCOMPARE(cell(models, 0, ui::ModelListModel::ReadyRole).toBool(), true);
        QCOMPARE(cell(models, 0, ui::ModelListModel::PathRole).toString(), fakeKey(parts, QStringLiteral("m1")));
        QCOMPARE(cell(models, 1, ui::ModelListModel::NameRole).toString(), QStringLiteral("org/m2 — Fake"));
        QCOMPARE(models.rowOfPath(fakeKey(parts, QStringLiteral("org/m2"))), 1);
        // The engine that is down: one row saying why, nothing to load.
        QCOMPARE(cell(models, 2, ui::ModelListModel::PathRole).toString(), QString());
        const QString error = cell(models, 2, ui::ModelListModel::ErrorRole).toString();
        QVERIFY2(error.contains(QStringLiteral("Down cannot be reached")) && error.contains(QStringLiteral("connection refused")),
                 qPrintable(error));
        // The key went with the request.
        QVERIFY(std::any_of(fake_.seen.begin(), fake_.seen.end(),
                            [](const FakeOpenAiServer::Seen& s) { return s.path == "/v1/models" && s.authorization == "Bearer sk-1"; }));
    }

    void choosingRemoteModelLoadsAndIsRemembered() {
        test::QmlWarnings warnings;
        QTemporaryDir dir;
        QString key;
        {
            ui::AppParts parts(tempPaths(dir));
            addEngines(parts, fake_.baseUrl());
            key = fakeKey(parts, QStringLiteral("org/m2"));
            QSignalSpy loaded(parts.engine.get(), &chat::EngineHost::modelLoaded);
            parts.workspace->selectModel(key);
            QVERIFY(loaded.wait(20000));
            QCOMPARE(parts.engine->modelName(), QStringLiteral("Fake / org/m2"));
            QCOMPARE(parts.engine->modelPath(), key);
            QVERIFY(parts.engine->modelRemote());
            QCOMPARE(parts.settings->modelPath(), key);

            // The settings dialog shows the remote rows (required roles all there).
            QSignalSpy read(parts.models.get(), &ui::ModelListModel::remoteRead);
            parts.models->refreshRemote();
            QVERIFY(QTest::qWaitFor([&] { return read.count() == 2; }, 20000));
            QQmlApplicationEngine qml;
            QVERIFY(parts.loadQml(qml));
            auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
            QVERIFY(window);
            QVERIFY(QTest::qWaitForWindowExposed(window));
            auto* dialog = window->findChild<QObject*>(QStringLiteral("settingsDialog"));
            QVERIFY(dialog);
            QMetaObject::invokeMethod(dialog, "open");
            auto* list = window->findChild<QQuickItem*>(QStringLiteral("modelList"));
            QVERIFY(list);
            QTRY_COMPARE(list->property("count").toInt(), 3);
            QTest::qWait(200);
            QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));

            // An engine removed meanwhile: said plainly, the model in use stays.
            QSignalSpy errors(parts.workspace.get(), &ui::Workspace::errorOccurred);
            parts.workspace->selectModel(chat::remoteModelKey(QStringLiteral("gone"), QStringLiteral("m1")));
            QCOMPARE(errors.count(), 1);
            QVERIFY(errors.first().first().toString().contains(QStringLiteral("no longer in Settings")));
            QCOMPARE(parts.engine->modelPath(), key);
        }
        // After a restart the remote model is loaded again; a reply cut half-way there is kept,
        // marked interrupted, and the toast says why.
        ui::AppParts again(tempPaths(dir));
        QSignalSpy loaded(again.engine.get(), &chat::EngineHost::modelLoaded);
        QVERIFY(again.loadInitialModel({}));
        QVERIFY(loaded.wait(20000));
        QCOMPARE(again.engine->modelPath(), key);
        fake_.add("/v1/chat/completions", FakeOpenAiServer::stream(
            {R"({"choices":[{"index":0,"delta":{"role":"assistant","content":"Cut"},"finish_reason":null}]})"}));
        QSignalSpy errors(again.workspace.get(), &ui::Workspace::errorOccurred);
        QSignalSpy done(again.chat.get(), &chat::ChatController::replyFinished);
        QVERIFY(again.chat->send(QStringLiteral("Hi")));
        QVERIFY(done.wait(20000));
        QCOMPARE(again.chat->messages().last().content, QStringLiteral("Cut"));
        QCOMPARE(again.chat->messages().last().status, history::MessageStatus::Interrupted);
        QCOMPARE(errors.count(), 1);
        const QString why = errors.first().first().toString();
        QVERIFY2(why.startsWith(QStringLiteral("Fake: ")) && why.contains(QStringLiteral("partial reply is kept")), qPrintable(why));
    }
};

QTEST_MAIN(TestUiRemoteModels)
#include "test_ui_remote_models.moc"
