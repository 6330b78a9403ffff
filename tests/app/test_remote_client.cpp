// The remote client against a scripted local server (test_remote_fake_server.h) that replays
// streams recorded in the shapes of vLLM, Ollama's /v1 and llama.cpp's server (role-only first
// delta, keep-alive comments, usage chunk, CRLF, an error object mid-stream) and injects faults:
// a drop mid-stream, 429 with Retry-After (waited out, or reported when too long), 500, 401,
// an unknown model, a stall before the first byte and one mid-stream, an unreachable host and a
// cancel. Each gives the right pieces and outcome, and the partial text is kept. Then the
// summarizer's map steps through RemoteCompletion, 4 at a time, and TLS with a test CA.
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslServer>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "app/documents/summarizer.h"
#include "app/remote/remote_client.h"
#include "app/remote/remote_completion.h"
#include "qt_test_util.h"
#include "test_remote_fake_server.h"

using namespace ld::remote;
using ld::test::FakeOpenAiServer;

namespace {

const QByteArray kVllm[] = {
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})",
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]})",
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}]})",
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"stop","stop_reason":null}]})",
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":12,"total_tokens":14,"completion_tokens":2}})",
    "[DONE]"};

const QByteArray kOllama[] = {
    R"({"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"llama3.1","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]})",
    R"({"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"llama3.1","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":" world"},"finish_reason":null}]})",
    R"({"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"llama3.1","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop"}]})",
    "[DONE]"};

const QByteArray kLlamaCpp[] = {
    R"({"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"created":1,"id":"chatcmpl-x","model":"gpt-3.5-turbo","system_fingerprint":"b4000","object":"chat.completion.chunk"})",
    ": ping",
    R"({"choices":[{"finish_reason":null,"index":0,"delta":{"content":"Hello"}}],"created":1,"id":"chatcmpl-x","model":"gpt-3.5-turbo","object":"chat.completion.chunk"})",
    ": ping",
    R"({"choices":[{"finish_reason":null,"index":0,"delta":{"content":" wörld"}}],"created":1,"id":"chatcmpl-x","model":"gpt-3.5-turbo","object":"chat.completion.chunk"})",
    R"({"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"created":1,"id":"chatcmpl-x","model":"gpt-3.5-turbo","object":"chat.completion.chunk","usage":{"completion_tokens":2,"prompt_tokens":9,"total_tokens":11},"timings":{"predicted_ms":3.1}})",
    "[DONE]"};

QByteArray delta(const QByteArray& text) {
    return R"({"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":")" + text + R"("},"finish_reason":null}]})";
}

template <size_t N>
QList<QByteArray> list(const QByteArray (&a)[N]) {
    return QList<QByteArray>(std::begin(a), std::end(a));
}

GenerationRequest chatRequest(const QString& model = QStringLiteral("m")) {
    GenerationRequest r;
    r.model = model;
    r.messages = {{QStringLiteral("user"), QStringLiteral("Hi")}};
    r.maxTokens = 16;
    return r;
}

struct Run {
    GenerationReply reply;
    QStringList pieces;
    qint64 ms = 0;
};

Run generate(const RemoteEndpoint& ep, const GenerationRequest& req, const std::atomic<bool>* cancel = nullptr,
             const std::function<void(const QString&)>& also = {}) {
    Run run;
    QElapsedTimer t;
    t.start();
    run.reply = RemoteClient(ep).generate(req, [&](const QString& p) {
        run.pieces << p;
        if (also) also(p);
    }, cancel);
    run.ms = t.elapsed();
    return run;
}

}  // namespace

class TestRemoteClient : public QObject {
    Q_OBJECT

    FakeOpenAiServer* server = nullptr;
    RemoteEndpoint ep;

private slots:
    void init() {
        server = new FakeOpenAiServer;
        QVERIFY(server->listen());
        ep = RemoteEndpoint{};
        ep.baseUrl = server->baseUrl();
        ep.connectTimeoutMs = 2000;
        ep.firstByteTimeoutMs = 5000;
        ep.idleTimeoutMs = 5000;
    }
    void cleanup() {
        delete server;
        server = nullptr;
    }

