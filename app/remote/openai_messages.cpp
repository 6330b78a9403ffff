#include "app/remote/openai_messages.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace ld::remote {

namespace {

QString messageOf(const QJsonValue& v) {
    if (v.isString()) return v.toString();
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        for (const char* key : {"message", "detail", "error"}) {
            const QString m = messageOf(o.value(QLatin1String(key)));
            if (!m.isEmpty()) return m;
        }
    }
    if (v.isArray() && !v.toArray().isEmpty()) return messageOf(v.toArray().first());  // FastAPI's detail list
    return {};
}

void readUsage(const QJsonObject& o, StreamEvent* ev) {
    const QJsonValue u = o.value(QLatin1String("usage"));
    if (!u.isObject()) return;
    const QJsonObject uo = u.toObject();
    if (uo.value(QLatin1String("prompt_tokens")).isDouble()) ev->promptTokens = uo.value(QLatin1String("prompt_tokens")).toInt();
    if (uo.value(QLatin1String("completion_tokens")).isDouble())
        ev->completionTokens = uo.value(QLatin1String("completion_tokens")).toInt();
}

// The text and finish reason of choices[0], from a chunk ("delta") or a whole reply ("message").
void readChoice(const QJsonObject& o, GenerationRequest::Kind kind, const char* chatKey, StreamEvent* ev) {
    const QJsonArray choices = o.value(QLatin1String("choices")).toArray();
    if (choices.isEmpty()) return;
    const QJsonObject c = choices.first().toObject();
    if (kind == GenerationRequest::Kind::Chat)
        ev->text = c.value(QLatin1String(chatKey)).toObject().value(QLatin1String("content")).toString();
    else
        ev->text = c.value(QLatin1String("text")).toString();
    const QJsonValue fr = c.value(QLatin1String("finish_reason"));
    if (fr.isString()) ev->finishReason = fr.toString();
}

}  // namespace

QByteArray requestBody(const GenerationRequest& r, bool stream) {
    QJsonObject o;
    o.insert(QStringLiteral("model"), r.model);
    if (r.kind == GenerationRequest::Kind::Chat) {
        QJsonArray msgs;
        for (const RemoteMessage& m : r.messages)
            msgs.append(QJsonObject{{QStringLiteral("role"), m.role}, {QStringLiteral("content"), m.content}});
        o.insert(QStringLiteral("messages"), msgs);
    } else {
        o.insert(QStringLiteral("prompt"), r.prompt);
    }
    if (r.maxTokens > 0) o.insert(QStringLiteral("max_tokens"), r.maxTokens);
    if (r.temperature) o.insert(QStringLiteral("temperature"), *r.temperature);
    if (r.topP) o.insert(QStringLiteral("top_p"), *r.topP);
    if (r.seed) o.insert(QStringLiteral("seed"), double(*r.seed));
    if (!r.stop.isEmpty()) o.insert(QStringLiteral("stop"), QJsonArray::fromStringList(r.stop));
    o.insert(QStringLiteral("stream"), stream);
    // The usage chunk tells how many tokens the prompt and reply took.
    if (stream) o.insert(QStringLiteral("stream_options"), QJsonObject{{QStringLiteral("include_usage"), true}});
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

StreamEvent parseStreamEvent(const QByteArray& data, GenerationRequest::Kind kind) {
    StreamEvent ev;
    const QByteArray t = data.trimmed();
    if (t == "[DONE]") {
        ev.type = StreamEvent::Type::Done;
        return ev;
    }
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(t, &pe);
    if (pe.error != QJsonParseError::NoError || !doc.isObject()) {
        ev.type = StreamEvent::Type::Error;
        ev.error = QStringLiteral("the server sent an unreadable stream event: %1")
                       .arg(QString::fromUtf8(t.left(200)));
        return ev;
    }
    const QJsonObject o = doc.object();
    if (o.contains(QLatin1String("error"))) {
        ev.type = StreamEvent::Type::Error;
        ev.error = messageOf(o.value(QLatin1String("error")));
        if (ev.error.isEmpty()) ev.error = QStringLiteral("the server reported an error without a message");
        return ev;
    }
    // vLLM's stream error before any choice: {"object": "error", "message": ...}
    if (o.value(QLatin1String("object")).toString() == QLatin1String("error")) {
        ev.type = StreamEvent::Type::Error;
        ev.error = messageOf(o);
        return ev;
    }
    ev.type = StreamEvent::Type::Delta;
    readChoice(o, kind, "delta", &ev);
    readUsage(o, &ev);
    return ev;
}

std::optional<StreamEvent> parseWholeReply(const QByteArray& body, GenerationRequest::Kind kind) {
    const QJsonDocument doc = QJsonDocument::fromJson(body);
    if (!doc.isObject()) return std::nullopt;
    const QJsonObject o = doc.object();
    if (o.contains(QLatin1String("error"))) {
        StreamEvent ev;
        ev.type = StreamEvent::Type::Error;
        ev.error = messageOf(o.value(QLatin1String("error")));
        return ev;
    }
    if (!o.value(QLatin1String("choices")).isArray()) return std::nullopt;
    StreamEvent ev;
    ev.type = StreamEvent::Type::Delta;
    readChoice(o, kind, "message", &ev);
    readUsage(o, &ev);
    return ev;
}

std::optional<QList<RemoteModel>> parseModelList(const QByteArray& body, QString* error) {
    const QJsonDocument doc = QJsonDocument::fromJson(body);
    const QJsonValue data = doc.object().value(QLatin1String("data"));
    if (!doc.isObject() || !data.isArray()) {
        if (error) *error = QStringLiteral("the server's /models answer is not a model list: %1").arg(QString::fromUtf8(body.left(200)));
        return std::nullopt;
    }
    QList<RemoteModel> out;
    for (const QJsonValue& v : data.toArray()) {
        const QJsonObject m = v.toObject();
        RemoteModel rm;
        rm.id = m.value(QLatin1String("id")).toString();
        if (rm.id.isEmpty()) continue;
        rm.maxModelLen = m.value(QLatin1String("max_model_len")).toInt(0);
        rm.ownedBy = m.value(QLatin1String("owned_by")).toString();
        out.append(rm);
    }
    return out;
}

QString errorMessage(const QByteArray& body) {
    const QJsonDocument doc = QJsonDocument::fromJson(body);
    if (doc.isObject()) {
        const QString m = messageOf(doc.object());
        if (!m.isEmpty()) return m;
    }
    QString text = QString::fromUtf8(body).simplified();
    if (text.size() > 300) text = text.left(300) + QStringLiteral("…");
    return text;
}

}  // namespace ld::remote
