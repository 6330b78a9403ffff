// A remote model through the app core, as the GUI uses it: EngineHost with a remote config,
// ChatController and DocumentController unchanged on top. Against `llamadesk-cli serve --port 0`
// on stories260K (started here): the chat streams and equals what the API answers the same
// messages, stop, regenerate, the model-written title, a document summary (map steps through
// the concurrent path), the reply records "engine / model", and a server killed while it
// streams leaves the start of its reply, interrupted. Against the scripted fake
// server (test_remote_fake_server.h): a stream cut half-way (the partial reply kept, marked
// interrupted, the reason told), 429 with Retry-After waited out, 500, a stalled first byte,
// and loads that fail plainly (unreachable, 401, unknown model) leaving the model in use.
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <csignal>

#include "app/chat/auto_title.h"
#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/chat/remote_engine.h"
#include "app/documents/document_controller.h"
#include "app/history/history_store.h"
#include "app/remote/remote_client.h"
#include "app/settings/app_settings.h"
#include "qt_test_util.h"
#include "test_remote_fake_server.h"

using namespace ld::chat;
using namespace ld::history;
using ld::test::FakeOpenAiServer;

namespace {

const QString kModel = QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf");

using ld::test::await;

EngineConfig remoteConfig(const QUrl& base, const QString& model, const QString& engineName = QStringLiteral("srv")) {
    EngineConfig c;
    c.remoteEngineId = QStringLiteral("e-1");
    c.remoteEngineName = engineName;
    c.remoteModel = model;
    c.remoteEndpoint.baseUrl = base;
    c.remoteEndpoint.connectTimeoutMs = 3000;
    c.remoteEndpoint.firstByteTimeoutMs = 60000;
    c.remoteEndpoint.idleTimeoutMs = 10000;
    return c;
}

QByteArray delta(const QByteArray& text) {
    return R"({"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":")" + text + R"("},"finish_reason":null}]})";
}
const QByteArray kRole = R"({"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})";
const QByteArray kStop = R"({"object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})";

}  // namespace

class TestRemoteChat : public QObject {
    Q_OBJECT

    QProcess serve_;
    QUrl base_;
    QTemporaryDir dir_;
    std::unique_ptr<HistoryStore> store_;
    std::unique_ptr<EngineHost> engine_;
    std::unique_ptr<ld::settings::AppSettings> settings_;
    std::unique_ptr<ChatController> chat_;
    std::unique_ptr<ld::documents::DocumentController> docs_;

    bool load(const EngineConfig& c) {
        QSignalSpy loaded(engine_.get(), &EngineHost::modelLoaded);
        QSignalSpy failed(engine_.get(), &EngineHost::modelLoadFailed);
        engine_->load(c);
        if (!QTest::qWaitFor([&] { return loaded.count() + failed.count() > 0; }, 30000)) return false;
        if (!failed.isEmpty()) qWarning() << "load failed:" << failed.first().value(1).toString();
        return !loaded.isEmpty();
    }
    QString loadError(const EngineConfig& c) {
        QSignalSpy failed(engine_.get(), &EngineHost::modelLoadFailed);
        engine_->load(c);
        return failed.wait(30000) ? failed.first().value(1).toString() : QStringLiteral("(no failure)");
    }
    bool waitReply() {
        QSignalSpy done(chat_.get(), &ChatController::replyFinished);
        return done.wait(60000);
    }
    bool waitIdle() { return QTest::qWaitFor([&] { return !chat_->busy() && !engine_->generating(); }, 60000); }
    QList<Message> branch() { return await(store_->activeBranch(chat_->conversationId())).value(); }

private slots:
    void initTestCase() {
        LD_QREQUIRE_FILE(kModel);
        serve_.start(QStringLiteral(LLAMADESK_CLI), {"serve", "--port", "0", "--parallel", "4", "-m", kModel});
        QVERIFY2(serve_.waitForStarted(10000), qPrintable(serve_.errorString()));
        QByteArray err;
        static const QRegularExpression listening(QStringLiteral("listening on (http://[0-9.]+:[0-9]+)"));
        for (int waited = 0; waited < 60000 && base_.isEmpty(); waited += 50) {
            serve_.waitForReadyRead(50);
            err += serve_.readAllStandardError();
            const auto m = listening.match(QString::fromUtf8(err));
            if (m.hasMatch()) base_ = QUrl(m.captured(1) + QStringLiteral("/v1"));
            QVERIFY2(serve_.state() == QProcess::Running, err.constData());
        }
        QVERIFY2(!base_.isEmpty(), err.constData());
    }
    void cleanupTestCase() {
        if (serve_.state() != QProcess::NotRunning) {
            serve_.terminate();
            if (!serve_.waitForFinished(10000)) serve_.kill();
            serve_.waitForFinished();
        }
    }
    void init() {
        store_ = std::make_unique<HistoryStore>(dir_.filePath(QStringLiteral("h%1.db").arg(QDateTime::currentMSecsSinceEpoch())));
        QVERIFY(await(store_->opened()).ok());
        engine_ = std::make_unique<EngineHost>();
        settings_ = std::make_unique<ld::settings::AppSettings>(dir_.filePath(QStringLiteral("s.ini")));
        settings_->setTemperature(0);
        settings_->setMaxTokens(20);
        settings_->setSystemPrompt(QString());
        chat_ = std::make_unique<ChatController>(store_.get(), engine_.get(), settings_.get());
        docs_ = std::make_unique<ld::documents::DocumentController>(store_.get(), engine_.get(), chat_.get());
        chat_->newChat();
    }
    void cleanup() {
        docs_.reset();
        chat_.reset();
        engine_.reset();
        store_.reset();
        settings_.reset();
    }

