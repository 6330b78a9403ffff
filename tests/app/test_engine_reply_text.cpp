// The text the app shows for a reply: a new reply without its leading whitespace (the engine
// streams it exactly; trimming is the chat layer's), a continued reply with its leading space,
// the same for summaries through SessionCompletion; and EngineCompletion counting tokens with
// the loaded model's tokenizer, without reading the model file again.
#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QtConcurrent>

#include "../qt_test_util.h"
#include "app/chat/engine_host.h"
#include "app/chat/prompt_builder.h"
#include "app/documents/engine_completion.h"
#include "app/documents/session_completion.h"
#include "inference/backend/backend.h"
#include "inference/core/error.h"
#include "inference/model/llama.h"
#include "inference/session/session.h"
#include "inference/tokenizer/tokenizer.h"

using namespace ld;

namespace {

QString sharedModel(const char* name) { return QStringLiteral(LLAMADESK_SHARED_DIR "/models/") + QLatin1String(name); }

// Missing test data skips locally but fails in CI, where it must be present.
#define REQUIRE_MODEL(path) LD_QREQUIRE_FILE(path)

bool loadInto(chat::EngineHost& host, const QString& path) {
    QSignalSpy loaded(&host, &chat::EngineHost::modelLoaded);
    QSignalSpy failed(&host, &chat::EngineHost::modelLoadFailed);
    chat::EngineConfig c;
    c.modelPath = path;
    c.backend = QStringLiteral("cpu");
    c.threads = 2;
    c.contextLength = 512;
    host.load(c);
    return QTest::qWaitFor([&] { return loaded.count() + failed.count() > 0; }, 30000) && loaded.count() == 1;
}

// What the engine generates for `messages` (+ `prefix`), greedy, exactly as the model gives it.
std::string rawReply(const QString& modelPath, const QList<chat::PromptMessage>& messages, const QString& prefix,
                     int maxTokens) {
    auto model = load_model(modelPath.toStdString());
    auto tok = Tokenizer::create(model->vocab);
    BackendOptions o;
    o.kind = "cpu";
    o.n_threads = 2;
    o.n_ctx = 512;
    auto backend = create_backend(*model, o);
    Session session(*model, *backend, *tok);
    const ChatTemplate tmpl = detect_chat_template(model->vocab, "llama");
    const chat::BuiltPrompt prompt = chat::buildPrompt(tmpl, *tok, messages, prefix, 400);
    GenerateOptions opt;
    opt.max_tokens = maxTokens;
    opt.sampling.temperature = 0;
    opt.stop_strings = chat_stop_strings(tmpl);
    return session.generate(prompt.tokens, opt, nullptr).text;
}

QString withoutLeadingSpace(const QString& s) {
    qsizetype i = 0;
    while (i < s.size() && s[i].isSpace()) ++i;
    return s.mid(i);
}

struct Reply {
    QString streamed;
    chat::GenerationOutcome outcome;
};

Reply generate(chat::EngineHost& host, const chat::GenerationRequest& request) {
    Reply r;
    QSignalSpy finished(&host, &chat::EngineHost::finished);
    auto c = QObject::connect(&host, &chat::EngineHost::text, [&](quint64, const QString& piece) { r.streamed += piece; });
    host.generate(request);
    if (finished.wait(30000)) r.outcome = finished.first().first().value<chat::GenerationOutcome>();
    QObject::disconnect(c);
    return r;
}

chat::GenerationRequest greedyRequest(const QString& user, const QString& prefix, int maxTokens) {
    chat::GenerationRequest r;
    r.messages = {{QStringLiteral("user"), user}};
    r.replyPrefix = prefix;
    r.sampling.temperature = 0;
    r.sampling.repeatPenalty = 1.0;
    r.sampling.maxTokens = maxTokens;
    return r;
}

}  // namespace

class TestEngineReplyText : public QObject {
    Q_OBJECT
private slots:
    // tiny-llama31 (random weights, Llama 3 template) answers "Hi" with newlines first.
    void newReplyIsShownWithoutLeadingWhitespace() {
        const QString path = sharedModel("tiny-llama31-random-f16.gguf");
        REQUIRE_MODEL(path);
        const QList<chat::PromptMessage> msgs = {{QStringLiteral("user"), QStringLiteral("Hi")}};
        const QString raw = QString::fromStdString(rawReply(path, msgs, {}, 30));
        QVERIFY2(!raw.isEmpty() && raw[0].isSpace(), "the raw reply must start with whitespace for this check");
        chat::EngineHost host;
        QVERIFY(loadInto(host, path));
        const Reply r = generate(host, greedyRequest(QStringLiteral("Hi"), {}, 30));
        QVERIFY(!r.outcome.text.isEmpty());
        QCOMPARE(r.outcome.text, withoutLeadingSpace(raw));
        QCOMPARE(r.streamed, r.outcome.text);
    }

