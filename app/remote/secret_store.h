#pragma once
// Where API keys of remote engines are kept: behind this interface so the settings file never
// holds them in clear. The desktop keyring (QtKeychain, a later step) implements it for the
// app; MemorySecretStore keeps keys for the session only — what the app falls back to without
// a keyring (and says so, through persistent()) and what tests use.
#include <QHash>
#include <QObject>
#include <QString>
#include <functional>
#include <mutex>
#include <optional>

namespace ld::remote {

class SecretStore {
public:
    virtual ~SecretStore() = default;
    // False when the secrets are lost when the app exits (no keyring): the UI says so.
    virtual bool persistent() const = 0;
    virtual bool write(const QString& key, const QString& secret, QString* error) = 0;
    virtual std::optional<QString> read(const QString& key) const = 0;
    virtual void remove(const QString& key) = 0;
    // Runs `f` once (on `context`'s thread, unless context is gone) when the keys asked for so far
    // have answered: at start-up a store may still be reading them (the keyring), and a remote
    // model remembered from the last session must not be loaded without its key. At once here.
    virtual void whenReady(QObject* context, std::function<void()> f) {
        QMetaObject::invokeMethod(context, std::move(f), Qt::QueuedConnection);
    }
    // Whether every key asked for so far has answered (whenReady would run at once). Always here.
    virtual bool ready() const { return true; }
};

class MemorySecretStore final : public SecretStore {
public:
    bool persistent() const override { return false; }
    bool write(const QString& key, const QString& secret, QString*) override {
        std::lock_guard<std::mutex> lock(mutex_);
        secrets_.insert(key, secret);
        return true;
    }
    std::optional<QString> read(const QString& key) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = secrets_.constFind(key);
        return it == secrets_.constEnd() ? std::nullopt : std::optional<QString>(*it);
    }
    void remove(const QString& key) override {
        std::lock_guard<std::mutex> lock(mutex_);
        secrets_.remove(key);
    }

private:
    mutable std::mutex mutex_;
    QHash<QString, QString> secrets_;
};

}  // namespace ld::remote
