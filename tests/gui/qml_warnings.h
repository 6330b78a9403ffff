#pragma once
// The GUI tests' one collector of warnings: a QML binding error, a TypeError, a missing property,
// a failed import, a Qt warning from our C++ ("Timers cannot be stopped from another thread") all
// come through Qt's message handler, and a test of a window must see none of them.
//
//     void someTest() {
//         ld::test::QmlWarnings warnings;       // installs its handler
//         ... build the window, click ...
//         QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
//     }                                          // the previous handler is back
//
// A test class whose every function must end without warnings keeps one per function, so that
// the teardown of the function's window counts too:
//
//     std::optional<ld::test::QmlWarnings> warnings_;
//     void init() { warnings_.emplace(); }
//     void cleanup() {
//         const QString seen = ld::test::endWarnings(warnings_);
//         QVERIFY2(seen.isEmpty(), qPrintable(seen));
//     }
//
// Construct it inside a test function (or init, initTestCase), not with the test object:
// QTest installs its own handler when it starts running the tests, which would replace one
// installed earlier; and end it there too (cleanup, cleanupTestCase), not when the test object
// goes, after QTest has stopped logging. Every message still goes on to the previous handler (QTest's log), so a
// failure's output shows it in place. Messages may come from any thread (the engine's worker,
// the HTTP servers' threads): the list is guarded by a mutex. Collectors may nest (each sees
// the messages of its lifetime); destroy them in reverse order, as scopes do.
#include <cstdio>
#include <optional>

#include <QMutex>
#include <QMutexLocker>
#include <QString>
#include <QStringList>
#include <QtGlobal>

namespace ld::test {

class QmlWarnings {
public:
    QmlWarnings() {
        QMutexLocker lock(&state().mutex);
        outer_ = state().current;
        state().current = this;
        previous_ = qInstallMessageHandler(&QmlWarnings::handle);
        if (!outer_) state().forward = previous_;
    }
    ~QmlWarnings() {
        QMutexLocker lock(&state().mutex);
        qInstallMessageHandler(previous_);
        state().current = outer_;
    }
    QmlWarnings(const QmlWarnings&) = delete;
    QmlWarnings& operator=(const QmlWarnings&) = delete;

    // The warnings (and criticals) so far, in order, without the known harmless ones.
    QStringList list() const {
        QMutexLocker lock(&state().mutex);
        return messages_;
    }
    bool isEmpty() const { return list().isEmpty(); }
    // One a line, for QVERIFY2's message.
    QString text() const { return list().join(QLatin1Char('\n')); }
    // Forgets what came so far (a test that checks one step of several).
    void clear() {
        QMutexLocker lock(&state().mutex);
        messages_.clear();
    }

    // The one filter. Only lines from the test machine's platform, which no code of ours causes
    // or can avoid, are left out:
    // - "QStandardPaths: XDG_RUNTIME_DIR not set / wrong permissions": the test runs as root or
    //   in a container without a login session.
    // - "This plugin does not support propagateSizeHints()": the offscreen platform plugin the
    //   tests run on (QT_QPA_PLATFORM=offscreen) says so for every window it shows.
    static bool harmless(const QString& msg) {
        return msg.startsWith(QLatin1String("QStandardPaths:")) || msg.contains(QLatin1String("propagateSizeHints"));
    }

private:
    struct State {
        QMutex mutex;
        QmlWarnings* current = nullptr;     // the innermost collector alive
        QtMessageHandler forward = nullptr;  // the handler before the outermost one (QTest's)
    };
    // One per test executable, behind the handler Qt's C API needs as a plain function.
    static State& state() {
        static State s;
        return s;
    }

    static void handle(QtMsgType type, const QMessageLogContext& ctx, const QString& msg) {
        QtMessageHandler forward = nullptr;
        {
            QMutexLocker lock(&state().mutex);
            // Every collector alive records it (none when it came in as the last one went).
            if (type != QtDebugMsg && type != QtInfoMsg && !harmless(msg))
                for (QmlWarnings* c = state().current; c; c = c->outer_) c->messages_ << msg;
            forward = state().forward;
        }
        // Outside the lock: QTest's handler may itself log, and a fatal message aborts there.
        if (forward)
            forward(type, ctx, msg);
        else
            std::fprintf(stderr, "%s\n", qPrintable(qFormatLogMessage(type, ctx, msg)));
    }

    QmlWarnings* outer_ = nullptr;
    QtMessageHandler previous_ = nullptr;
    QStringList messages_;
};

// Ends the collector in `warnings` (the previous handler is back) and returns what it saw, one
// a line; empty when it saw nothing or was not started.
inline QString endWarnings(std::optional<QmlWarnings>& warnings) {
    const QString seen = warnings ? warnings->text() : QString();
    warnings.reset();
    return seen;
}

}  // namespace ld::test
