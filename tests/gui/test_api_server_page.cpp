// Settings → API server on the real window: open Settings, switch to the tab, switch the server
// on with the keyboard; the page shows it listening with its URL (the one QNetworkAccessManager
// then reaches), and switching off stops it. No QML warnings on the way.
#include <QEventLoop>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QTemporaryDir>
#include <QTest>

#include "app/server/server_host.h"
#include "app/settings/app_settings.h"
#include "gui/qml_warnings.h"
#include "gui/temp_paths.h"
#include "ui/app_parts.h"

using namespace ld;

namespace {

void press(QQuickWindow* window, QQuickItem* item) {
    item->forceActiveFocus();
    QTest::keyClick(window, Qt::Key_Space);
}

int getStatus(const QString& url) {
    QNetworkAccessManager net;
    QNetworkReply* reply = net.get(QNetworkRequest{QUrl(url)});
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    loop.exec();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    delete reply;
    return status;
}

}  // namespace

class TestApiServerPage : public QObject {
    Q_OBJECT
private slots:
    void switchOnAndOffFromThePage() {
        test::QmlWarnings warnings;
        QTemporaryDir dir;
        ui::AppPaths paths = test::tempPaths(dir);
        paths.sessionOnlyKeys = true;
        ui::AppParts parts(paths);
        QVERIFY(!parts.apiServer->listening());  // off by default
        parts.settings->setApiServerPort(0);     // any free port (the page's field takes 1-65535)
        QQmlApplicationEngine qml;
        QVERIFY(parts.loadQml(qml));
        auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
        QVERIFY(window);
        QVERIFY(QTest::qWaitForWindowExposed(window));

        auto* settingsDialog = window->findChild<QObject*>(QStringLiteral("settingsDialog"));
        QVERIFY(settingsDialog);
        QMetaObject::invokeMethod(settingsDialog, "open");
        QTRY_VERIFY(settingsDialog->property("opened").toBool());
        auto* tab = window->findChild<QQuickItem*>(QStringLiteral("settingsApiServerTab"));
        auto* page = window->findChild<QQuickItem*>(QStringLiteral("settingsApiServerPage"));
        QVERIFY(tab && page);
        press(window, tab);
        QTRY_VERIFY(page->isVisible());

        auto* toggle = page->findChild<QQuickItem*>(QStringLiteral("apiServerEnabled"));
        auto* status = page->findChild<QQuickItem*>(QStringLiteral("apiServerStatus"));
        auto* url = page->findChild<QQuickItem*>(QStringLiteral("apiServerUrl"));
        QVERIFY(toggle && status && url);
        QCOMPARE(status->property("text").toString(), QStringLiteral("Off."));
        QVERIFY(!url->isVisible());

        press(window, toggle);
        QTRY_VERIFY(parts.apiServer->listening());
        QVERIFY(parts.settings->apiServerEnabled());
        const QString shown = url->property("text").toString();
        QCOMPARE(shown, QStringLiteral("http://127.0.0.1:%1/v1").arg(parts.apiServer->boundPort()));
        QTRY_VERIFY(url->isVisible());
        QVERIFY(status->property("text").toString().contains(QString::number(parts.apiServer->boundPort())));
        QCOMPARE(getStatus(shown + QStringLiteral("/models")), 200);  // no model loaded: an empty list

        press(window, toggle);
        QTRY_VERIFY(!parts.apiServer->listening());
        QCOMPARE(status->property("text").toString(), QStringLiteral("Off."));
        QVERIFY(!parts.settings->apiServerEnabled());

        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
    }
};

QTEST_MAIN(TestApiServerPage)
#include "test_api_server_page.moc"
