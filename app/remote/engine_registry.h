#pragma once
// The remote engines the user has added (Settings → Engines): name, base URL and CA file in the
// settings, the API key in a SecretStore (never in the settings file). Presets with one-line help
// for the servers people run. The GUI page on top of it is a later step.
#include <QList>
#include <QSettings>
#include <QString>
#include <QUrl>
#include <optional>

#include "app/remote/endpoint.h"
#include "app/remote/secret_store.h"

namespace ld::remote {

struct EnginePreset {
    QString kind;        // "vllm", "sglang", "llama-server", "ollama", "llamadesk"
    QString label;       // "vLLM"
    QUrl baseUrl;        // the default base URL on this machine
    QString help;        // one line: how to start it
};
const QList<EnginePreset>& enginePresets();

struct EngineEntry {
    QString id;          // stable, for settings and the key's name in the store
    QString name;        // shown in the model picker beside the model ids
    QUrl baseUrl;
    QString caFile;
    bool hasKey = false;
};

class EngineRegistry {
public:
    // settings: where the list lives (group "engines"); store: where keys go. Both outlive this.
    EngineRegistry(QSettings& settings, SecretStore& store);

    QList<EngineEntry> engines() const;
    // Adds an engine; empty with *error for an empty or taken name, or a bad URL.
    QString add(const QString& name, const QString& baseUrl, const QString& apiKey, const QString& caFile, QString* error);
    bool setApiKey(const QString& id, const QString& apiKey, QString* error);
    void remove(const QString& id);
    // The endpoint to talk to, its key read from the store; nullopt for an unknown id.
    std::optional<RemoteEndpoint> endpoint(const QString& id) const;
    bool keysPersistent() const { return store_.persistent(); }

private:
    void save(const QList<EngineEntry>& list);
    static QString secretKey(const QString& id) { return QStringLiteral("llamadesk/engine/") + id; }
    QSettings& settings_;
    SecretStore& store_;
};

}  // namespace ld::remote
