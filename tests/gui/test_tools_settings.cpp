// Settings → Tools (issue 18): the MCP servers list (mcp::ToolServers, saved as the
// {"mcpServers": ...} file other hosts use) and its view model (ui::ToolsModel, checked by
// QAbstractItemModelTester): add, import, enable, remove, errors, what is saved and read back, the
// "always allow" list keyed by the tool's schema; a real server (@modelcontextprotocol/
// server-everything from npm) started from the page with its state, tool count and log; a server
// that cannot start shows why. The page itself on the real window.
#include <QAbstractItemModelTester>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "app/chat/chat_controller.h"
#include "app/mcp/mcp_host.h"
#include "app/mcp/tool_servers.h"
#include "gui/qml_warnings.h"
#include "mcp/mcp_test_util.h"
#include "ui/app_parts.h"
#include "ui/tools_model.h"

using namespace ld;

namespace {

QVariant role(const ui::ToolsModel& m, int row, ui::ToolsModel::Role r) { return m.data(m.index(row), r); }

void findItems(QQuickItem* root, const QString& name, QList<QQuickItem*>* out) {
    if (root->objectName() == name) out->append(root);
    for (QQuickItem* child : root->childItems()) findItems(child, name, out);
}

QQuickItem* visibleItem(QQuickItem* root, const QString& name) {
    QList<QQuickItem*> items;
    findItems(root, name, &items);
    for (QQuickItem* i : items)
        if (i->isVisible()) return i;
    return nullptr;
}

void click(QQuickWindow* window, QQuickItem* item) {
    QTest::mouseClick(window, Qt::LeftButton, {}, item->mapToScene(QPointF(item->width() / 2, item->height() / 2)).toPoint());
}

QString everythingArgs() { return ld::test::officialServer(QStringLiteral("server-everything")); }

}  // namespace

class TestToolsSettings : public QObject {
    Q_OBJECT
    std::optional<test::QmlWarnings> warnings_;  // the running test function's

private slots:
    // Every function ends without warnings, its window's teardown included.
    void init() { warnings_.emplace(); }
    void cleanup() {
        const QString seen = test::endWarnings(warnings_);
        QVERIFY2(seen.isEmpty(), qPrintable(seen));
    }

    void addImportRemoveAndSave() {
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("mcp-servers.json"));
        {
            mcp::ToolServers servers(file);
            ui::ToolsModel model(&servers);
            QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
            QCOMPARE(model.rowCount(), 0);

            QCOMPARE(model.addCommand(QStringLiteral("files"), QStringLiteral("npx"),
                                      QStringLiteral("-y @modelcontextprotocol/server-filesystem \"/tmp/my docs\""),
                                      QStringLiteral("TOKEN=abc=def\n\nLEVEL=2")),
                     QString());
            QCOMPARE(model.rowCount(), 1);
            QCOMPARE(role(model, 0, ui::ToolsModel::NameRole).toString(), QStringLiteral("files"));
            QCOMPARE(role(model, 0, ui::ToolsModel::TransportRole).toString(), QStringLiteral("stdio"));
            QCOMPARE(role(model, 0, ui::ToolsModel::StateRole).toString(), QStringLiteral("stopped"));  // on demand
            QCOMPARE(servers.servers()[0].config.args,
                     QStringList({QStringLiteral("-y"), QStringLiteral("@modelcontextprotocol/server-filesystem"),
                                  QStringLiteral("/tmp/my docs")}));
            QCOMPARE(servers.servers()[0].config.env.value(QStringLiteral("TOKEN")), QStringLiteral("abc=def"));

            // Errors name the problem and change nothing.
            QVERIFY(model.addCommand(QStringLiteral("files"), QStringLiteral("x"), {}, {}).contains(QStringLiteral("already")));
            QVERIFY(!model.addCommand(QStringLiteral(" "), QStringLiteral("x"), {}, {}).isEmpty());
            QVERIFY(!model.addCommand(QStringLiteral("a"), QStringLiteral("x"), {}, QStringLiteral("NOEQUALS")).isEmpty());
            QVERIFY(!model.addUrl(QStringLiteral("web"), QStringLiteral("not a url")).isEmpty());
            QVERIFY(!model.importJson(QStringLiteral("{\"mcpServers\": {\"bad\": {}}}")).isEmpty());
            QVERIFY(!model.importJson(QStringLiteral("{ nope")).isEmpty());
            QCOMPARE(model.rowCount(), 1);

            QCOMPARE(model.addUrl(QStringLiteral("web"), QStringLiteral("https://example.com/mcp")), QString());
            QCOMPARE(role(model, 1, ui::ToolsModel::TargetRole).toString(), QStringLiteral("https://example.com/mcp"));
            // Another host's file: "files" is replaced, "calc" added switched off.
            QCOMPARE(model.importJson(QStringLiteral(R"({"mcpServers": {
                "files": {"command": "node", "args": ["server.js"], "autoApprove": []},
                "calc": {"command": "calc-mcp", "disabled": true}}})")),
                     QString());
            QCOMPARE(model.rowCount(), 3);
            QCOMPARE(servers.servers()[0].config.command, QStringLiteral("node"));
            QCOMPARE(role(model, 2, ui::ToolsModel::NameRole).toString(), QStringLiteral("calc"));
            QCOMPARE(role(model, 2, ui::ToolsModel::EnabledRole).toBool(), false);
            QCOMPARE(role(model, 2, ui::ToolsModel::StateRole).toString(), QStringLiteral("disabled"));
            QVERIFY(!servers.client(QStringLiteral("calc")));  // not in the host

