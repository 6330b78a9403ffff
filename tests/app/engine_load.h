#pragma once
// Loading a model into an EngineHost in a Qt test: waits for the engine thread's answer, and a
// load that fails or hangs fails the test at the wait with the reason (the load's error, or the
// timeout) instead of later, at a comparison with an empty reply.
#include <QSignalSpy>
#include <QTest>

#include "app/chat/engine_host.h"

namespace ld::test {

// True once `config` is loaded; false, with the test failed and the reason logged, otherwise.
// Call it as QVERIFY(loadEngine(...)).
inline bool loadEngine(chat::EngineHost& host, const chat::EngineConfig& config, int timeoutMs = 30000) {
    QSignalSpy loaded(&host, &chat::EngineHost::modelLoaded);
    QSignalSpy failed(&host, &chat::EngineHost::modelLoadFailed);
    host.load(config);
    if (!QTest::qWaitFor([&] { return loaded.count() + failed.count() > 0; }, timeoutMs)) {
        QTest::qFail(qPrintable(QStringLiteral("%1 did not load within %2 s").arg(config.modelPath).arg(timeoutMs / 1000)),
                     __FILE__, __LINE__);
        return false;
    }
    if (!failed.isEmpty()) {
        QTest::qFail(qPrintable(config.modelPath + QStringLiteral(" did not load: ") + failed.first().at(1).toString()),
                     __FILE__, __LINE__);
        return false;
    }
    return true;
}

}  // namespace ld::test
