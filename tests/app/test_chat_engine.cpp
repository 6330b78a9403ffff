// The engine thread: streaming through queued signals with the UI thread free, stop latency,
// failed loads keeping the previous model, context overflow trimming.
#include <QElapsedTimer>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryFile>
#include <QTest>
#include <QTimer>

#include "../qt_test_util.h"
#include "app/chat/engine_host.h"
#include "app/chat/prompt_builder.h"
#include "inference/model/llama.h"
#ifdef LLAMADESK_HAVE_VULKAN
#include "inference/vulkan/vk_backend.h"
#endif

using namespace ld::chat;

namespace {

// Stop latency must stay far below the time the request would otherwise run. The 100 ms product
// goal is measured on an idle machine; a timed unit test on a shared CI machine gets headroom.
constexpr qint64 kStopBoundMs = 400;

QString sharedModel(const char* name) { return QStringLiteral(LLAMADESK_SHARED_DIR "/models/") + QLatin1String(name); }

bool loadInto(EngineHost& host, const QString& path, int contextLength = 512, int batchSize = 0,
              const QString& backend = QStringLiteral("cpu"), QString* error = nullptr) {
    QSignalSpy loaded(&host, &EngineHost::modelLoaded);
    QSignalSpy failed(&host, &EngineHost::modelLoadFailed);
    EngineConfig c;
    c.modelPath = path;
    c.backend = backend;
    c.threads = 2;
    c.contextLength = contextLength;
    c.batchSize = batchSize;
    host.load(c);
    const bool done = QTest::qWaitFor([&] { return loaded.count() + failed.count() > 0; }, 30000);
    if (error && !failed.isEmpty()) *error = failed.first().at(1).toString();
    return done && loaded.count() == 1;
}

GenerationRequest storyRequest(int maxTokens) {
    GenerationRequest r;
    r.messages = {{QStringLiteral("user"), QStringLiteral("Once upon a time")}};
    r.sampling.temperature = 0;
    r.sampling.maxTokens = maxTokens;
    return r;
}

}  // namespace

class TestChatEngine : public QObject {
    Q_OBJECT
private slots:
    void init() {
        if (!QFileInfo::exists(sharedModel("stories260K.gguf")))
            LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
    }

    void streamsInOrderThroughQueuedSignals() {
        EngineHost host;
        QVERIFY(loadInto(host, sharedModel("stories260K.gguf")));
        QVERIFY(host.modelReady());
        QCOMPARE(host.modelInfo().chatTemplate, QStringLiteral("llama2"));

        QString streamed;
        bool onUiThread = true;
        connect(&host, &EngineHost::text, this, [&](quint64, const QString& piece) {
            onUiThread = onUiThread && QThread::currentThread() == thread();
            streamed += piece;
        });
        QSignalSpy finished(&host, &EngineHost::finished);
        int ticks = 0;
        QTimer timer;
        connect(&timer, &QTimer::timeout, this, [&] { ++ticks; });
        timer.start(1);

        QElapsedTimer call;
        call.start();
        const quint64 id = host.generate(storyRequest(200));
        // The call only queues the request: nothing has been generated on this thread.
        QVERIFY(call.elapsed() < 50);
        QVERIFY(streamed.isEmpty());
        QVERIFY(host.generating());
        QVERIFY(finished.wait(30000));
        const auto out = finished.first().first().value<GenerationOutcome>();
        QCOMPARE(out.id, id);
        QVERIFY(onUiThread);
        QVERIFY(!out.text.isEmpty());
        QCOMPARE(streamed, out.text);  // every piece arrived, in order
        QVERIFY(out.genTokens > 0);
        QVERIFY(out.genTps > 0);
        QVERIFY(out.ttftMs > 0);
        QVERIFY(!host.generating());
        QVERIFY2(ticks > 0, "the UI thread's event loop kept running while generating");
    }

