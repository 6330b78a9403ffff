#include "app/remote/engine_registry.h"

#include <QUuid>

namespace ld::remote {

const QList<EnginePreset>& enginePresets() {
    static const QList<EnginePreset> presets{
        {QStringLiteral("vllm"), QStringLiteral("vLLM"), QUrl(QStringLiteral("http://127.0.0.1:8000/v1")),
         QStringLiteral("vllm serve MODEL --tensor-parallel-size N --api-key KEY (port 8000)")},
        {QStringLiteral("sglang"), QStringLiteral("SGLang"), QUrl(QStringLiteral("http://127.0.0.1:30000/v1")),
         QStringLiteral("python3 -m sglang.launch_server --model-path MODEL --tp N --api-key KEY (port 30000)")},
        {QStringLiteral("llama-server"), QStringLiteral("llama.cpp llama-server"), QUrl(QStringLiteral("http://127.0.0.1:8080/v1")),
         QStringLiteral("llama-server -m MODEL.gguf -c 8192 --api-key KEY (port 8080)")},
        {QStringLiteral("ollama"), QStringLiteral("Ollama"), QUrl(QStringLiteral("http://127.0.0.1:11434/v1")),
         QStringLiteral("ollama serve, models by ollama pull NAME (port 11434, OpenAI API under /v1)")},
        {QStringLiteral("llamadesk"), QStringLiteral("LlamaDesk server"), QUrl(QStringLiteral("http://127.0.0.1:8080/v1")),
         QStringLiteral("llamadesk-cli serve -m MODEL.gguf [--host 0.0.0.0 --api-key KEY] (port 8080)")},
    };
    return presets;
}

EngineRegistry::EngineRegistry(QSettings& settings, SecretStore& store) : settings_(settings), store_(store) {}

QList<EngineEntry> EngineRegistry::engines() const {
    QList<EngineEntry> out;
    const int n = settings_.beginReadArray(QStringLiteral("engines"));
    for (int i = 0; i < n; ++i) {
        settings_.setArrayIndex(i);
        EngineEntry e;
        e.id = settings_.value(QStringLiteral("id")).toString();
        e.name = settings_.value(QStringLiteral("name")).toString();
        e.baseUrl = QUrl(settings_.value(QStringLiteral("baseUrl")).toString());
        e.caFile = settings_.value(QStringLiteral("caFile")).toString();
        if (e.id.isEmpty() || !e.baseUrl.isValid()) continue;  // a damaged entry is skipped, not fatal
        out.append(e);
    }
    settings_.endArray();
    for (EngineEntry& e : out) e.hasKey = store_.read(secretKey(e.id)).has_value();
    return out;
}

void EngineRegistry::save(const QList<EngineEntry>& list) {
    settings_.remove(QStringLiteral("engines"));
    settings_.beginWriteArray(QStringLiteral("engines"), int(list.size()));
    for (int i = 0; i < list.size(); ++i) {
        settings_.setArrayIndex(i);
        settings_.setValue(QStringLiteral("id"), list[i].id);
        settings_.setValue(QStringLiteral("name"), list[i].name);
        settings_.setValue(QStringLiteral("baseUrl"), list[i].baseUrl.toString());
        settings_.setValue(QStringLiteral("caFile"), list[i].caFile);
    }
    settings_.endArray();
    settings_.sync();
}

QString EngineRegistry::add(const QString& name, const QString& baseUrl, const QString& apiKey, const QString& caFile,
                            QString* error) {
    const QString trimmed = name.trimmed();
    if (trimmed.isEmpty()) {
        if (error) *error = QStringLiteral("give the engine a name");
        return {};
    }
    QList<EngineEntry> list = engines();
    for (const EngineEntry& e : list)
        if (e.name.compare(trimmed, Qt::CaseInsensitive) == 0) {
            if (error) *error = QStringLiteral("there is already an engine named '%1'").arg(trimmed);
            return {};
        }
    EngineEntry e;
    e.baseUrl = parseBaseUrl(baseUrl, error);
    if (e.baseUrl.isEmpty()) return {};
    e.id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    e.name = trimmed;
    e.caFile = caFile;
    if (!apiKey.isEmpty() && !store_.write(secretKey(e.id), apiKey, error)) return {};
    e.hasKey = !apiKey.isEmpty();
    list.append(e);
    save(list);
    return e.id;
}

bool EngineRegistry::setApiKey(const QString& id, const QString& apiKey, QString* error) {
    for (const EngineEntry& e : engines()) {
        if (e.id != id) continue;
        if (apiKey.isEmpty()) {
            store_.remove(secretKey(id));
            return true;
        }
        return store_.write(secretKey(id), apiKey, error);
    }
    if (error) *error = QStringLiteral("no such engine");
    return false;
}

void EngineRegistry::remove(const QString& id) {
    QList<EngineEntry> list = engines();
    list.removeIf([&](const EngineEntry& e) { return e.id == id; });
    save(list);
    store_.remove(secretKey(id));
}

std::optional<RemoteEndpoint> EngineRegistry::endpoint(const QString& id) const {
    for (const EngineEntry& e : engines()) {
        if (e.id != id) continue;
        RemoteEndpoint ep;
        ep.baseUrl = e.baseUrl;
        ep.caFile = e.caFile;
        ep.apiKey = store_.read(secretKey(id)).value_or(QString());
        return ep;
    }
    return std::nullopt;
}

}  // namespace ld::remote