            QCOMPARE(model.setEnabled(QStringLiteral("web"), false), QString());
            QCOMPARE(model.remove(QStringLiteral("files")), QString());
            QVERIFY(!model.remove(QStringLiteral("files")).isEmpty());
            QCOMPARE(model.rowCount(), 2);

            mcp::PendingCall call{QStringLiteral("calc"), QStringLiteral("add"), "{}", QStringLiteral("schema-1")};
            servers.allowList()->allow(call);
            QTest::qWait(50);  // saved on the next event-loop turn
        }
        // The file is the other hosts' format and reads back the same.
        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonObject root = QJsonDocument::fromJson(f.readAll()).object();
        QVERIFY(root.value(QStringLiteral("mcpServers")).toObject().contains(QStringLiteral("web")));
        QCOMPARE(mcp::parseConfig(QJsonDocument(root).toJson()).servers.size(), 2);

        mcp::ToolServers again(file);
        QCOMPARE(again.loadError(), QString());
        QCOMPARE(again.servers().size(), 2);
        QCOMPARE(again.servers()[0].config.name, QStringLiteral("calc"));
        QCOMPARE(again.servers()[0].enabled, false);
        QCOMPARE(again.servers()[1].enabled, false);  // web, switched off above
        mcp::PendingCall call{QStringLiteral("calc"), QStringLiteral("add"), "{}", QStringLiteral("schema-1")};
        QVERIFY(again.allowList()->allowed(call));
        call.schemaKey = QStringLiteral("schema-2");  // the tool changed: asked again
        QVERIFY(!again.allowList()->allowed(call));
    }

    void unreadableFileIsReportedAndKept() {
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("mcp-servers.json"));
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"mcpServers\": {\"x\": 5}}");
        f.close();
        mcp::ToolServers servers(file);
        ui::ToolsModel model(&servers);
        QVERIFY(model.loadError().contains(QStringLiteral("\"x\"")));
        QCOMPARE(model.rowCount(), 0);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), QByteArray("{\"mcpServers\": {\"x\": 5}}"));  // not overwritten by reading
    }

    void realServerStartsFromThePage() {
        LD_REQUIRE_OFFICIAL_SERVERS();
        QTemporaryDir dir;
        ui::AppPaths p;
        p.database = dir.filePath(QStringLiteral("history.db"));
        p.settingsIni = dir.filePath(QStringLiteral("settings.ini"));
        p.modelsFolder = dir.filePath(QStringLiteral("models"));
        ui::AppParts parts(p);
        QCOMPARE(parts.toolServers->filePath(), dir.filePath(QStringLiteral("mcp-servers.json")));
        QCOMPARE(parts.tools->addCommand(QStringLiteral("everything"), ld::test::nodeExecutable(), everythingArgs(), {}), QString());
        QCOMPARE(parts.tools->addCommand(QStringLiteral("broken"), dir.filePath(QStringLiteral("no-such-program")), {}, {}),
                 QString());
        QAbstractItemModelTester tester(parts.tools.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);

        auto qml = std::make_unique<QQmlApplicationEngine>();
        QVERIFY(parts.loadQml(*qml));
        auto* window = qobject_cast<QQuickWindow*>(qml->rootObjects().first());
        QVERIFY(window && QTest::qWaitForWindowExposed(window));
        window->resize(1120, 740);
        auto* settings = window->findChild<QObject*>(QStringLiteral("settingsDialog"));
        QVERIFY(settings);
        QMetaObject::invokeMethod(settings, "open");
        QTRY_VERIFY(settings->property("opened").toBool());
        QQuickItem* root = window->contentItem()->parentItem() ? window->contentItem()->parentItem() : window->contentItem();
        QQuickItem* tab = visibleItem(root, QStringLiteral("settingsToolsTab"));
        QVERIFY(tab);
        click(window, tab);
        QTRY_VERIFY(visibleItem(root, QStringLiteral("settingsToolsPage")));
        QList<QQuickItem*> rows;
        findItems(root, QStringLiteral("toolServerRow"), &rows);
        QCOMPARE(rows.size(), 2);

        // Started on demand (as a chat would), both end in a clear state.
        bool started = false;
        parts.toolServers->ensureStarted([&] { started = true; });
        QTRY_VERIFY_WITH_TIMEOUT(started, 60000);
        const int ev = 0, br = 1;  // in the order added
        QCOMPARE(role(*parts.tools, ev, ui::ToolsModel::StateRole).toString(), QStringLiteral("ready"));
        QVERIFY(role(*parts.tools, ev, ui::ToolsModel::ToolCountRole).toInt() >= 2);
        QVERIFY(role(*parts.tools, ev, ui::ToolsModel::ToolNamesRole).toString().contains(QStringLiteral("echo")));
        QCOMPARE(role(*parts.tools, br, ui::ToolsModel::StateRole).toString(), QStringLiteral("failed"));
        QVERIFY(!role(*parts.tools, br, ui::ToolsModel::ReasonRole).toString().isEmpty());

        // The page shows it, and the log opens in its dialog.
        QList<QQuickItem*> states;
        findItems(root, QStringLiteral("toolServerState"), &states);
        QStringList texts;
        for (QQuickItem* s : states) texts << s->property("text").toString();
        QVERIFY2(texts.join(QLatin1Char('|')).contains(QStringLiteral("ready")), qPrintable(texts.join(QLatin1Char('|'))));
        QList<QQuickItem*> logButtons;
        findItems(root, QStringLiteral("toolServerLogButton"), &logButtons);
        QCOMPARE(logButtons.size(), 2);
        click(window, logButtons[ev]);
        auto* logDialog = window->findChild<QObject*>(QStringLiteral("serverLogDialog"));
        QVERIFY(logDialog);
        QTRY_VERIFY(logDialog->property("opened").toBool());
        QCOMPARE(visibleItem(root, QStringLiteral("serverLogText"))->property("text").toString(),
                 parts.toolServers->client(QStringLiteral("everything"))->serverLog());

        // Stopped with the app: the server's process group is gone.
        const pid_t group = parts.toolServers->client(QStringLiteral("everything"))->processGroup();
        QVERIFY(group > 0);
        qml.reset();
        parts.tools.reset();
        parts.chat->setToolServers(nullptr);
        parts.toolServers.reset();
        QVERIFY(ld::test::processGroupGone(group));
    }
};

QTEST_MAIN(TestToolsSettings)
#include "test_tools_settings.moc"