    void stopTakesEffectWithin100ms() {
        // Random weights rarely end a reply on their own, and each token takes a few ms.
        if (!QFileInfo::exists(sharedModel("tiny-llama31-random-f16.gguf"))) LD_QSKIP_OR_FAIL_IN_CI("needs tiny-llama31-random-f16.gguf");
        EngineHost host;
        QVERIFY(loadInto(host, sharedModel("tiny-llama31-random-f16.gguf")));
        QSignalSpy finished(&host, &EngineHost::finished);
        QElapsedTimer sinceStop;
        int pieces = 0;
        connect(&host, &EngineHost::text, this, [&](quint64, const QString&) {
            if (++pieces == 3) {
                host.stop();
                sinceStop.start();
            }
        });
        GenerationRequest r = storyRequest(100000);
        r.sampling.temperature = 1.0;
        host.generate(r);
        QVERIFY(finished.wait(30000));
        QVERIFY(sinceStop.isValid());
        const qint64 latency = sinceStop.elapsed();
        const auto out = finished.first().first().value<GenerationOutcome>();
        QVERIFY(out.cancelled);
        QCOMPARE(out.stopReason, QStringLiteral("cancelled"));
        // The product goal is 100 ms (met on an idle machine: see the issue note); the bound here
        // has room for a loaded 2-core CI machine. Without a working stop the reply would run on
        // for 100,000 tokens, far past it.
        qInfo("stop latency while generating: %lld ms", static_cast<long long>(latency));
        QVERIFY2(latency < kStopBoundMs, qPrintable(QStringLiteral("stopped after %1 ms").arg(latency)));
    }

    void stopDuringLongPromptWithin100ms() {
        // One token per forward call: each computes the 128k-entry logits, so reading a long
        // prompt takes seconds, and a stop must land between chunks, not after the prompt.
        if (!QFileInfo::exists(sharedModel("tiny-llama31-random-f16.gguf"))) LD_QSKIP_OR_FAIL_IN_CI("needs tiny-llama31-random-f16.gguf");
        EngineHost host;
        QVERIFY(loadInto(host, sharedModel("tiny-llama31-random-f16.gguf"), 1024, 1));
        const int sentences = std::max(4, (host.contextSize() - 64) * 3 / 4 / 11);
        GenerationRequest r = storyRequest(16);
        r.messages.first().content = QStringLiteral("The quick brown fox jumps over the lazy dog. ").repeated(sentences);
        QSignalSpy finished(&host, &EngineHost::finished);
        QElapsedTimer sinceStop;
        int lastDone = 0, total = 0;
        bool ordered = true;
        connect(&host, &EngineHost::promptProgress, this, [&](quint64, int done, int all) {
            ordered = ordered && done > lastDone;
            lastDone = done;
            total = all;
            if (done >= 24 && !sinceStop.isValid()) {
                host.stop();
                sinceStop.start();
            }
        });
        host.generate(r);
        QVERIFY(finished.wait(60000));
        QVERIFY2(sinceStop.isValid(), "no prompt progress was reported");
        const qint64 latency = sinceStop.elapsed();
        const auto out = finished.first().first().value<GenerationOutcome>();
        QVERIFY(ordered);
        QVERIFY2(lastDone < total - 1, qPrintable(QStringLiteral("read %1 of %2 prompt tokens").arg(lastDone).arg(total)));
        QVERIFY(out.cancelled);
        QCOMPARE(out.genTokens, 0);
        qInfo("stop latency while reading the prompt: %lld ms", static_cast<long long>(latency));
        QVERIFY2(latency < kStopBoundMs, qPrintable(QStringLiteral("stopped after %1 ms").arg(latency)));
    }

    void chunkedPromptGivesTheSameReply() {
        // Reading the prompt in chunks of 3 must leave the same cache as one batch.
        auto greedy = [&](int batch) {
            EngineHost host;
            if (!loadInto(host, sharedModel("stories260K.gguf"), 512, batch)) return QStringLiteral("<load failed>");
            QSignalSpy finished(&host, &EngineHost::finished);
            GenerationRequest r = storyRequest(40);
            r.messages.first().content = QStringLiteral("Once upon a time there was a little dog who liked to run in the park");
            host.generate(r);
            if (!finished.wait(30000)) return QStringLiteral("<timeout>");
            return finished.first().first().value<GenerationOutcome>().text;
        };
        const QString whole = greedy(0);
        QVERIFY(!whole.isEmpty());
        QCOMPARE(greedy(3), whole);
    }

