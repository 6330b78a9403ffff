// Settings → Local API server: the app's OpenAI-compatible server over a real EngineHost with a
// shared tiny model, driven over HTTP. It serves the loaded model through the app's engine
// (the GUI's requests and the API's share its FIFO), checks the Host header on loopback, needs a
// key before it serves other machines, and stops when switched off.
#include <QElapsedTimer>
#include <QFile>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSettings>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include "../qt_test_util.h"
#include "app/chat/engine_host.h"
#include "app/remote/secret_store.h"
#include "app/server/server_host.h"
#include "app/settings/app_settings.h"

using namespace ld;

namespace {

const QString kModel = QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf");

struct HttpResult {
    int status = 0;
    QByteArray body;
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

// One request through QNetworkAccessManager, waiting in the event loop (so the UI-thread side of
// the server keeps running, as it does in the app).
HttpResult request(QNetworkAccessManager& net, const QString& method, const QString& url, const QByteArray& body = {},
                   const QByteArray& key = {}) {
    QNetworkRequest req{QUrl(url)};
    req.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    if (!key.isEmpty()) req.setRawHeader("Authorization", "Bearer " + key);
    req.setTransferTimeout(60000);
    QNetworkReply* reply = method == QLatin1String("GET") ? net.get(req) : net.post(req, body);
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    loop.exec();
    HttpResult r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r.body = reply->readAll();
    reply->deleteLater();
    return r;
}

// A raw HTTP/1.1 GET with the Host header we choose (QNetworkAccessManager sets its own);
// returns the status code, 0 when nothing came back.
int rawGetStatus(int port, const QByteArray& host, const QByteArray& path) {
    QTcpSocket s;
    s.connectToHost(QStringLiteral("127.0.0.1"), quint16(port));
    if (!s.waitForConnected(5000)) return 0;
    s.write("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    QByteArray all;
    QElapsedTimer t;
    t.start();
    while (!all.contains("\r\n") && t.elapsed() < 10000) {
        QCoreApplication::processEvents();  // the server may need the UI thread (it does not here)
        if (s.waitForReadyRead(100)) all += s.readAll();
        if (s.state() == QAbstractSocket::UnconnectedState) break;
    }
    const QList<QByteArray> first = all.left(all.indexOf("\r\n")).split(' ');
    return first.size() >= 2 ? first[1].toInt() : 0;
}

QByteArray chatBody(bool stream, int maxTokens) {
    QJsonObject msg{{"role", "user"}, {"content", "Once upon a time"}};
    QJsonObject o{{"model", "stories260K"}, {"messages", QJsonArray{msg}}, {"max_tokens", maxTokens},
                  {"temperature", 0}, {"stream", stream}};
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

// The data payloads of an SSE body, comments dropped.
QList<QByteArray> sseData(const QByteArray& body) {
    QList<QByteArray> out;
    for (const QByteArray& line : body.split('\n'))
        if (line.startsWith("data: ")) out << line.mid(6);
    return out;
}

}  // namespace

class TestApiServerHost : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::unique_ptr<chat::EngineHost> engine_;
    QNetworkAccessManager net_;
    std::unique_ptr<remote::MemorySecretStore> keys_;  // the API key's store (the app's is the keyring); fresh per test

    std::unique_ptr<settings::AppSettings> freshSettings(const char* name) {
        auto s = std::make_unique<settings::AppSettings>(dir_.filePath(QLatin1String(name)));
        s->setApiServerPort(0);  // any free port
        return s;
    }

private slots:
    void init() { keys_ = std::make_unique<remote::MemorySecretStore>(); }
    void initTestCase() {
        QVERIFY(dir_.isValid());
        if (!QFileInfo::exists(kModel)) LD_QSKIP_OR_FAIL_IN_CI("needs " + kModel.toUtf8() + " (reference models folder absent)");
        engine_ = std::make_unique<chat::EngineHost>();
        QSignalSpy loaded(engine_.get(), &chat::EngineHost::modelLoaded);
        chat::EngineConfig c;
        c.modelPath = kModel;
        c.backend = QStringLiteral("cpu");
        c.threads = 2;
        c.contextLength = 512;
        engine_->load(c);
        QVERIFY(loaded.wait(60000));
    }

    void offByDefault() {
        settings::AppSettings s(dir_.filePath(QStringLiteral("default.ini")));
        server::ServerHost host(engine_.get(), &s, keys_.get());
        QVERIFY(!host.enabled());
        QVERIFY(!host.listening());
        QVERIFY(host.url().isEmpty());
        QCOMPARE(host.port(), 8080);
        QVERIFY(!host.allowRemote());
    }

    void servesTheLoadedModelThroughTheAppsEngine() {
        auto s = freshSettings("serve.ini");
        server::ServerHost host(engine_.get(), s.get(), keys_.get());
        host.setEnabled(true);
        QVERIFY2(host.listening(), qPrintable(host.status()));
        const int port = host.boundPort();
        QVERIFY(port > 0);
        QCOMPARE(host.url(), QStringLiteral("http://127.0.0.1:%1/v1").arg(port));
        QVERIFY(s->apiServerEnabled());  // persisted

        const HttpResult models = request(net_, QStringLiteral("GET"), host.url() + QStringLiteral("/models"));
        QCOMPARE(models.status, 200);
        const QJsonArray data = models.json().value("data").toArray();
        QCOMPARE(data.size(), 1);
        QCOMPARE(data[0].toObject().value("id").toString(), QStringLiteral("stories260K"));
        QCOMPARE(data[0].toObject().value("max_model_len").toInt(), engine_->contextSize());

        // Streaming: a role delta, content deltas, a finish chunk, [DONE]; the text comes from
        // the app's EngineHost (its signals carry it) and equals the GUI path's reply.
        QSignalSpy engineFinished(engine_.get(), &chat::EngineHost::finished);
        const HttpResult streamed = request(net_, QStringLiteral("POST"), host.url() + QStringLiteral("/chat/completions"),
                                            chatBody(true, 24));
        QCOMPARE(streamed.status, 200);
        const QList<QByteArray> events = sseData(streamed.body);
        QVERIFY(events.size() >= 4);
        QCOMPARE(events.last(), QByteArray("[DONE]"));
        const QJsonObject first = QJsonDocument::fromJson(events.first()).object();
        QCOMPARE(first.value("object").toString(), QStringLiteral("chat.completion.chunk"));
        QCOMPARE(first["choices"].toArray()[0].toObject()["delta"].toObject()["role"].toString(), QStringLiteral("assistant"));
        QString text;
        QString finishReason;
        for (qsizetype i = 1; i + 1 < events.size(); ++i) {
            const QJsonObject choice = QJsonDocument::fromJson(events[i]).object()["choices"].toArray()[0].toObject();
            text += choice["delta"].toObject()["content"].toString();
            if (choice["finish_reason"].isString()) finishReason = choice["finish_reason"].toString();
        }
        QVERIFY(!text.isEmpty());
        QCOMPARE(finishReason, QStringLiteral("length"));
        QCOMPARE(engineFinished.count(), 1);  // the API's request ran on the app's engine
        const auto outcome = engineFinished.first().at(0).value<chat::GenerationOutcome>();
        QCOMPARE(outcome.genTokens, 24);
        QCOMPARE(outcome.text, text);

        chat::GenerationRequest gui;
        gui.messages = {{QStringLiteral("user"), QStringLiteral("Once upon a time")}};
        gui.sampling.temperature = 0;
        gui.sampling.topK = 0;
        gui.sampling.minP = 0;
        gui.sampling.maxTokens = 24;
        QSignalSpy guiDone(engine_.get(), &chat::EngineHost::finished);
        engine_->generate(gui);
        QVERIFY(guiDone.wait(30000));
        QCOMPARE(guiDone.first().at(0).value<chat::GenerationOutcome>().text, text);

        // Non-streaming: the same text, with usage.
        const HttpResult whole = request(net_, QStringLiteral("POST"), host.url() + QStringLiteral("/chat/completions"),
                                         chatBody(false, 24));
        QCOMPARE(whole.status, 200);
        const QJsonObject w = whole.json();
        QCOMPARE(w["choices"].toArray()[0].toObject()["message"].toObject()["content"].toString(), text);
        QCOMPARE(w["usage"].toObject()["completion_tokens"].toInt(), 24);
        QVERIFY(w["usage"].toObject()["prompt_tokens"].toInt() > 0);
    }

    void stopStringsCutTheReply() {
        auto s = freshSettings("stop.ini");
        server::ServerHost host(engine_.get(), s.get(), keys_.get());
        host.setEnabled(true);
        QVERIFY2(host.listening(), qPrintable(host.status()));
        const HttpResult full = request(net_, QStringLiteral("POST"), host.url() + QStringLiteral("/chat/completions"),
                                        chatBody(false, 40));
        const QString text = full.json()["choices"].toArray()[0].toObject()["message"].toObject()["content"].toString();
        // A word from the middle of the reply as the stop string: the reply ends just before it.
        const qsizetype space = text.indexOf(QLatin1Char(' '), text.size() / 2);
        QVERIFY2(space > 0, qPrintable(text));
        const QString stop = text.mid(space, 4);
        QJsonObject o = QJsonDocument::fromJson(chatBody(true, 40)).object();
        o["stop"] = stop;
        const HttpResult cut = request(net_, QStringLiteral("POST"), host.url() + QStringLiteral("/chat/completions"),
                                       QJsonDocument(o).toJson(QJsonDocument::Compact));
        QCOMPARE(cut.status, 200);
        QString streamed;
        QString reason;
        for (const QByteArray& e : sseData(cut.body)) {
            if (e == "[DONE]") continue;
            const QJsonObject choice = QJsonDocument::fromJson(e).object()["choices"].toArray()[0].toObject();
            streamed += choice["delta"].toObject()["content"].toString();
            if (choice["finish_reason"].isString()) reason = choice["finish_reason"].toString();
        }
        QCOMPARE(streamed, text.left(text.indexOf(stop)));
        QCOMPARE(reason, QStringLiteral("stop"));
    }

    void refusesWhatTheAppsEngineCannotRun() {
        auto s = freshSettings("refuse.ini");
        server::ServerHost host(engine_.get(), s.get(), keys_.get());
        host.setEnabled(true);
        QVERIFY(host.listening());
        const HttpResult logprobs = request(net_, QStringLiteral("POST"), host.url() + QStringLiteral("/completions"),
                                            R"({"model":"stories260K","prompt":"Once","max_tokens":4,"logprobs":2})");
        QCOMPARE(logprobs.status, 400);
        QVERIFY(logprobs.json()["error"].toObject()["message"].toString().contains(QLatin1String("llamadesk-cli serve")));
        const HttpResult unknown = request(net_, QStringLiteral("POST"), host.url() + QStringLiteral("/chat/completions"),
                                           R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})");
        QCOMPARE(unknown.status, 400);
        QCOMPARE(unknown.json()["error"].toObject()["code"].toString(), QStringLiteral("model_not_found"));
        QByteArray longPrompt = "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"";
        for (int i = 0; i < 600; ++i) longPrompt += "once upon a time ";
        longPrompt += "\"}]}";
        const HttpResult tooLong = request(net_, QStringLiteral("POST"), host.url() + QStringLiteral("/chat/completions"), longPrompt);
        QCOMPARE(tooLong.status, 400);
        QCOMPARE(tooLong.json()["error"].toObject()["code"].toString(), QStringLiteral("context_length_exceeded"));
    }

