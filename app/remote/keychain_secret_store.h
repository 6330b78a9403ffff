#pragma once
// API keys in the desktop keyring (Secret Service through libsecret, or KWallet) by QtKeychain.
//
// QtKeychain's jobs are asynchronous and SecretStore::read is synchronous, so this store keeps a
// cache: reads answer from it at once, and a key not cached yet starts a keyring read. On the
// store's own thread (the UI thread in the app) read() never waits: it answers nullopt until the
// key arrives, and keysChanged() tells the view to ask again. On any other thread (a worker
// about to call a remote engine) read() waits for the keyring's answer, at most kReadWaitMs.
// Writes and removals change the cache at once and go to the keyring in the background; a
// failure is reported by failed(). The destructor lets writes still on their way finish (at most
// kExitWaitMs), so a key saved just before the app quits is not lost.
//
// The jobs run on the store's thread, not on a worker of ours: QtKeychain hands every job of the
// process to one executor object that lives on the thread of the first job, so a thread of ours
// that ended would stall every later job. The libsecret and KWallet paths are asynchronous
// D-Bus calls; the only blocking one is QtKeychain's KDE check for kwalletd (at most 500 ms,
// once per process, on KDE Plasma only).
//
// Without a keyring (no D-Bus session, no Secret Service, a keyring that does not answer within
// kCheckTimeoutMs) the store falls back to keeping keys in memory for the session, like
// MemorySecretStore: persistent() is false and unavailableReason() says why, for the UI.
#include <QHash>
#include <QObject>
#include <QString>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "app/remote/secret_store.h"

namespace QKeychain {
class Job;
}

namespace ld::remote {

class KeychainSecretStore final : public QObject, public SecretStore {
    Q_OBJECT
public:
    enum class State {
        Checking,     // the first keyring answer has not come yet
        Keyring,      // keys persist in the desktop keyring
        SessionOnly,  // no keyring: keys are kept in memory until the app exits
    };
    static constexpr int kCheckTimeoutMs = 10000;
    static constexpr int kReadWaitMs = 5000;
    static constexpr int kExitWaitMs = 3000;  // the destructor's wait for writes on their way

    // service: the keyring's name for the app's entries ("LlamaDesk"; tests use their own).
    explicit KeychainSecretStore(const QString& service = QStringLiteral("LlamaDesk"), QObject* parent = nullptr);
    ~KeychainSecretStore() override;

    bool persistent() const override;
    // Always true: the key is in the cache at once; a keyring failure comes later by failed().
    bool write(const QString& key, const QString& secret, QString* error) override;
    std::optional<QString> read(const QString& key) const override;
    void remove(const QString& key) override;
    // After settled(), or after kReadWaitMs when a job hangs (a keyring prompt nobody answers).
    void whenReady(QObject* context, std::function<void()> f) override;
    bool ready() const override { return inFlight_ == 0 && state() != State::Checking; }

    State state() const;
    QString unavailableReason() const;  // why SessionOnly, in plain words; empty otherwise
    int jobsInFlight() const;           // keyring jobs asked for and not finished (tests wait for 0)

signals:
    void stateChanged();
    void keysChanged();                 // a key read from the keyring arrived (hasKey may differ)
    void failed(const QString& message);
    void settled();                     // jobsInFlight() dropped to 0
    void writesDone();                  // no write or removal is on its way to the keyring

private:
    enum class Have { Pending, Present, Absent };
    struct Entry {
        Have have = Have::Pending;
        QString value;
        quint64 generation = 0;         // bumped by each write/remove: older reads are stale
    };

    void startCheck();
    void startRead(const QString& key, quint64 generation);
    void startJob(QKeychain::Job* job, bool isWrite, const std::function<void(QKeychain::Job*)>& done);
    void fallBack(const QString& reason);            // -> SessionOnly; pending reads resolve as absent
    void noteKeyringWorks();                         // Checking -> Keyring
    void schedule(bool isWrite, std::function<void()> onStoreThread) const;

    const QString service_;
    mutable std::mutex mutex_;
    mutable std::condition_variable arrived_;
    mutable QHash<QString, Entry> entries_;
    State state_ = State::Checking;
    QString reason_;
    mutable std::atomic<int> inFlight_{0};           // jobs asked for and not finished
    mutable std::atomic<int> writesInFlight_{0};     // ... of them writes and removals
    mutable quint64 nextGeneration_ = 1;
};

}  // namespace ld::remote
