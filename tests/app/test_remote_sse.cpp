// The remote client's parsing, without a network: server-sent events split anywhere (CRLF,
// comments, multi-line data, a last event without its blank line), the OpenAI chunk shapes of
// vLLM, Ollama and llama.cpp's server, error bodies in each server's shape, model lists,
// Retry-After, base URLs, and the conservative token estimate.
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonArray>
#include <QRandomGenerator>
#include <QTest>

#include "app/remote/endpoint.h"
#include "app/remote/openai_messages.h"
#include "app/remote/remote_client.h"
#include "app/remote/remote_completion.h"
#include "app/remote/sse_parser.h"

using namespace ld::remote;

class TestRemoteSse : public QObject {
    Q_OBJECT

    static QList<QByteArray> parseAll(const QByteArray& bytes, const QList<int>& cuts) {
        SseParser p;
        QList<QByteArray> out;
        int at = 0;
        for (int c : cuts) {
            out += p.feed(bytes.mid(at, c - at));
            at = c;
        }
        out += p.feed(bytes.mid(at));
        out += p.finish();
        return out;
    }

private slots:
    void eventsSplitAnywhere() {
        const QByteArray stream =
            ": ping - 2026-01-01 00:00:00\r\n\r\n"
            "data: {\"a\":1}\r\n\r\n"
            "event: message\nid: 7\nretry: 100\ndata:{\"b\":\"é\"}\n\n"
            "data: line1\ndata: line2\r\r"
            ": keep-alive\n"
            "data: [DONE]\n\n";
        const QList<QByteArray> want{"{\"a\":1}", "{\"b\":\"é\"}", "line1\nline2", "[DONE]"};
        QCOMPARE(parseAll(stream, {}), want);
        // Every single cut point, and random multi-cuts (a CRLF or a UTF-8 character split too).
        for (int cut = 1; cut < stream.size(); ++cut) QCOMPARE(parseAll(stream, {cut}), want);
        QRandomGenerator rng(42);
        for (int round = 0; round < 300; ++round) {
            QList<int> cuts;
            int at = 0;
            while ((at += 1 + int(rng.bounded(7))) < stream.size()) cuts.append(at);
            QCOMPARE(parseAll(stream, cuts), want);
        }
    }

    void lastEventWithoutBlankLine() {
        SseParser p;
        QVERIFY(p.feed("data: {\"x\":1}\ndata: more").isEmpty());
        QCOMPARE(p.finish(), QList<QByteArray>{"{\"x\":1}\nmore"});
        SseParser q;
        QVERIFY(q.feed(": only a comment\n\n").isEmpty());
        QVERIFY(q.finish().isEmpty());
        QVERIFY(!q.sawAnyEvent());
    }

    void oversizedLineOrEventStops() {
        // A line that never ends: the parser stops holding bytes past the limit.
        SseParser p;
        const QByteArray mib(1 << 20, 'x');
        QVERIFY(p.feed("data: ").isEmpty());
        for (int i = 0; i <= int(SseParser::kMaxEventBytes >> 20); ++i) p.feed(mib);
        QVERIFY(p.overflowed());
        QVERIFY(p.feed("\n\n").isEmpty());  // nothing more is taken
        // An event of many short data lines with no blank line: the same.
        SseParser q;
        const QByteArray line = "data: " + QByteArray(1000, 'y') + "\n";
        QByteArray many;
        for (int i = 0; i < 1024; ++i) many += line;
        for (int i = 0; i <= int(SseParser::kMaxEventBytes >> 20) && !q.overflowed(); ++i) q.feed(many);
        QVERIFY(q.overflowed());
        // Normal events stay well inside it.
        SseParser r;
        QCOMPARE(r.feed("data: " + mib + "\n\n").size(), 1);
        QVERIFY(!r.overflowed());
    }