    // /v1/completions continues raw text through the app's engine (the rendered prompt as is, its
    // leading whitespace kept): at temperature 0 it is llama2.c's own greedy text.
    void completionsContinueRawText() {
        QFile ref(QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.reference.txt"));
        if (!ref.open(QIODevice::ReadOnly)) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.reference.txt");
        QString golden;  // the file's text after its '#' comment lines
        for (const QByteArray& line : ref.readAll().split('\n'))
            if (!line.startsWith('#')) golden += QString::fromUtf8(line) + QLatin1Char('\n');
        const QString prompt = QStringLiteral("Once upon a time");
        QVERIFY(golden.startsWith(prompt));
        auto s = freshSettings("complete.ini");
        server::ServerHost host(engine_.get(), s.get(), keys_.get());
        host.setEnabled(true);
        QVERIFY(host.listening());
        const HttpResult r = request(net_, QStringLiteral("POST"), host.url() + QStringLiteral("/completions"),
                                     R"({"model":"stories260K","prompt":"Once upon a time","max_tokens":40,"temperature":0})");
        QCOMPARE(r.status, 200);
        const QString text = r.json()["choices"].toArray().first().toObject()["text"].toString();
        QVERIFY(!text.isEmpty());
        const QString both = prompt + text;
        QVERIFY2(golden.startsWith(both), qPrintable(both));
    }

    void loopbackChecksTheHostHeader() {
        auto s = freshSettings("host.ini");
        server::ServerHost host(engine_.get(), s.get(), keys_.get());
        host.setEnabled(true);
        QVERIFY(host.listening());
        const int port = host.boundPort();
        const QByteArray p = QByteArray::number(port);
        QCOMPARE(rawGetStatus(port, "127.0.0.1:" + p, "/v1/models"), 200);
        QCOMPARE(rawGetStatus(port, "localhost:" + p, "/v1/models"), 200);
        QCOMPARE(rawGetStatus(port, "evil.example:" + p, "/v1/models"), 403);  // DNS rebinding
    }

    void otherMachinesNeedAKey() {
        auto s = freshSettings("remote.ini");
        server::ServerHost host(engine_.get(), s.get(), keys_.get());
        host.setEnabled(true);
        QVERIFY(host.listening());
        host.setAllowRemote(true);  // no key yet: refused, and the page says why
        QVERIFY(!host.listening());
        QVERIFY(host.failed());
        QVERIFY2(host.status().contains(QLatin1String("API key")), qPrintable(host.status()));
        QVERIFY(host.url().isEmpty());

        host.setApiKey(QStringLiteral("sesame-123"));
        QVERIFY2(host.listening(), qPrintable(host.status()));
        QVERIFY(!host.url().contains(QLatin1String("127.0.0.1")));  // the address other machines use
        const QString local = QStringLiteral("http://127.0.0.1:%1/v1/models").arg(host.boundPort());
        const HttpResult none = request(net_, QStringLiteral("GET"), local);
        QCOMPARE(none.status, 401);
        QCOMPARE(none.json()["error"].toObject()["code"].toString(), QStringLiteral("invalid_api_key"));
        QCOMPARE(request(net_, QStringLiteral("GET"), local, {}, "wrong").status, 401);
        QCOMPARE(request(net_, QStringLiteral("GET"), local, {}, "sesame-123").status, 200);
        // Not loopback: no Host check (the key protects it).
        QCOMPARE(rawGetStatus(host.boundPort(), "evil.example", "/health"), 200);

        // A new key restarts the server (on a new port here: the port setting is 0); a
        // connection the old one kept alive is not served any more.
        host.generateKey();
        QVERIFY(host.apiKey().size() >= 32);
        // In the key store, never in the settings file.
        QCOMPARE(keys_->read(QStringLiteral("llamadesk/api-server")).value_or(QString()), host.apiKey());
        {
            // QSettings objects on one file share their data within the process.
            const QSettings ini(dir_.filePath(QStringLiteral("remote.ini")), QSettings::IniFormat);
            QVERIFY(!ini.allKeys().isEmpty());
            for (const QString& k : ini.allKeys()) QVERIFY2(ini.value(k).toString() != host.apiKey(), qPrintable(k));
        }
        QVERIFY(host.listening());
        QVERIFY(request(net_, QStringLiteral("GET"), local, {}, "sesame-123").status != 200);
        const QString restarted = QStringLiteral("http://127.0.0.1:%1/v1/models").arg(host.boundPort());
        QCOMPARE(request(net_, QStringLiteral("GET"), restarted, {}, "sesame-123").status, 401);
        QCOMPARE(request(net_, QStringLiteral("GET"), restarted, {}, host.apiKey().toUtf8()).status, 200);
    }

    void apiRequestsQueueBehindTheGuis() {
        auto s = freshSettings("fifo.ini");
        server::ServerHost host(engine_.get(), s.get(), keys_.get());
        host.setEnabled(true);
        QVERIFY(host.listening());
        QList<quint64> order;
        connect(engine_.get(), &chat::EngineHost::finished, this,
                [&](const chat::GenerationOutcome& o) { order << o.id; });
        chat::GenerationRequest gui;
        gui.messages = {{QStringLiteral("user"), QStringLiteral("Once upon a time")}};
        gui.sampling.maxTokens = 48;
        const quint64 guiId = engine_->generate(gui);
        const HttpResult api = request(net_, QStringLiteral("POST"), host.url() + QStringLiteral("/chat/completions"),
                                       chatBody(false, 8));
        QCOMPARE(api.status, 200);
        const bool both = QTest::qWaitFor([&] { return order.size() == 2; }, 30000);
        disconnect(engine_.get(), &chat::EngineHost::finished, this, nullptr);
        QVERIFY(both);
        // An engine that runs one request at a time: the GUI's came first and ran first. One
        // that runs sequences together (the CPU backend's paged cache, issue 17) runs both at
        // once, the GUI's at the Interactive priority: which ends first is then only a matter
        // of their lengths, and both must have ended.
        if (engine_->modelInfo().parallelSequences == 1) QCOMPARE(order.first(), guiId);
        else QVERIFY(order.contains(guiId));
    }

    void switchingOffStopsTheServerAndItsRequests() {
        auto s = freshSettings("off.ini");
        server::ServerHost host(engine_.get(), s.get(), keys_.get());
        host.setEnabled(true);
        QVERIFY(host.listening());
        const int port = host.boundPort();

        // A long streaming request is running when the server is switched off: its stream ends
        // and the engine is free again at once.
        QNetworkRequest req{QUrl(host.url() + QStringLiteral("/chat/completions"))};
        req.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
        QNetworkReply* reply = net_.post(req, chatBody(true, 400));
        QSignalSpy text(engine_.get(), &chat::EngineHost::text);
        QVERIFY(text.wait(20000));
        QElapsedTimer t;
        t.start();
        host.setEnabled(false);
        QVERIFY(t.elapsed() < 1000);  // the UI thread does not wait for the server
        QVERIFY(!host.listening());
        QCOMPARE(host.status(), QStringLiteral("Off."));
        QVERIFY(!s->apiServerEnabled());
        QVERIFY(QTest::qWaitFor([&] { return reply->isFinished(); }, 10000));
        QVERIFY(QTest::qWaitFor([&] { return !engine_->generating(); }, 10000));
        reply->deleteLater();

        QTcpSocket probe;
        probe.connectToHost(QStringLiteral("127.0.0.1"), quint16(port));
        QVERIFY(!probe.waitForConnected(2000));
        QCOMPARE(probe.error(), QAbstractSocket::ConnectionRefusedError);
    }

    void portInUseIsReported() {
        auto first = freshSettings("first.ini");
        server::ServerHost a(engine_.get(), first.get(), keys_.get());
        a.setEnabled(true);
        QVERIFY(a.listening());
        auto second = freshSettings("second.ini");
        second->setApiServerPort(a.boundPort());
        server::ServerHost b(engine_.get(), second.get(), keys_.get());
        b.setEnabled(true);
        QVERIFY(!b.listening());
        QVERIFY(b.failed());
        QVERIFY2(b.status().contains(QLatin1String("in use")), qPrintable(b.status()));
    }

    // "Speed up replies" in the app: an API reply drafted by prompt lookup reports its drafts as
    // `serve --lookup` does (usage.completion_tokens_details, streamed and whole), with the text
    // it has without speculation; with a draft model, which the GUI's reply keeps to itself, API
    // replies are not sped up and report none.
    void predictionTokensWhenRepliesAreSpedUp() {
        auto s = freshSettings("speculate.ini");
        server::ServerHost host(engine_.get(), s.get(), keys_.get());
        host.setEnabled(true);
        QVERIFY(host.listening());
        const QString url = host.url() + QStringLiteral("/chat/completions");
        const auto usageOf = [](const HttpResult& r) { return r.json()["usage"].toObject(); };
        const auto textOf = [](const HttpResult& r) {
            return r.json()["choices"].toArray()[0].toObject()["message"].toObject()["content"].toString();
        };
        const auto setSpeculation = [&](const QString& mode, const QString& draftPath, const QString& described) {
            chat::SpeculationConfig c;
            c.mode = mode;
            c.draftModelPath = draftPath;
            engine_->setSpeculation(c);
            return QTest::qWaitFor([&] {
                return described.isEmpty() ? engine_->speculation().isEmpty() : engine_->speculation().startsWith(described);
            }, 30000);
        };
        QSignalSpy finished(engine_.get(), &chat::EngineHost::finished);

        const HttpResult plain = request(net_, QStringLiteral("POST"), url, chatBody(false, 48));
        QCOMPARE(plain.status, 200);
        QVERIFY(!usageOf(plain).contains("completion_tokens_details"));  // nothing drafted: as a plain serve

        QVERIFY(setSpeculation(QStringLiteral("lookup"), {}, QStringLiteral("prompt lookup")));
        finished.clear();
        const HttpResult sped = request(net_, QStringLiteral("POST"), url, chatBody(false, 48));
        QCOMPARE(sped.status, 200);
        QCOMPARE(finished.count(), 1);
        const auto out = finished.first().at(0).value<chat::GenerationOutcome>();
        QVERIFY(out.speculated);
        QVERIFY2(out.drafted > 0 && out.accepted > 0, qPrintable(QStringLiteral("%1 drafted, %2 accepted").arg(out.drafted).arg(out.accepted)));
        QCOMPARE(textOf(sped), textOf(plain));  // greedy: the same reply, sped up
        const QJsonObject details = usageOf(sped)["completion_tokens_details"].toObject();
        QCOMPARE(details["accepted_prediction_tokens"].toInt(-1), out.accepted);
        QCOMPARE(details["rejected_prediction_tokens"].toInt(-1), out.drafted - out.accepted);
        QCOMPARE(usageOf(sped)["completion_tokens"].toInt(), 48);

        // Streamed with stream_options.include_usage: the usage chunk carries the same numbers.
        QJsonObject body = QJsonDocument::fromJson(chatBody(true, 48)).object();
        body["stream_options"] = QJsonObject{{"include_usage", true}};
        const HttpResult streamed = request(net_, QStringLiteral("POST"), url, QJsonDocument(body).toJson(QJsonDocument::Compact));
        QCOMPARE(streamed.status, 200);
        const QList<QByteArray> events = sseData(streamed.body);
        QVERIFY(events.size() >= 2);
        const QJsonObject usageChunk = QJsonDocument::fromJson(events[events.size() - 2]).object();
        QCOMPARE(usageChunk["usage"].toObject()["completion_tokens_details"].toObject(), details);

        // A draft model: the GUI's reply drafts with it, an API reply does not.
        QTemporaryDir draftDir;
        const QString draftCopy = draftDir.filePath(QStringLiteral("stories-draft.gguf"));  // not "the model itself"
        QVERIFY(QFile::copy(kModel, draftCopy));
        QVERIFY2(setSpeculation(QStringLiteral("draft"), draftCopy, QStringLiteral("draft model")), qPrintable(engine_->speculation()));
        finished.clear();
        const HttpResult api = request(net_, QStringLiteral("POST"), url, chatBody(false, 48));
        QCOMPARE(api.status, 200);
        QCOMPARE(finished.count(), 1);
        QVERIFY(!finished.first().at(0).value<chat::GenerationOutcome>().speculated);
        QVERIFY(!usageOf(api).contains("completion_tokens_details"));
        QCOMPARE(textOf(api), textOf(plain));
        chat::GenerationRequest gui;
        gui.messages = {{QStringLiteral("user"), QStringLiteral("Once upon a time")}};
        gui.sampling.temperature = 0;
        gui.sampling.maxTokens = 8;
        gui.speculate = true;
        finished.clear();
        engine_->generate(gui);
        QVERIFY(finished.wait(30000));
        const auto guiOut = finished.first().at(0).value<chat::GenerationOutcome>();
        QVERIFY(guiOut.speculated);
        QVERIFY(guiOut.drafted > 0);

        QVERIFY(setSpeculation(QStringLiteral("off"), {}, QString()));
    }

    void cleanupTestCase() { engine_.reset(); }
};

QTEST_GUILESS_MAIN(TestApiServerHost)
#include "test_api_server_host.moc"