    // Continuing "The cat" (stories260K, SentencePiece): the reply's first piece keeps its space,
    // so prefix + reply reads as the model wrote it.
    void continuedReplyKeepsItsLeadingSpace() {
        const QString path = sharedModel("stories260K.gguf");
        REQUIRE_MODEL(path);
        const QString prefix = QStringLiteral("Once upon a time, there was a little girl named Lily. She loved to play");
        const QList<chat::PromptMessage> msgs = {{QStringLiteral("user"), QStringLiteral("Tell me a story.")}};
        const QString raw = QString::fromStdString(rawReply(path, msgs, prefix, 12));
        QVERIFY2(raw.startsWith(QLatin1Char(' ')), qPrintable(QStringLiteral("the continuation must start with a space for this check: '%1'").arg(raw)));
        chat::EngineHost host;
        QVERIFY(loadInto(host, path));
        const Reply r = generate(host, greedyRequest(QStringLiteral("Tell me a story."), prefix, 12));
        QCOMPARE(r.outcome.text, raw);
        QCOMPARE(r.streamed, raw);
    }

    void sessionCompletionTrimsTheReplyStart() {
        const QString path = sharedModel("tiny-llama31-random-f16.gguf");
        REQUIRE_MODEL(path);
        const QList<chat::PromptMessage> msgs = {{QStringLiteral("user"), QStringLiteral("Hi")}};
        const QString raw = QString::fromStdString(rawReply(path, msgs, {}, 30));
        QVERIFY2(!raw.isEmpty() && raw[0].isSpace(), "the raw reply must start with whitespace for this check");
        BackendOptions o;
        o.n_ctx = 512;
        o.n_threads = 2;
        // One call at a time (Session) and parallel calls (the BatchScheduler) alike.
        for (int parallel : {1, 2}) {
            auto c = documents::SessionCompletion::open(path.toStdString(), o, parallel);
            c->sampling().temperature = 0;
            c->sampling().repeat_penalty = 1.0f;
            QString streamed;
            const documents::CompletionResult r =
                c->complete({QString(), QStringLiteral("Hi"), 30}, [&](const QString& p) { streamed += p; }, nullptr);
            QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
            QCOMPARE(r.text, withoutLeadingSpace(raw));
            QCOMPARE(streamed, r.text);
        }
    }

    // The completion uses the engine's tokenizer: it works after the model file is gone (the
    // weights stay mapped), which the old reopening of the GGUF could not.
    void engineCompletionUsesTheLoadedTokenizer() {
        const QString source = sharedModel("stories260K.gguf");
        REQUIRE_MODEL(source);
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("stories.gguf"));
        QVERIFY(QFile::copy(source, path));
        chat::EngineHost host;
        QVERIFY(loadInto(host, path));
        QVERIFY(host.modelInfo().tokenizer);
        QVERIFY(QFile::remove(path));

        documents::EngineCompletion completion(&host, host.modelInfo().tokenizer, host.contextSize());
        const QString text = QStringLiteral("Once upon a time, there was a little dog.");
        QCOMPARE(completion.countTokens(text), int(host.modelInfo().tokenizer->encode(text.toStdString(), false).size()));
        QVERIFY(completion.countTokens(text) > 5);
        QVERIFY(completion.templateOverhead() > 0);
        QCOMPARE(completion.contextSize(), 512);

        QString streamed;
        QMutex mutex;
        QFuture<documents::CompletionResult> call = QtConcurrent::run([&] {
            return completion.complete({QString(), QStringLiteral("Tell me a story."), 24}, [&](const QString& p) {
                QMutexLocker lock(&mutex);
                streamed += p;
            }, nullptr);
        });
        QVERIFY(QTest::qWaitFor([&] { return call.isFinished(); }, 30000));
        const documents::CompletionResult r = call.result();
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QVERIFY(r.generatedTokens > 0);
        QVERIFY(!r.text.isEmpty());
        QCOMPARE(streamed, r.text);
    }

    void engineCompletionWithoutModelFails() {
        chat::EngineHost host;
        QVERIFY(!host.modelInfo().tokenizer);
        try {
            documents::EngineCompletion completion(&host, host.modelInfo().tokenizer, 0);
            QFAIL("constructed without a tokenizer");
        } catch (const Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("no model is loaded")), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestEngineReplyText)
#include "test_engine_reply_text.moc"
