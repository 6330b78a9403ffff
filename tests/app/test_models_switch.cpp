// Switching models through the engine host, as the settings panel does: 20 switches between
// the two shared models with the process's resident memory measured after each (it must stay
// flat: every previous model is freed), a generation on each new model, and a failed switch
// (truncated file) that keeps the current model usable.
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "../qt_test_util.h"
#include "app/chat/engine_host.h"

using namespace ld::chat;

namespace {

QString sharedModel(const char* name) { return QStringLiteral(LLAMADESK_SHARED_DIR "/models/") + QLatin1String(name); }

qint64 rssBytes() {
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly)) return -1;
    for (const QByteArray& line : f.readAll().split('\n'))
        if (line.startsWith("VmRSS:")) return line.mid(6).trimmed().split(' ').first().toLongLong() * 1024;
    return -1;
}

bool switchTo(EngineHost& host, const QString& path, QString* error = nullptr) {
    QSignalSpy loaded(&host, &EngineHost::modelLoaded);
    QSignalSpy failed(&host, &EngineHost::modelLoadFailed);
    QSignalSpy progress(&host, &EngineHost::loadProgressChanged);
    EngineConfig c;
    c.modelPath = path;
    c.backend = QStringLiteral("cpu");
    c.threads = 2;
    c.contextLength = 256;
    host.load(c);
    if (!QTest::qWaitFor([&] { return loaded.count() + failed.count() > 0; }, 60000)) return false;
    if (error && failed.count()) *error = failed.first().at(1).toString();
    return loaded.count() == 1 && progress.count() >= 2;
}

bool generates(EngineHost& host) {
    QSignalSpy finished(&host, &EngineHost::finished);
    QSignalSpy failed(&host, &EngineHost::failed);
    GenerationRequest r;
    r.messages = {{QStringLiteral("user"), QStringLiteral("Once upon a time")}};
    r.sampling.temperature = 0;
    r.sampling.maxTokens = 4;
    host.generate(r);
    return QTest::qWaitFor([&] { return finished.count() + failed.count() > 0; }, 60000) && finished.count() == 1;
}

}  // namespace

class TestModelsSwitch : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        if (!QFile::exists(sharedModel("stories260K.gguf")) || !QFile::exists(sharedModel("tiny-llama31-random-f16.gguf")))
            LD_QSKIP_OR_FAIL_IN_CI("needs the two shared models in " LLAMADESK_SHARED_DIR "/models (reference models folder absent)");
    }

    void memoryStaysFlatAcross20Switches() {
        EngineHost host;
        const QString models[2] = {sharedModel("stories260K.gguf"), sharedModel("tiny-llama31-random-f16.gguf")};
        QList<qint64> rss;
        for (int i = 0; i < 20; ++i) {
            const QString& path = models[i % 2];
            QVERIFY2(switchTo(host, path), qPrintable(path));
            QCOMPARE(host.modelPath(), path);
            QVERIFY(generates(host));
            rss << rssBytes();
        }
        // The first switches warm up allocator pools and thread stacks; after that, the same
        // two models alternating must not grow the process.
        const qint64 baseline = std::max(rss[2], rss[3]);
        const qint64 peak = *std::max_element(rss.begin() + 4, rss.end());
        QStringList mb;
        for (qint64 b : rss) mb << QString::number(double(b) / 1e6, 'f', 1);
        qInfo("RSS after each of 20 switches (MB): %s", qPrintable(mb.join(QLatin1Char(' '))));
        qInfo("baseline (switches 3-4) %.1f MB, peak (5-20) %.1f MB, growth %.1f MB", double(baseline) / 1e6, double(peak) / 1e6,
              double(peak - baseline) / 1e6);
        QVERIFY2(peak - baseline < 16'000'000, "resident memory grew across model switches");
    }

    void failedSwitchKeepsTheCurrentModel() {
        QTemporaryDir dir;
        QFile src(sharedModel("tiny-llama31-random-f16.gguf"));
        QVERIFY(src.open(QIODevice::ReadOnly));
        QFile truncated(dir.filePath(QStringLiteral("truncated.gguf")));
        QVERIFY(truncated.open(QIODevice::WriteOnly));
        truncated.write(src.read(src.size() / 3));
        truncated.close();

        EngineHost host;
        QVERIFY(switchTo(host, sharedModel("stories260K.gguf")));
        QString error;
        QVERIFY(!switchTo(host, truncated.fileName(), &error));
        QVERIFY2(!error.isEmpty(), "no reason given");
        QCOMPARE(host.modelPath(), sharedModel("stories260K.gguf"));
        QVERIFY(host.modelReady());
        QVERIFY(generates(host));
    }
};

QTEST_GUILESS_MAIN(TestModelsSwitch)
#include "test_models_switch.moc"