    void vllmStream() {
        ep.apiKey = QStringLiteral("sekret");
        server->add("/v1/chat/completions", FakeOpenAiServer::stream(list(kVllm)));
        const Run r = generate(ep, chatRequest());
        QVERIFY2(r.reply.ok(), qPrintable(r.reply.error));
        QCOMPARE(r.pieces, (QStringList{"Hello", " world"}));
        QCOMPARE(r.reply.text, QStringLiteral("Hello world"));
        QCOMPARE(r.reply.finishReason, QStringLiteral("stop"));
        QCOMPARE(r.reply.promptTokens, 12);
        QCOMPARE(r.reply.completionTokens, 2);
        QCOMPARE(server->seen.size(), 1);
        QCOMPARE(server->seen[0].method, QByteArray("POST"));
        QCOMPARE(server->seen[0].authorization, QByteArray("Bearer sekret"));
        const QJsonObject body = QJsonDocument::fromJson(server->seen[0].body).object();
        QCOMPARE(body.value("model").toString(), QStringLiteral("m"));
        QVERIFY(body.value("stream").toBool());
        QCOMPARE(body.value("messages").toArray().first().toObject().value("content").toString(), QStringLiteral("Hi"));
    }

    void ollamaStream() {
        server->add("/v1/chat/completions", FakeOpenAiServer::stream(list(kOllama), "\n", 5));
        const Run r = generate(ep, chatRequest(QStringLiteral("llama3.1")));
        QVERIFY2(r.reply.ok(), qPrintable(r.reply.error));
        QCOMPARE(r.pieces, (QStringList{"Hello", " world"}));
        QCOMPARE(r.reply.promptTokens, -1);  // Ollama sent no usage
        QVERIFY(server->seen[0].authorization.isEmpty());
    }

    void llamaCppStreamCrlfSplit() {
        // CRLF line ends, keep-alive comments, and the bytes trickled out a few at a time.
        FakeOpenAiServer::Script whole = FakeOpenAiServer::stream(list(kLlamaCpp), "\r\n");
        FakeOpenAiServer::Script split;
        split.steps.append(whole.steps.takeFirst());
        QByteArray body;
        for (const auto& s : whole.steps) body += s.bytes;
        for (int i = 0; i < body.size(); i += 5) split.steps.append({i % 40 == 0 ? 1 : 0, body.mid(i, 5)});
        server->add("/v1/chat/completions", split);
        const Run r = generate(ep, chatRequest());
        QVERIFY2(r.reply.ok(), qPrintable(r.reply.error));
        QCOMPARE(r.reply.text, QStringLiteral("Hello wörld"));
        QCOMPARE(r.pieces.size(), 2);
        QCOMPARE(r.reply.completionTokens, 2);
    }

    void rawCompletionStream() {
        server->add("/v1/completions", FakeOpenAiServer::stream({
            R"({"object":"text_completion","choices":[{"index":0,"text":" upon","logprobs":null,"finish_reason":null}]})",
            R"({"object":"text_completion","choices":[{"index":0,"text":" a time","logprobs":null,"finish_reason":"length"}]})",
            "[DONE]"}));
        GenerationRequest req;
        req.kind = GenerationRequest::Kind::Completion;
        req.model = QStringLiteral("m");
        req.prompt = QStringLiteral("Once");
        const Run r = generate(ep, req);
        QVERIFY2(r.reply.ok(), qPrintable(r.reply.error));
        QCOMPARE(r.reply.text, QStringLiteral(" upon a time"));
        QCOMPARE(r.reply.finishReason, QStringLiteral("length"));
        QCOMPARE(QJsonDocument::fromJson(server->seen[0].body).object().value("prompt").toString(), QStringLiteral("Once"));
    }

    void nonStreamingAnswer() {
        // A server that ignores "stream": true answers with one JSON body.
        server->add("/v1/chat/completions", FakeOpenAiServer::json(200,
            R"({"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Whole"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}})"));
        const Run r = generate(ep, chatRequest());
        QVERIFY2(r.reply.ok(), qPrintable(r.reply.error));
        QCOMPARE(r.pieces, QStringList{"Whole"});
        QCOMPARE(r.reply.promptTokens, 3);
    }

    void errorObjectMidStream() {
        server->add("/v1/chat/completions", FakeOpenAiServer::stream({
            kVllm[0], delta("Partial"), delta(" text"),
            R"({"error":{"object":"error","message":"CUDA out of memory","type":"InternalServerError","code":500}})"}));
        const Run r = generate(ep, chatRequest());
        QCOMPARE(r.reply.end, ReplyEnd::Failed);
        QCOMPARE(r.reply.text, QStringLiteral("Partial text"));
        QVERIFY2(r.reply.error.contains(QStringLiteral("CUDA out of memory")), qPrintable(r.reply.error));
        QVERIFY(r.reply.error.contains(QStringLiteral("partial reply is kept")));
    }