    void vulkanBackendRepliesAsTheCpu() {
        // The GPU path as the app runs it: the Vulkan backend built, used and destroyed on the
        // engine thread, a prompt read in chunks, greedy tokens streamed back (lavapipe in CI).
#ifdef LLAMADESK_HAVE_VULKAN
        std::string why;
        bool usable = false;
        for (const ld::VulkanDeviceLine& d : ld::describe_vulkan_devices(&why))
            usable = usable || d.json.find("\"usable\": true") != std::string::npos;
        if (!usable) QSKIP(qPrintable(QStringLiteral("no usable Vulkan device: ") + QString::fromStdString(why)));
#else
        QSKIP("built without the Vulkan backend");
#endif
        auto greedy = [&](const QString& backend, QString* error) {
            EngineHost host;
            if (!loadInto(host, sharedModel("stories260K.gguf"), 512, 0, backend, error)) return QString();
            if (host.modelInfo().backend.isEmpty() || !host.modelInfo().backend.startsWith(backend))
                return QStringLiteral("<ran on %1>").arg(host.modelInfo().backend);
            QSignalSpy finished(&host, &EngineHost::finished);
            QString streamed;
            connect(&host, &EngineHost::text, this, [&](quint64, const QString& piece) { streamed += piece; });
            GenerationRequest r = storyRequest(60);
            r.messages.first().content = QStringLiteral("Once upon a time there was a little dog who liked to run in the park");
            host.generate(r);
            if (!finished.wait(60000)) return QStringLiteral("<timeout>");
            const QString text = finished.first().first().value<GenerationOutcome>().text;
            return streamed == text ? text : QStringLiteral("<streamed text differs>");
        };
        QString error;
        const QString cpu = greedy(QStringLiteral("cpu"), &error);
        QVERIFY2(!cpu.isEmpty(), qPrintable(error));
        const QString gpu = greedy(QStringLiteral("vulkan"), &error);
        QVERIFY2(!gpu.isEmpty(), qPrintable(error));
        QCOMPARE(gpu, cpu);
    }

    void failedLoadKeepsPreviousModel() {
        EngineHost host;
        QVERIFY(loadInto(host, sharedModel("stories260K.gguf")));
        QSignalSpy failed(&host, &EngineHost::modelLoadFailed);
        QTemporaryFile bad;
        QVERIFY(bad.open());
        bad.write("GGUF not really a model");
        bad.flush();
        QVERIFY(!loadInto(host, bad.fileName()));
        QCOMPARE(failed.count(), 1);
        QVERIFY(!failed.first().at(1).toString().isEmpty());
        QVERIFY(!host.loading());
        QCOMPARE(host.modelPath(), sharedModel("stories260K.gguf"));
        QVERIFY(!loadInto(host, QStringLiteral("/nonexistent/model.gguf")));
        // The old model still answers.
        QSignalSpy finished(&host, &EngineHost::finished);
        host.generate(storyRequest(8));
        QVERIFY(finished.wait(30000));
        QVERIFY(!finished.first().first().value<GenerationOutcome>().text.isEmpty());
    }