    void loadDescribesTheRemoteModel() {
        QVERIFY(load(remoteConfig(base_, QStringLiteral("stories260K"))));
        QVERIFY(engine_->modelReady());
        QVERIFY(engine_->modelRemote());
        QCOMPARE(engine_->modelName(), QStringLiteral("srv / stories260K"));
        QCOMPARE(engine_->modelPath(), remoteModelKey(QStringLiteral("e-1"), QStringLiteral("stories260K")));
        QCOMPARE(engine_->contextSize(), 512);  // the server's max_model_len
        QVERIFY(!engine_->modelInfo().tokenizer);
        QVERIFY2(engine_->modelDescription().contains(base_.toString()), qPrintable(engine_->modelDescription()));
    }

    void chatStreamsEqualsApiAndTitles() {
        QVERIFY(load(remoteConfig(base_, QStringLiteral("stories260K"))));
        QSignalSpy pieces(chat_.get(), &ChatController::replyText);
        QSignalSpy titled(chat_.get(), &ChatController::titleGenerated);
        QSignalSpy outcomes(engine_.get(), &EngineHost::finished);
        QVERIFY(chat_->send(QStringLiteral("Tell me a story")));
        QVERIFY(waitReply());
        const QList<Message> saved = branch();
        QCOMPARE(saved.size(), 2);
        QCOMPARE(saved[1].status, MessageStatus::Complete);
        QCOMPARE(saved[1].model, QStringLiteral("srv / stories260K"));
        QVERIFY(pieces.count() > 1);  // streamed
        QCOMPARE(saved[1].stats.genTokens, 20);
        QVERIFY(saved[1].stats.promptTokens > 0);

        // The API's own answer to the same messages and sampling.
        ld::remote::RemoteEndpoint ep;
        ep.baseUrl = base_;
        auto api = [&](const GenerationRequest& r) {
            ld::remote::GenerationRequest req;
            req.model = QStringLiteral("stories260K");
            for (const PromptMessage& m : r.messages) req.messages.append({m.role, m.content});
            req.maxTokens = r.sampling.maxTokens;
            req.temperature = r.sampling.temperature;
            req.topP = r.sampling.topP;
            if (r.sampling.seed) req.seed = qint64(r.sampling.seed);
            const ld::remote::GenerationReply reply = ld::remote::RemoteClient(ep).generate(req, {}, nullptr);
            if (!reply.ok()) qWarning() << reply.error;
            return reply.text.trimmed();
        };
        GenerationRequest asked;
        asked.messages = {{QStringLiteral("user"), QStringLiteral("Tell me a story")}};
        asked.sampling = settings_->sampling();
        const QString expected = api(asked);
        QVERIFY(!expected.isEmpty());
        QCOMPARE(saved[1].content, expected);

        // The first exchange is titled by the remote model: the title request's reply is what
        // the API answers it (a story model's may clean up to nothing: the first line stays).
        QVERIFY(QTest::qWaitFor([&] { return outcomes.size() == 2 && !engine_->generating(); }, 30000));
        const GenerationOutcome title = outcomes.at(1).value(0).value<GenerationOutcome>();
        QCOMPARE(title.text.trimmed(), api(titleRequest({}, saved[0].content, saved[1].content)));
        const QString cleaned = cleanTitle(title.text);
        if (!cleaned.isEmpty()) {
            QVERIFY(titled.count() > 0 || titled.wait(10000));
            QCOMPARE(chat_->title(), cleaned);
        } else {
            QCOMPARE(chat_->title(), heuristicTitle(saved[0].content));
        }
        const Conversation c = await(store_->loadConversation(chat_->conversationId())).value().conversation;
        QCOMPARE(c.model, QStringLiteral("srv / stories260K"));
    }

