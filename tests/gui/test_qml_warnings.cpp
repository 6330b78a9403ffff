// The GUI tests' warning collector (qml_warnings.h) itself: it sees a QML error and a warning
// from another thread, leaves out debug lines and the platform's known harmless ones, nests,
// and puts the previous message handler back when it goes.
#include <QQmlComponent>
#include <QQmlEngine>
#include <QTest>
#include <QThread>

#include <memory>
#include <optional>

#include "gui/qml_warnings.h"

using ld::test::QmlWarnings;

namespace {

QtMessageHandler currentHandler() {
    const QtMessageHandler h = qInstallMessageHandler(nullptr);
    qInstallMessageHandler(h);
    return h;
}

}  // namespace

class TestQmlWarnings : public QObject {
    Q_OBJECT
private slots:
    void collectsQmlErrors() {
        QmlWarnings warnings;
        QQmlEngine engine;
        QQmlComponent component(&engine);
        component.setData("import QtQuick\nItem { width: noSuchThing.size }\n", QUrl(QStringLiteral("file:///t/Bad.qml")));
        std::unique_ptr<QObject> item(component.create());
        QVERIFY(item);
        QCOMPARE(warnings.list().size(), 1);
        QVERIFY2(warnings.text().contains(QLatin1String("Bad.qml:2")), qPrintable(warnings.text()));
        QVERIFY2(warnings.text().contains(QLatin1String("noSuchThing")), qPrintable(warnings.text()));
        warnings.clear();
        QVERIFY(warnings.isEmpty());
    }

    void filtersOnlyDebugAndPlatformLines() {
        QmlWarnings warnings;
        qDebug("a debug line");
        qInfo("an info line");
        qWarning("QStandardPaths: XDG_RUNTIME_DIR not set, defaulting to '/tmp/runtime-root'");
        qWarning("This plugin does not support propagateSizeHints()");
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
        qWarning("a warning");
        qCritical("a critical");
        QCOMPARE(warnings.list(), QStringList({QStringLiteral("a warning"), QStringLiteral("a critical")}));
    }

    void seesOtherThreads() {
        QmlWarnings warnings;
        std::unique_ptr<QThread> thread(QThread::create([] {
            for (int i = 0; i < 20; ++i) qWarning("from a worker %d", i);
        }));
        thread->start();
        for (int i = 0; i < 20; ++i) qWarning("from the test %d", i);
        QVERIFY(thread->wait(10000));
        QCOMPARE(warnings.list().size(), 40);
    }

    void nestsAndRestoresTheHandler() {
        const QtMessageHandler before = currentHandler();
        {
            QmlWarnings outer;
            qWarning("first");
            {
                QmlWarnings inner;
                qWarning("second");
                QCOMPARE(inner.list(), QStringList({QStringLiteral("second")}));
            }
            qWarning("third");
            QCOMPARE(outer.list(), QStringList({QStringLiteral("first"), QStringLiteral("second"), QStringLiteral("third")}));
        }
        QVERIFY(currentHandler() == before);
    }

    void endWarningsEndsTheCollector() {
        const QtMessageHandler before = currentHandler();
        std::optional<QmlWarnings> warnings;
        QCOMPARE(ld::test::endWarnings(warnings), QString());  // never started
        warnings.emplace();
        qWarning("one");
        qWarning("two");
        QCOMPARE(ld::test::endWarnings(warnings), QStringLiteral("one\ntwo"));
        QVERIFY(!warnings);
        QVERIFY(currentHandler() == before);
    }
};

QTEST_MAIN(TestQmlWarnings)
#include "test_qml_warnings.moc"