    void dropMidStream() {
        server->add("/v1/chat/completions", FakeOpenAiServer::stream({kVllm[0], delta("Half"), delta(" a reply")}));
        const Run r = generate(ep, chatRequest());
        QCOMPARE(r.reply.end, ReplyEnd::Interrupted);
        QCOMPARE(r.reply.text, QStringLiteral("Half a reply"));
        QVERIFY2(r.reply.error.contains(QStringLiteral("before the reply was complete")), qPrintable(r.reply.error));
    }

    void rateLimitWaitedOut() {
        server->add("/v1/chat/completions", FakeOpenAiServer::json(429, R"({"error":{"message":"slow down"}})", {"Retry-After: 1"}));
        server->add("/v1/chat/completions", FakeOpenAiServer::stream(list(kVllm)));
        const Run r = generate(ep, chatRequest());
        QVERIFY2(r.reply.ok(), qPrintable(r.reply.error));
        QCOMPARE(r.reply.retries, 1);
        QCOMPARE(r.reply.text, QStringLiteral("Hello world"));
        QCOMPARE(server->seen.size(), 2);
        QVERIFY2(r.ms >= 950, QByteArray::number(r.ms).constData());
    }

    void rateLimitTooLongReported() {
        server->add("/v1/chat/completions", FakeOpenAiServer::json(429, R"({"error":{"message":"quota"}})", {"Retry-After: 600"}));
        const Run r = generate(ep, chatRequest());
        QCOMPARE(r.reply.end, ReplyEnd::Failed);
        QCOMPARE(r.reply.httpStatus, 429);
        QVERIFY2(r.reply.error.contains(QStringLiteral("HTTP 429")) && r.reply.error.contains(QStringLiteral("retry after 600 s")),
                 qPrintable(r.reply.error));
        QCOMPARE(server->seen.size(), 1);
        QVERIFY(r.ms < 2000);
    }

    void retriesBounded() {
        ep.maxRetries = 2;
        server->add("/v1/chat/completions", FakeOpenAiServer::json(503, R"({"error":{"message":"queue full"}})", {"Retry-After: 0"}));
        const Run r = generate(ep, chatRequest());
        QCOMPARE(r.reply.end, ReplyEnd::Failed);
        QCOMPARE(server->seen.size(), 3);
        QVERIFY2(r.reply.error.contains(QStringLiteral("busy (HTTP 503): queue full")), qPrintable(r.reply.error));
        QVERIFY(r.reply.error.contains(QStringLiteral("after 2 retries")));
    }

    void serverError500() {
        server->add("/v1/chat/completions", FakeOpenAiServer::json(500, R"({"error":{"message":"engine crashed","type":"server_error"}})"));
        const Run r = generate(ep, chatRequest());
        QCOMPARE(r.reply.end, ReplyEnd::Failed);
        QVERIFY(r.pieces.isEmpty());
        QCOMPARE(r.reply.error, QStringLiteral("the server failed (HTTP 500): engine crashed"));
    }