    void stopAndRegenerate() {
        QVERIFY(load(remoteConfig(base_, QStringLiteral("stories260K"))));
        settings_->setMaxTokens(400);
        settings_->setTemperature(1.0);
        bool stopped = false;
        auto c = connect(chat_.get(), &ChatController::replyText, this, [&] {
            if (!stopped) chat_->stop();
            stopped = true;
        });
        QVERIFY(chat_->send(QStringLiteral("Once upon a time")));
        QVERIFY(waitReply());
        disconnect(c);
        QVERIFY(stopped);
        QList<Message> saved = branch();
        QCOMPARE(saved.last().status, MessageStatus::Interrupted);
        QVERIFY(saved.last().stats.genTokens < 400);  // stopped early, not run to the end
        QVERIFY(waitIdle());

        const qint64 first = saved.last().id;
        settings_->setMaxTokens(20);
        chat_->regenerate();
        QVERIFY(waitReply());
        saved = branch();
        QCOMPARE(saved.size(), 2);
        QVERIFY(saved.last().id != first);
        QCOMPARE(saved.last().status, MessageStatus::Complete);
        QCOMPARE(saved.last().model, QStringLiteral("srv / stories260K"));
        QVERIFY(!saved.last().content.isEmpty());
    }

    void documentSummary() {
        QVERIFY(load(remoteConfig(base_, QStringLiteral("stories260K"))));
        QCOMPARE(docs_->remoteMapConcurrency(), 4);
        const QString path = dir_.filePath(QStringLiteral("notes.md"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        for (int s = 1; s <= 4; ++s) {
            f.write(QStringLiteral("# Part %1\n\n").arg(s).toUtf8());
            for (int i = 0; i < 8; ++i)
                f.write(QStringLiteral("Lily and Tom went to the park on day %1 and found a red ball. ").arg(s * 10 + i).toUtf8());
            f.write("\n\n");
        }
        f.close();
        QSignalSpy done(docs_.get(), &ld::documents::DocumentController::summaryFinished);
        QSignalSpy errors(docs_.get(), &ld::documents::DocumentController::errorOccurred);
        docs_->addPaths({path});
        QVERIFY(done.wait(120000));
        QVERIFY2(done.first().value(1).toBool(), errors.isEmpty() ? "" : qPrintable(errors.first().value(0).toString()));
        QVERIFY(QTest::qWaitFor([&] { return chat_->conversationId() != 0 && branch().size() == 2; }, 10000));
        const QList<Message> saved = branch();
        QCOMPARE(saved[1].status, MessageStatus::Complete);
        QCOMPARE(saved[1].model, QStringLiteral("srv / stories260K"));
        QVERIFY(!saved[1].content.trimmed().isEmpty());
    }

    // The GUI's summary on a remote model sends its map steps together (the setting, default 4).
    void summaryMapStepsGoTogether() {
        FakeOpenAiServer fake;
        QVERIFY(fake.listen());
        fake.add("/v1/models", FakeOpenAiServer::json(200, R"({"object":"list","data":[{"id":"big","max_model_len":1024}]})"));
        fake.add("/v1/chat/completions", FakeOpenAiServer::stream({kRole, delta("A note [p. 1]."), kStop, "[DONE]"}, "\n", 150));
        QVERIFY(load(remoteConfig(fake.baseUrl(), QStringLiteral("big"))));
        const QString path = dir_.filePath(QStringLiteral("long.txt"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        for (int i = 0; i < 300; ++i) f.write(QStringLiteral("On day %1 the little dog ran to the big tree and back.\n").arg(i).toUtf8());
        f.close();
        QSignalSpy done(docs_.get(), &ld::documents::DocumentController::summaryFinished);
        docs_->addPaths({path});
        QVERIFY(done.wait(60000));
        QVERIFY(done.first().value(1).toBool());
        qsizetype calls = 0;
        for (const FakeOpenAiServer::Seen& seen : fake.seen) calls += seen.path == "/v1/chat/completions";
        QVERIFY2(calls >= 6, QByteArray::number(calls).constData());  // several map steps and a final one
        QCOMPARE(fake.maxOpen, 4);
    }

    void loadFailuresKeepTheModelInUse() {
        QVERIFY(load(remoteConfig(base_, QStringLiteral("stories260K"))));
        QString e = loadError(remoteConfig(base_, QStringLiteral("nope")));
        QVERIFY2(e.contains(QStringLiteral("srv: the server has no model 'nope'; it offers: stories260K")), qPrintable(e));
        e = loadError(remoteConfig(QUrl(QStringLiteral("http://127.0.0.1:1/v1")), QStringLiteral("m")));
        QVERIFY2(e.contains(QStringLiteral("connection refused")), qPrintable(e));
        FakeOpenAiServer fake;
        QVERIFY(fake.listen());
        fake.add("/v1/models", FakeOpenAiServer::json(401, R"({"error":{"message":"Incorrect API key provided"}})"));
        e = loadError(remoteConfig(fake.baseUrl(), QStringLiteral("m")));
        QVERIFY2(e.contains(QStringLiteral("HTTP 401")) && e.contains(QStringLiteral("API key")), qPrintable(e));
        QCOMPARE(engine_->modelName(), QStringLiteral("srv / stories260K"));
        QVERIFY(!engine_->loading());
    }

    // The real server dies while it streams: the reply keeps what came and is interrupted.
    void serverKilledMidStream() {
        QProcess second;
        second.start(QStringLiteral(LLAMADESK_CLI), {"serve", "--port", "0", "-m", kModel});
        QVERIFY(second.waitForStarted(10000));
        QUrl url;
        QByteArray err;
        static const QRegularExpression listening(QStringLiteral("listening on (http://[0-9.]+:[0-9]+)"));
        for (int waited = 0; waited < 60000 && url.isEmpty() && second.state() == QProcess::Running; waited += 50) {
            second.waitForReadyRead(50);
            err += second.readAllStandardError();
            if (const auto m = listening.match(QString::fromUtf8(err)); m.hasMatch()) url = QUrl(m.captured(1) + QStringLiteral("/v1"));
        }
        QVERIFY2(!url.isEmpty(), err.constData());
        QVERIFY(load(remoteConfig(url, QStringLiteral("stories260K"))));
        settings_->setMaxTokens(400);
        settings_->setTemperature(0);
        QString shown;
        auto c = connect(chat_.get(), &ChatController::replyText, this, [&](qint64, const QString& piece) {
            // Frozen at once, then killed: what was on the wire arrives, then the connection ends.
            if (shown.isEmpty()) {
                ::kill(pid_t(second.processId()), SIGSTOP);
                second.kill();
            }
            shown += piece;
        });
        QVERIFY(chat_->send(QStringLiteral("Once upon a time")));
        QVERIFY(waitReply());
        disconnect(c);
        second.waitForFinished(5000);
        const QList<Message> saved = branch();
        QCOMPARE(saved[1].status, MessageStatus::Interrupted);
        QVERIFY(!saved[1].content.isEmpty());
        QCOMPARE(saved[1].content, shown);
        QVERIFY(chat_->canContinue());
        // What was kept is the start of the whole greedy reply (asked of the other server).
        ld::remote::GenerationRequest req;
        req.model = QStringLiteral("stories260K");
        req.messages = {{QStringLiteral("user"), QStringLiteral("Once upon a time")}};
        req.maxTokens = 300;
        req.temperature = 0.0;
        req.topP = settings_->topP();
        ld::remote::RemoteEndpoint ep;
        ep.baseUrl = base_;
        const ld::remote::GenerationReply full = ld::remote::RemoteClient(ep).generate(req, {}, nullptr);
        QVERIFY2(full.ok(), qPrintable(full.error));
        QVERIFY2(full.text.trimmed().startsWith(shown) && shown.size() < full.text.trimmed().size(),
                 qPrintable(shown + QStringLiteral(" | ") + full.text));
    }

    // The fake server: one model, no /tokenize (so tokens are estimated), scripted replies.
    void faults() {
        FakeOpenAiServer fake;
        QVERIFY(fake.listen());
        fake.add("/v1/models", FakeOpenAiServer::json(200, R"({"object":"list","data":[{"id":"big","max_model_len":8192}]})"));
        // 1: cut half-way; 2: 429 then a reply; 3: 500; 4: headers, then nothing.
        fake.add("/v1/chat/completions", FakeOpenAiServer::stream({kRole, delta("Half"), delta(" a reply")}));
        fake.add("/v1/chat/completions", FakeOpenAiServer::json(429, R"({"error":{"message":"slow down"}})", {"Retry-After: 1"}));
        fake.add("/v1/chat/completions", FakeOpenAiServer::stream({kRole, delta("Fine"), kStop, "[DONE]"}));
        fake.add("/v1/chat/completions", FakeOpenAiServer::json(500, R"({"error":{"message":"engine crashed"}})"));
        FakeOpenAiServer::Script stall;
        stall.steps.append({0, FakeOpenAiServer::head(200, "text/event-stream")});
        stall.close = false;
        fake.add("/v1/chat/completions", stall);
        EngineConfig c = remoteConfig(fake.baseUrl(), QStringLiteral("big"), QStringLiteral("GPU box"));
        c.remoteEndpoint.firstByteTimeoutMs = 1500;
        QVERIFY(load(c));
        QCOMPARE(engine_->contextSize(), 8192);
        {  // a tool prompt rendered to local tokens is refused, plainly, without a request
            QSignalSpy failed(engine_.get(), &EngineHost::failed);
            GenerationRequest tool;
            tool.messages = {{QStringLiteral("user"), QStringLiteral("Hi")}};
            tool.promptTokens = {1, 2, 3};
            const quint64 id = engine_->generate(tool);
            QVERIFY(failed.wait(5000));
            QCOMPARE(failed.first().value(0).toULongLong(), id);
            QVERIFY(failed.first().value(1).toString().contains(QStringLiteral("need a local model")));
            for (const FakeOpenAiServer::Seen& seen : fake.seen) QVERIFY(seen.path != "/v1/chat/completions");
        }

        QSignalSpy outcomes(engine_.get(), &EngineHost::finished);
        QVERIFY(chat_->send(QStringLiteral("Hi")));
        QVERIFY(waitReply());
        // Named by the user: no title request takes one of the scripted replies.
        chat_->renameConversation(chat_->conversationId(), QStringLiteral("Faults"));
        QList<Message> saved = branch();
        QCOMPARE(saved[1].content, QStringLiteral("Half a reply"));
        QCOMPARE(saved[1].status, MessageStatus::Interrupted);
        QVERIFY(chat_->canContinue());
        const auto interrupted = std::find_if(outcomes.begin(), outcomes.end(), [](const QList<QVariant>& a) {
            return a.value(0).value<GenerationOutcome>().stopReason == QLatin1String("interrupted");
        });
        QVERIFY(interrupted != outcomes.end());
        const QString why = interrupted->value(0).value<GenerationOutcome>().error;
        QVERIFY2(why.startsWith(QStringLiteral("GPU box: ")) && why.contains(QStringLiteral("partial reply is kept")), qPrintable(why));
        QVERIFY(waitIdle());

        // 429 with Retry-After: 1 is waited out and the request sent again.
        const qsizetype before = fake.seen.size();
        QElapsedTimer t;
        t.start();
        chat_->regenerate();
        QVERIFY(waitReply());
        saved = branch();
        QCOMPARE(saved[1].content, QStringLiteral("Fine"));
        QCOMPARE(saved[1].status, MessageStatus::Complete);
        QVERIFY(t.elapsed() >= 900);
        QVERIFY(waitIdle());
        QVERIFY(fake.seen.size() - before >= 2);

        QSignalSpy errors(chat_.get(), &ChatController::errorOccurred);
        chat_->regenerate();
        QVERIFY(waitReply());
        saved = branch();
        QCOMPARE(saved[1].status, MessageStatus::Error);
        QVERIFY2(saved[1].error.contains(QStringLiteral("HTTP 500")) && saved[1].error.contains(QStringLiteral("engine crashed")),
                 qPrintable(saved[1].error));
        QVERIFY(!errors.isEmpty());
        QVERIFY(waitIdle());

        t.restart();
        chat_->regenerate();
        QVERIFY(waitReply());
        saved = branch();
        QCOMPARE(saved[1].status, MessageStatus::Error);
        QVERIFY2(saved[1].error.contains(QStringLiteral("first-byte timeout")), qPrintable(saved[1].error));
        QVERIFY(t.elapsed() < 10000);
        // The body of every chat request was messages, never a rendered prompt.
        for (const FakeOpenAiServer::Seen& s : fake.seen)
            if (s.path == "/v1/chat/completions") QVERIFY(s.body.contains("\"messages\":[{\"content\":\"Hi\",\"role\":\"user\"}]"));
    }

    // Continuing an interrupted reply sends its start as the last (assistant) message; the
    // server's text is appended to it, leading space kept.
    void continueSendsTheReplySoFar() {
        FakeOpenAiServer fake;
        QVERIFY(fake.listen());
        fake.add("/v1/models", FakeOpenAiServer::json(200, R"({"object":"list","data":[{"id":"big"}]})"));
        fake.add("/v1/chat/completions", FakeOpenAiServer::stream({kRole, delta("Half")}));
        fake.add("/v1/chat/completions", FakeOpenAiServer::stream({kRole, delta(" and the rest."), kStop, "[DONE]"}));
        QVERIFY(load(remoteConfig(fake.baseUrl(), QStringLiteral("big"))));
        QCOMPARE(engine_->contextSize(), 4096);  // no max_model_len: the default
        QVERIFY(chat_->send(QStringLiteral("Hi")));
        QVERIFY(waitReply());
        QCOMPARE(chat_->messages().last().status, MessageStatus::Interrupted);
        chat_->renameConversation(chat_->conversationId(), QStringLiteral("Continue"));
        QVERIFY(waitIdle());
        chat_->continueReply();
        QVERIFY(waitReply());
        const QList<Message> saved = branch();
        QCOMPARE(saved.size(), 2);
        QCOMPARE(saved[1].content, QStringLiteral("Half and the rest."));
        QCOMPARE(saved[1].status, MessageStatus::Complete);
        QVERIFY(fake.seen.last().body.contains(
            R"("messages":[{"content":"Hi","role":"user"},{"content":"Half","role":"assistant"}])"));
    }

    // A chat with a document on a remote model: the passages for the question travel in its
    // user message, ahead of it, the summary in the system message; the system message and the
    // earlier turns stay as they were sent before (a server's prefix cache keeps them), and the
    // history holds what was typed.
    void documentPassagesGoInTheUserMessage() {
        FakeOpenAiServer fake;
        QVERIFY(fake.listen());
        fake.add("/v1/models", FakeOpenAiServer::json(200, R"({"object":"list","data":[{"id":"big","max_model_len":8192}]})"));
        fake.add("/v1/chat/completions", FakeOpenAiServer::stream({kRole, delta("A note [p. 1]."), kStop, "[DONE]"}));
        QVERIFY(load(remoteConfig(fake.baseUrl(), QStringLiteral("big"))));
        const QString path = dir_.filePath(QStringLiteral("boats.txt"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("The red kite flew over the windmill.\n\nThe blue sailboat drifted past the lighthouse.\n");
        f.close();
        QSignalSpy done(docs_.get(), &ld::documents::DocumentController::summaryFinished);
        docs_->addPaths({path});
        QVERIFY(done.wait(30000));
        QVERIFY(done.first().value(1).toBool());
        QVERIFY(QTest::qWaitFor([&] { return chat_->conversationId() != 0 && branch().size() == 2; }, 10000));
        QVERIFY(waitIdle());
        chat_->setChatSettings(QStringLiteral("Be brief."), {});
        auto sentMessages = [&] {
            for (qsizetype i = fake.seen.size() - 1; i >= 0; --i)
                if (fake.seen[i].path == "/v1/chat/completions")
                    return QJsonDocument::fromJson(fake.seen[i].body).object().value(QStringLiteral("messages")).toArray();
            return QJsonArray();
        };
        const QStringList questions{QStringLiteral("What did the kite fly over?"), QStringLiteral("Where did the sailboat drift?")};
        QJsonArray first;
        for (const QString& q : questions) {
            QVERIFY(chat_->send(q));
            QVERIFY(waitReply());
            const QJsonArray sent = sentMessages();
            QVERIFY(sent.size() >= 4);
            QCOMPARE(sent.first()[QStringLiteral("role")].toString(), QStringLiteral("system"));
            // The chat's system prompt, then the documents' overview with the summary.
            const QString system = sent.first()[QStringLiteral("content")].toString();
            QVERIFY2(system.startsWith(QStringLiteral("Be brief.\n\nThe user attached these documents")), qPrintable(system));
            QVERIFY2(system.contains(QStringLiteral("Summary of boats.txt:\nA note [p. 1].")), qPrintable(system));
            QVERIFY2(!system.contains(QStringLiteral("windmill")), qPrintable(system));
            const QString user = sent.last()[QStringLiteral("content")].toString();
            QCOMPARE(sent.last()[QStringLiteral("role")].toString(), QStringLiteral("user"));
            QVERIFY2(user.startsWith(QStringLiteral("<documents>\n")) && user.endsWith(QStringLiteral("</documents>\n\n") + q),
                     qPrintable(user));
            QVERIFY2(user.contains(q == questions[0] ? QStringLiteral("kite flew over the windmill") : QStringLiteral("sailboat drifted")),
                     qPrintable(user));
            if (first.isEmpty()) {
                first = sent;
                continue;
            }
            // The second request starts as the first did, up to the first question, which is
            // now sent as it was typed.
            for (qsizetype i = 0; i + 1 < first.size(); ++i) QVERIFY(sent[i] == first[i]);
            QCOMPARE(sent[first.size() - 1][QStringLiteral("content")].toString(), questions[0]);
        }
        const QList<Message> saved = branch();
        QCOMPARE(saved.size(), 6);
        QCOMPARE(saved[2].content, questions[0]);
        QCOMPARE(saved[4].content, questions[1]);
    }

    void fitDropsOldestTurns() {
        const QList<PromptMessage> msgs{{"system", QString(40, QLatin1Char('s'))}, {"user", QString(40, 'a')},
                                        {"assistant", QString(40, 'b')}, {"user", QString(40, 'c')}};
        auto count = [](const PromptMessage& m) { return int(m.content.size()); };
        FittedMessages f = fitMessages(msgs, count, 160);
        QCOMPARE(f.messages.size(), 4);
        QCOMPARE(f.droppedMessages, 0);
        f = fitMessages(msgs, count, 100);
        QCOMPARE(f.messages.size(), 2);  // system + newest user turn
        QCOMPARE(f.droppedMessages, 2);
        QCOMPARE(f.tokens, 80);
        QVERIFY(!f.systemShortened);
        f = fitMessages(msgs, count, 60);  // the system message is shortened
        QCOMPARE(f.messages.size(), 2);
        QVERIFY(f.messages[0].content.size() < 40);
        QVERIFY(f.systemShortened && !f.passagesShortened);
        QVERIFY(f.tokens <= 60);
        f = fitMessages(msgs, count, 30);
        QVERIFY(f.messages.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestRemoteChat)
#include "test_remote_chat.moc"