    void chunkShapes() {
        using K = GenerationRequest::Kind;
        // vLLM: role-only first delta with empty content, finish chunk, usage chunk with no choices.
        StreamEvent e = parseStreamEvent(R"({"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})", K::Chat);
        QCOMPARE(e.type, StreamEvent::Type::Delta);
        QVERIFY(e.text.isEmpty());
        QVERIFY(e.finishReason.isEmpty());
        e = parseStreamEvent(R"({"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop","stop_reason":null}]})", K::Chat);
        QCOMPARE(e.text, QStringLiteral("Hi"));
        QCOMPARE(e.finishReason, QStringLiteral("stop"));
        e = parseStreamEvent(R"({"id":"c","choices":[],"usage":{"prompt_tokens":12,"total_tokens":14,"completion_tokens":2}})", K::Chat);
        QCOMPARE(e.type, StreamEvent::Type::Delta);
        QCOMPARE(e.promptTokens, 12);
        QCOMPARE(e.completionTokens, 2);
        // llama.cpp: "content": null in the role delta, "delta": {} on the finish chunk.
        e = parseStreamEvent(R"({"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}]})", K::Chat);
        QVERIFY(e.text.isEmpty());
        e = parseStreamEvent(R"({"choices":[{"finish_reason":"length","index":0,"delta":{}}],"usage":{"completion_tokens":3,"prompt_tokens":9}})", K::Chat);
        QCOMPARE(e.finishReason, QStringLiteral("length"));
        QCOMPARE(e.completionTokens, 3);
        // Raw completions carry "text".
        e = parseStreamEvent(R"({"object":"text_completion","choices":[{"index":0,"text":" upon","finish_reason":null}]})", K::Completion);
        QCOMPARE(e.text, QStringLiteral(" upon"));
        QCOMPARE(parseStreamEvent("[DONE]", K::Chat).type, StreamEvent::Type::Done);
        // Errors mid-stream: OpenAI/llama.cpp shape, vLLM's, a bare string; and garbage.
        e = parseStreamEvent(R"({"error":{"message":"context exceeded","type":"invalid_request_error","code":400}})", K::Chat);
        QCOMPARE(e.type, StreamEvent::Type::Error);
        QCOMPARE(e.error, QStringLiteral("context exceeded"));
        e = parseStreamEvent(R"({"object":"error","message":"engine dead","type":"InternalServerError","code":500})", K::Chat);
        QCOMPARE(e.type, StreamEvent::Type::Error);
        QCOMPARE(e.error, QStringLiteral("engine dead"));
        e = parseStreamEvent(R"({"error":"model unloaded"})", K::Chat);
        QCOMPARE(e.error, QStringLiteral("model unloaded"));
        e = parseStreamEvent("{not json", K::Chat);
        QCOMPARE(e.type, StreamEvent::Type::Error);
        QVERIFY(e.error.contains(QStringLiteral("unreadable")));
    }

    void requestBodies() {
        GenerationRequest r;
        r.model = QStringLiteral("m");
        r.messages = {{QStringLiteral("system"), QStringLiteral("S")}, {QStringLiteral("user"), QStringLiteral("U")}};
        r.maxTokens = 20;
        r.temperature = 0.0;
        r.stop = {QStringLiteral("\n")};
        QJsonObject o = QJsonDocument::fromJson(requestBody(r, true)).object();
        QCOMPARE(o.value("model").toString(), QStringLiteral("m"));
        QCOMPARE(o.value("messages").toArray().size(), 2);
        QCOMPARE(o.value("max_tokens").toInt(), 20);
        QCOMPARE(o.value("temperature").toDouble(), 0.0);
        QVERIFY(o.value("stream").toBool());
        QVERIFY(o.value("stream_options").toObject().value("include_usage").toBool());
        QVERIFY(!o.contains("seed"));
        r.kind = GenerationRequest::Kind::Completion;
        r.prompt = QStringLiteral("Once");
        o = QJsonDocument::fromJson(requestBody(r, false)).object();
        QCOMPARE(o.value("prompt").toString(), QStringLiteral("Once"));
        QVERIFY(!o.contains("messages"));
        QVERIFY(!o.contains("stream_options"));
    }

    void errorBodiesAndStatuses() {
        QCOMPARE(errorMessage(R"({"error":{"message":"bad key","type":"invalid_api_key"}})"), QStringLiteral("bad key"));
        QCOMPARE(errorMessage(R"({"object":"error","message":"The model `x` does not exist.","code":404})"),
                 QStringLiteral("The model `x` does not exist."));
        QCOMPARE(errorMessage(R"({"detail":"Not Found"})"), QStringLiteral("Not Found"));
        QCOMPARE(errorMessage("<html>Bad Gateway</html>"), QStringLiteral("<html>Bad Gateway</html>"));
        QVERIFY(describeHttpError(401, "{}", {}, {}).contains(QStringLiteral("API key")));
        QVERIFY(describeHttpError(404, R"({"error":"nope"})", {}, QStringLiteral("llama-405b")).contains(QStringLiteral("'llama-405b'")));
        QVERIFY(describeHttpError(429, {}, "7", {}).contains(QStringLiteral("retry after 7 s")));
        QVERIFY(describeHttpError(502, "upstream", {}, {}).contains(QStringLiteral("HTTP 502): upstream")));
        QCOMPARE(retryAfterSeconds("3"), 3);
        QCOMPARE(retryAfterSeconds(""), -1);
        QCOMPARE(retryAfterSeconds("soon"), -1);
        const QByteArray date = QLocale::c().toString(QDateTime::currentDateTimeUtc().addSecs(100), QStringLiteral("ddd, dd MMM yyyy HH:mm:ss")).toLatin1() + " GMT";
        QVERIFY2(std::abs(retryAfterSeconds(date) - 100) <= 2, date.constData());
    }

    void modelLists() {
        QString error;
        auto list = parseModelList(R"({"object":"list","data":[{"id":"meta-llama/Llama-3.1-70B-Instruct","object":"model","owned_by":"vllm","max_model_len":131072},{"id":"llama3.1:8b","object":"model"}]})", &error);
        QVERIFY(list);
        QCOMPARE(list->size(), 2);
        QCOMPARE(list->at(0).maxModelLen, 131072);
        QCOMPARE(list->at(1).maxModelLen, 0);
        QVERIFY(!parseModelList("[]", &error));
        QVERIFY(error.contains(QStringLiteral("not a model list")));
    }

    void baseUrls() {
        QString error;
        const QUrl u = parseBaseUrl(QStringLiteral("http://gpu-box:8000/v1/"), &error);
        QCOMPARE(u.toString(), QStringLiteral("http://gpu-box:8000/v1"));
        RemoteEndpoint ep;
        ep.baseUrl = u;
        QCOMPARE(ep.url(QStringLiteral("/chat/completions")).toString(), QStringLiteral("http://gpu-box:8000/v1/chat/completions"));
        QCOMPARE(ep.rootUrl(QStringLiteral("/tokenize")).toString(), QStringLiteral("http://gpu-box:8000/tokenize"));
        QVERIFY(parseBaseUrl(QStringLiteral("gpu-box:8000"), &error).isEmpty());
        QVERIFY(error.contains(QStringLiteral("/v1")));
        QVERIFY(parseBaseUrl(QStringLiteral("ftp://x/v1"), &error).isEmpty());
        QVERIFY(parseBaseUrl(QStringLiteral("http://x/v1?a=1"), &error).isEmpty());
    }

    void conservativeEstimate() {
        // English runs near 4 characters a token: the estimate must not be lower than that.
        const QString english = QStringLiteral("The quick brown fox jumps over the lazy dog. ").repeated(20);
        QVERIFY(estimateTokensConservatively(english) >= english.size() / 4);
        QCOMPARE(estimateTokensConservatively(QStringLiteral("abc")), 1);
        QCOMPARE(estimateTokensConservatively(QStringLiteral("日本語")), 3);
        QCOMPARE(estimateTokensConservatively(QString()), 0);
    }
};

QTEST_GUILESS_MAIN(TestRemoteSse)
#include "test_remote_sse.moc"