    void unauthorized401() {
        server->add("/v1/chat/completions", FakeOpenAiServer::json(401, R"({"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}})"));
        const Run r = generate(ep, chatRequest());
        QCOMPARE(r.reply.end, ReplyEnd::Failed);
        QCOMPARE(r.reply.httpStatus, 401);
        QVERIFY2(r.reply.error.contains(QStringLiteral("Incorrect API key provided")) && r.reply.error.contains(QStringLiteral("check the API key")),
                 qPrintable(r.reply.error));
    }

    void unknownModel() {
        server->add("/v1/chat/completions", FakeOpenAiServer::json(404, R"({"object":"error","message":"The model `llama-9000` does not exist.","type":"NotFoundError","param":null,"code":404})"));
        const Run r = generate(ep, chatRequest(QStringLiteral("llama-9000")));
        QCOMPARE(r.reply.end, ReplyEnd::Failed);
        QVERIFY2(r.reply.error.contains(QStringLiteral("The model `llama-9000` does not exist.")), qPrintable(r.reply.error));
        // Opening a completion on it names what the server offers instead.
        server->add("/v1/models", FakeOpenAiServer::json(200, R"({"object":"list","data":[{"id":"llama3.1:8b","object":"model"},{"id":"qwen2.5:7b","object":"model"}]})"));
        QString error;
        QVERIFY(!RemoteCompletion::open(ep, QStringLiteral("llama-9000"), {}, &error));
        QCOMPARE(error, QStringLiteral("the server has no model 'llama-9000'; it offers: llama3.1:8b, qwen2.5:7b"));
    }

    void stallBeforeFirstByte() {
        ep.firstByteTimeoutMs = 400;
        server->add("/v1/chat/completions", FakeOpenAiServer::Script{{}, false});  // reads, never answers
        const Run r = generate(ep, chatRequest());
        QCOMPARE(r.reply.end, ReplyEnd::Failed);
        QVERIFY2(r.reply.error.contains(QStringLiteral("first-byte timeout")), qPrintable(r.reply.error));
        QVERIFY2(r.ms >= 350 && r.ms < 3000, QByteArray::number(r.ms).constData());
    }

    void headersThenSilence() {
        // Headers at once, then nothing (a server still reading a long prompt): the first-byte
        // timeout applies, not the shorter idle one.
        ep.firstByteTimeoutMs = 600;
        ep.idleTimeoutMs = 100;
        FakeOpenAiServer::Script s{{{0, FakeOpenAiServer::head(200, "text/event-stream")}}, false};
        server->add("/v1/chat/completions", s);
        const Run r = generate(ep, chatRequest());
        QCOMPARE(r.reply.end, ReplyEnd::Failed);
        QVERIFY2(r.reply.error.contains(QStringLiteral("first-byte timeout")), qPrintable(r.reply.error));
        QVERIFY2(r.ms >= 550 && r.ms < 3000, QByteArray::number(r.ms).constData());
    }

    void stallMidStream() {
        ep.idleTimeoutMs = 400;
        FakeOpenAiServer::Script s = FakeOpenAiServer::stream({kVllm[0], delta("So far")});
        s.close = false;
        server->add("/v1/chat/completions", s);
        const Run r = generate(ep, chatRequest());
        QCOMPARE(r.reply.end, ReplyEnd::Interrupted);
        QCOMPARE(r.reply.text, QStringLiteral("So far"));
        QVERIFY2(r.reply.error.contains(QStringLiteral("idle timeout")) && r.reply.error.contains(QStringLiteral("partial reply is kept")),
                 qPrintable(r.reply.error));
        QVERIFY2(r.ms < 3000, QByteArray::number(r.ms).constData());
    }

    void unreachableHost() {
        const QUrl url = server->baseUrl();
        server->close();  // nothing listens on that port any more
        ep.baseUrl = url;
        const Run r = generate(ep, chatRequest());
        QCOMPARE(r.reply.end, ReplyEnd::Failed);
        QVERIFY2(r.reply.error.contains(QStringLiteral("connection refused")), qPrintable(r.reply.error));
        const ModelList models = RemoteClient(ep).models();
        QVERIFY(models.error.contains(QStringLiteral("connection refused")));
    }

    void cancelWithinAChunk() {
        QList<QByteArray> events{kVllm[0]};
        for (int i = 0; i < 100; ++i) events << delta("tick ");
        events << "[DONE]";
        server->add("/v1/chat/completions", FakeOpenAiServer::stream(events, "\n", 30));
        std::atomic<bool> cancel{false};
        int n = 0;
        const Run r = generate(ep, chatRequest(), &cancel, [&](const QString&) {
            if (++n == 3) cancel.store(true);
        });
        QCOMPARE(r.reply.end, ReplyEnd::Cancelled);
        QVERIFY(r.reply.error.isEmpty());
        // Noticed before the next piece (or by the 20 ms poll), long before the 3 s the stream takes.
        QCOMPARE(r.pieces.size(), 3);
        QVERIFY(r.reply.text.startsWith(QStringLiteral("tick tick tick")));
        QVERIFY2(r.ms < 1000, QByteArray::number(r.ms).constData());
    }

    void tokenizeAndContext() {
        server->add("/v1/models", FakeOpenAiServer::json(200, R"({"object":"list","data":[{"id":"m","object":"model","max_model_len":2048}]})"));
        server->add("/tokenize", FakeOpenAiServer::json(200, R"({"tokens":[1,2,3,4,5],"count":5,"max_model_len":2048})"));
        QString error;
        auto c = RemoteCompletion::open(ep, QStringLiteral("m"), {}, &error);
        QVERIFY2(c, qPrintable(error));
        QCOMPARE(c->contextSize(), 2048);
        QVERIFY(c->usesServerTokenizer());
        QCOMPARE(c->countTokens(QStringLiteral("anything at all")), 5);
        const qsizetype calls = server->seen.size();
        QCOMPARE(c->countTokens(QStringLiteral("anything at all")), 5);  // cached
        QCOMPARE(server->seen.size(), calls);
        QCOMPARE(QJsonDocument::fromJson(server->seen.last().body).object().value("prompt").toString(), QStringLiteral("anything at all"));
        // A server without /tokenize (Ollama) and without max_model_len: the estimate, 4096.
        FakeOpenAiServer other;
        QVERIFY(other.listen());
        other.add("/v1/models", FakeOpenAiServer::json(200, R"({"object":"list","data":[{"id":"m","object":"model"}]})"));
        RemoteEndpoint ep2 = ep;
        ep2.baseUrl = other.baseUrl();
        auto d = RemoteCompletion::open(ep2, QStringLiteral("m"), {}, &error);
        QVERIFY2(d, qPrintable(error));
        QVERIFY(!d->usesServerTokenizer());
        QCOMPARE(d->contextSize(), 4096);
        QCOMPARE(d->countTokens(QStringLiteral("abcdef")), 2);
    }

    // The summarizer's map steps go out 4 at a time through RemoteCompletion; every chunk gets
    // its note and the final summary streams. The summarizer blocks, so it runs on a thread
    // while this one serves.
    void summaryMapStepsConcurrent() {
        server->add("/v1/models", FakeOpenAiServer::json(200, R"({"object":"list","data":[{"id":"m","object":"model","max_model_len":1024}]})"));
        // Every answer takes 400 ms, so concurrent requests overlap even on a loaded machine.
        FakeOpenAiServer::Script answer = FakeOpenAiServer::stream({kVllm[0], delta("A note [p. 1]."), kVllm[3], "[DONE]"}, "\n", 100);
        server->add("/v1/chat/completions", answer);
        QString error;
        std::shared_ptr<RemoteCompletion> c(RemoteCompletion::open(ep, QStringLiteral("m"), {}, &error).release());
        QVERIFY2(c, qPrintable(error));
        QVERIFY(!c->usesServerTokenizer());
        ld::documents::Document doc;
        doc.fileName = QStringLiteral("long.pdf");
        doc.kind = QStringLiteral("pdf");
        for (int p = 1; p <= 12; ++p) {
            ld::documents::Segment s;
            s.page = p;
            s.text = QStringLiteral("Page %1 says something worth noting about the subject. ").arg(p).repeated(25);
            doc.segments.append(s);
        }
        ld::documents::SummaryOptions options;
        options.mapConcurrency = 4;
        ld::documents::SummaryResult result;
        QStringList stages;
        std::unique_ptr<QThread> worker(QThread::create([&] {
            ld::documents::Summarizer summarizer(*c, options);
            ld::documents::SummaryCallbacks cb;
            cb.progress = [&](const ld::documents::SummaryProgress& p) { stages << p.stage; };
            result = summarizer.summarize(doc, cb, nullptr);
        }));
        worker->start();
        QTRY_VERIFY_WITH_TIMEOUT(worker->isFinished(), 30000);
        QVERIFY2(result.ok(), qPrintable(result.error));
        QVERIFY2(result.chunks >= 8, QByteArray::number(result.chunks).constData());
        QVERIFY(result.summary.contains(QStringLiteral("A note [p. 1].")));
        QCOMPARE(server->maxOpen, 4);
        QVERIFY(stages.contains(QStringLiteral("Reading %1 parts, 4 at a time").arg(result.chunks)));
        QVERIFY(stages.contains(QStringLiteral("Reading parts (%1 of %1 done)").arg(result.chunks)));
    }

    void summaryMapFailureStops() {
        server->add("/v1/models", FakeOpenAiServer::json(200, R"({"object":"list","data":[{"id":"m","object":"model","max_model_len":1024}]})"));
        server->add("/v1/chat/completions", FakeOpenAiServer::stream({kVllm[0], delta("ok"), kVllm[3], "[DONE]"}, "\n", 30));
        server->add("/v1/chat/completions", FakeOpenAiServer::json(500, R"({"error":{"message":"boom"}})"));
        QString error;
        std::shared_ptr<RemoteCompletion> c(RemoteCompletion::open(ep, QStringLiteral("m"), {}, &error).release());
        QVERIFY(c);
        ld::documents::Document doc;
        doc.fileName = QStringLiteral("long.txt");
        for (int p = 1; p <= 12; ++p) doc.segments.append({QStringLiteral("Line of text number %1. ").arg(p).repeated(60), 0, {}, p, p});
        ld::documents::SummaryOptions options;
        options.mapConcurrency = 4;
        ld::documents::SummaryResult result;
        std::unique_ptr<QThread> worker(QThread::create([&] {
            ld::documents::Summarizer summarizer(*c, options);
            result = summarizer.summarize(doc, {}, nullptr);
        }));
        worker->start();
        QTRY_VERIFY_WITH_TIMEOUT(worker->isFinished(), 30000);
        QVERIFY(!result.ok());
        QCOMPARE(result.error, QStringLiteral("the server failed (HTTP 500): boom"));
        QVERIFY2(server->seen.size() < 1 + 12, QByteArray::number(server->seen.size()).constData());
    }

    // TLS: a test CA and a server certificate for 127.0.0.1 made with openssl now. Without the CA
    // the certificate is refused (and the error says --ca-file); with it, the same server works.
    void tlsVerifiedWithCaFile() {
        const QString openssl = QStandardPaths::findExecutable(QStringLiteral("openssl"));
        if (openssl.isEmpty()) LD_QSKIP_OR_FAIL_IN_CI("needs the openssl tool to make a test CA");
        QTemporaryDir dir;
        auto run = [&](const QStringList& args) {
            QProcess p;
            p.setWorkingDirectory(dir.path());
            p.start(openssl, args);
            return p.waitForFinished(60000) && p.exitCode() == 0;
        };
        QFile ext(dir.filePath(QStringLiteral("ext.cnf")));
        QVERIFY(ext.open(QIODevice::WriteOnly));
        ext.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
        ext.close();
        QVERIFY(run({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                     "-subj", "/CN=LlamaDesk Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"}));
        QVERIFY(run({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"}));
        QVERIFY(run({"x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"}));
        QFile keyFile(dir.filePath(QStringLiteral("server.key")));
        QVERIFY(keyFile.open(QIODevice::ReadOnly));
        QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
        const QList<QSslCertificate> certs = QSslCertificate::fromPath(dir.filePath(QStringLiteral("server.pem")));
        QCOMPARE(certs.size(), 1);
        conf.setLocalCertificate(certs.first());
        conf.setPrivateKey(QSslKey(keyFile.readAll(), QSsl::Rsa));
        QVERIFY(!conf.privateKey().isNull());
        auto ssl = std::make_unique<QSslServer>();
        ssl->setSslConfiguration(conf);
        FakeOpenAiServer tls(std::move(ssl), true);
        QVERIFY(tls.listen());
        tls.add("/v1/models", FakeOpenAiServer::json(200, R"({"object":"list","data":[{"id":"m","object":"model"}]})"));
        tls.add("/v1/chat/completions", FakeOpenAiServer::stream(list(kVllm)));
        RemoteEndpoint e = ep;
        e.baseUrl = tls.baseUrl();
        QCOMPARE(e.baseUrl.scheme(), QStringLiteral("https"));
        // Untrusted: refused, nothing sent.
        ModelList models = RemoteClient(e).models();
        QVERIFY2(models.error.contains(QStringLiteral("TLS")) && models.error.contains(QStringLiteral("--ca-file")), qPrintable(models.error));
        QVERIFY(tls.seen.isEmpty());
        // A CA file that is no certificate: said so.
        e.caFile = dir.filePath(QStringLiteral("ext.cnf"));
        models = RemoteClient(e).models();
        QVERIFY2(models.error.contains(QStringLiteral("has no PEM certificate")), qPrintable(models.error));
        // Trusted through the CA file.
        e.caFile = dir.filePath(QStringLiteral("ca.pem"));
        models = RemoteClient(e).models();
        QVERIFY2(models.error.isEmpty(), qPrintable(models.error));
        QCOMPARE(models.models.size(), 1);
        const Run r = generate(e, chatRequest());
        QVERIFY2(r.reply.ok(), qPrintable(r.reply.error));
        QCOMPARE(r.reply.text, QStringLiteral("Hello world"));
    }
};

QTEST_GUILESS_MAIN(TestRemoteClient)
#include "test_remote_client.moc"