    void failedBackendBringsPreviousModelBack() {
        // The file is fine but its backend cannot be built: by then the old model has been freed
        // to make room, so the worker must load it again and keep answering with it.
        if (!QFileInfo::exists(sharedModel("tiny-llama31-random-f16.gguf"))) LD_QSKIP_OR_FAIL_IN_CI("needs tiny-llama31-random-f16.gguf");
        EngineHost host;
        QVERIFY(loadInto(host, sharedModel("stories260K.gguf")));
        QSignalSpy before(&host, &EngineHost::finished);
        host.generate(storyRequest(12));
        QVERIFY(before.wait(30000));
        const QString greedyBefore = before.first().first().value<GenerationOutcome>().text;
        QVERIFY(!greedyBefore.isEmpty());
        QSignalSpy failed(&host, &EngineHost::modelLoadFailed);
        QSignalSpy loaded(&host, &EngineHost::modelLoaded);
        EngineConfig c;
        c.modelPath = sharedModel("tiny-llama31-random-f16.gguf");
        c.backend = QStringLiteral("no-such-backend");
        host.load(c);
        QVERIFY(QTest::qWaitFor([&] { return failed.count() > 0; }, 30000));
        QCOMPARE(loaded.count(), 0);
        QVERIFY2(failed.first().at(1).toString().contains(QStringLiteral("no-such-backend")),
                 qPrintable(failed.first().at(1).toString()));
        QVERIFY(host.modelReady());
        QCOMPARE(host.modelPath(), sharedModel("stories260K.gguf"));
        QSignalSpy finished(&host, &EngineHost::finished);
        host.generate(storyRequest(12));
        QVERIFY(finished.wait(30000));
        // Greedy text identical to before the failed switch: the same model answers.
        QCOMPARE(finished.first().first().value<GenerationOutcome>().text, greedyBefore);
    }

    void switchesModels() {
        if (!QFileInfo::exists(sharedModel("tiny-llama31-random-f16.gguf"))) LD_QSKIP_OR_FAIL_IN_CI("needs tiny-llama31-random-f16.gguf");
        EngineHost host;
        QVERIFY(loadInto(host, sharedModel("stories260K.gguf")));
        QVERIFY(loadInto(host, sharedModel("tiny-llama31-random-f16.gguf")));
        QCOMPARE(host.modelInfo().chatTemplate, QStringLiteral("llama3"));
        QSignalSpy finished(&host, &EngineHost::finished);
        host.generate(storyRequest(4));
        QVERIFY(finished.wait(30000));
    }

    void generateWithoutModelFails() {
        EngineHost host;
        QSignalSpy failed(&host, &EngineHost::failed);
        const quint64 id = host.generate(storyRequest(4));
        QVERIFY(failed.wait(5000));
        QCOMPARE(failed.first().first().toULongLong(), id);
        QVERIFY(failed.first().at(1).toString().contains(QStringLiteral("No model")));
    }

    void overflowKeepsSystemPromptAndRecentTurns() {
        auto model = ld::load_model(sharedModel("stories260K.gguf").toStdString());
        auto tok = ld::Tokenizer::create(model->vocab);
        QList<PromptMessage> msgs{{QStringLiteral("system"), QStringLiteral("Be brief.")}};
        for (int i = 0; i < 20; ++i) {
            msgs.append({QStringLiteral("user"), QStringLiteral("Tell me about the cat number %1 and the dog.").arg(i)});
            msgs.append({QStringLiteral("assistant"), QStringLiteral("The cat %1 played with the dog all day long.").arg(i)});
        }
        msgs.append({QStringLiteral("user"), QStringLiteral("And the last one?")});
        const BuiltPrompt all = buildPrompt(ld::ChatTemplate::Llama2, *tok, msgs, {}, 1 << 20);
        QCOMPARE(all.droppedMessages, 0);
        const BuiltPrompt trimmed = buildPrompt(ld::ChatTemplate::Llama2, *tok, msgs, {}, 120);
        QVERIFY(trimmed.droppedMessages > 0);
        QVERIFY(trimmed.droppedMessages % 2 == 0);  // whole exchanges: the prompt starts with a user turn
        QVERIFY(!trimmed.tokens.empty() && trimmed.tokens.size() <= 120);
        const std::string text = tok->decode(trimmed.tokens);
        QVERIFY(text.find("Be brief.") != std::string::npos);
        QVERIFY(text.find("And the last one?") != std::string::npos);
        QVERIFY(text.find("cat number 0 ") == std::string::npos);
        QVERIFY(buildPrompt(ld::ChatTemplate::Llama2, *tok, msgs, {}, 5).tokens.empty());
    }
};

QTEST_GUILESS_MAIN(TestChatEngine)
#include "test_chat_engine.moc"
