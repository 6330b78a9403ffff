#include "app/remote/keychain_secret_store.h"

#include <QEventLoop>
#include <QThread>
#include <QTimer>
#include <chrono>
#include <qt6keychain/keychain.h>

namespace ld::remote {

namespace {
// Read at start-up to learn whether a keyring answers: "not found" means it does.
const QString kCheckKey = QStringLiteral("llamadesk/keyring-check");
}  // namespace

KeychainSecretStore::KeychainSecretStore(const QString& service, QObject* parent) : QObject(parent), service_(service) {
    startCheck();
    // A keyring that never answers (a D-Bus name nobody serves, an event loop without GLib for
    // libsecret's callbacks) must not leave the app "checking" for ever.
    QTimer::singleShot(kCheckTimeoutMs, this, [this] {
        if (state() == State::Checking)
            fallBack(tr("the keyring did not answer within %1 s").arg(kCheckTimeoutMs / 1000));
    });
}

KeychainSecretStore::~KeychainSecretStore() {
    // A key saved just before the app quits is still on its way to the keyring (QtKeychain
    // starts its jobs from the event loop, which has stopped by now): let those jobs finish,
    // briefly. Reads are not waited for; nobody will use their answer.
    if (writesInFlight_ == 0 || QThread::currentThread() != thread()) return;
    QEventLoop loop;
    connect(this, &KeychainSecretStore::writesDone, &loop, &QEventLoop::quit);
    QTimer::singleShot(kExitWaitMs, &loop, &QEventLoop::quit);
    loop.exec();
}

KeychainSecretStore::State KeychainSecretStore::state() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return state_;
}

bool KeychainSecretStore::persistent() const { return state() == State::Keyring; }

QString KeychainSecretStore::unavailableReason() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return reason_;
}

int KeychainSecretStore::jobsInFlight() const { return inFlight_; }

void KeychainSecretStore::whenReady(QObject* context, std::function<void()> f) {
    if (inFlight_ == 0 && state() != State::Checking) {
        SecretStore::whenReady(context, std::move(f));
        return;
    }
    // Whichever comes first runs f; the other finds it taken.
    auto once = std::make_shared<std::function<void()>>(std::move(f));
    auto run = [once] {
        if (*once) std::exchange(*once, nullptr)();
    };
    auto connection = std::make_shared<QMetaObject::Connection>();
    *connection = connect(this, &KeychainSecretStore::settled, context, [run, connection] {
        QObject::disconnect(*connection);
        run();
    });
    QTimer::singleShot(kReadWaitMs, context, run);
}

void KeychainSecretStore::schedule(bool isWrite, std::function<void()> onStoreThread) const {
    // Counted now, so jobsInFlight() and the destructor see a job that has not started yet.
    ++inFlight_;
    if (isWrite) ++writesInFlight_;
    // Queued even on the store's thread: read() may be called from inside a view's data(),
    // where starting work at once would be surprising; QtKeychain queues its start anyway.
    QMetaObject::invokeMethod(const_cast<KeychainSecretStore*>(this), std::move(onStoreThread), Qt::QueuedConnection);
}

void KeychainSecretStore::startJob(QKeychain::Job* job, bool isWrite, const std::function<void(QKeychain::Job*)>& done) {
    // No parent: a job must outlive this store until it finishes, because libsecret's callback
    // holds a raw pointer to it. autoDelete frees it after finished(); the connection's context
    // (this) drops the handler when the store is gone first. The job was counted in flight
    // when it was asked for (see schedule()).
    job->setAutoDelete(true);
    connect(job, &QKeychain::Job::finished, this, [this, done, isWrite](QKeychain::Job* j) {
        done(j);
        if (isWrite && --writesInFlight_ == 0) emit writesDone();
        if (--inFlight_ == 0) emit settled();
    });
    job->start();
}

void KeychainSecretStore::startCheck() {
    auto* job = new QKeychain::ReadPasswordJob(service_);
    job->setKey(kCheckKey);
    ++inFlight_;
    startJob(job, false, [this](QKeychain::Job* j) {
        if (j->error() == QKeychain::NoError || j->error() == QKeychain::EntryNotFound)
            noteKeyringWorks();
        else
            fallBack(j->errorString());
    });
}

void KeychainSecretStore::noteKeyringWorks() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (state_ != State::Checking) return;
        state_ = State::Keyring;
    }
    emit stateChanged();
}

void KeychainSecretStore::fallBack(const QString& reason) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (state_ == State::SessionOnly) return;
        state_ = State::SessionOnly;
        reason_ = reason.isEmpty() ? tr("no keyring is available") : reason;
        // Nothing more comes from the keyring: keys not written in this session are unknown.
        for (Entry& e : entries_)
            if (e.have == Have::Pending) e.have = Have::Absent;
    }
    arrived_.notify_all();
    emit stateChanged();
    emit keysChanged();
}

void KeychainSecretStore::startRead(const QString& key, quint64 generation) {
    if (state() == State::SessionOnly) {  // asked for before the keyring was found missing
        if (--inFlight_ == 0) emit settled();
        return;
    }
    auto* job = new QKeychain::ReadPasswordJob(service_);
    job->setKey(key);
    startJob(job, false, [this, key, generation](QKeychain::Job* j) {
        const auto* rj = static_cast<QKeychain::ReadPasswordJob*>(j);
        const QKeychain::Error err = j->error();
        if (err != QKeychain::NoError && err != QKeychain::EntryNotFound && state() == State::Checking) {
            fallBack(j->errorString());
            return;
        }
        if (err == QKeychain::NoError || err == QKeychain::EntryNotFound) noteKeyringWorks();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (state_ == State::SessionOnly) return;  // fallBack already resolved it
            auto it = entries_.find(key);
            // A write or removal since this read started is newer than what the keyring had.
            if (it == entries_.end() || it->generation != generation) return;
            it->have = err == QKeychain::NoError ? Have::Present : Have::Absent;
            it->value = err == QKeychain::NoError ? rj->textData() : QString();
        }
        arrived_.notify_all();
        if (err != QKeychain::NoError && err != QKeychain::EntryNotFound)
            emit failed(tr("An API key could not be read from the keyring: %1").arg(j->errorString()));
        emit keysChanged();
    });
}

std::optional<QString> KeychainSecretStore::read(const QString& key) const {
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        if (state_ == State::SessionOnly) return std::nullopt;
        const quint64 generation = nextGeneration_++;
        it = entries_.insert(key, Entry{Have::Pending, {}, generation});
        schedule(false, [self = const_cast<KeychainSecretStore*>(this), key, generation] { self->startRead(key, generation); });
    }
    if (it->have == Have::Pending) {
        // The store's thread runs the jobs: waiting there would wait for ever (and hang the UI).
        if (QThread::currentThread() == thread()) return std::nullopt;
        arrived_.wait_for(lock, std::chrono::milliseconds(kReadWaitMs), [&] {
            auto e = entries_.constFind(key);
            return e == entries_.constEnd() || e->have != Have::Pending;
        });
        it = entries_.find(key);
        if (it == entries_.end()) return std::nullopt;
    }
    return it->have == Have::Present ? std::optional<QString>(it->value) : std::nullopt;
}

bool KeychainSecretStore::write(const QString& key, const QString& secret, QString*) {
    bool toKeyring = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        entries_.insert(key, Entry{Have::Present, secret, nextGeneration_++});
        toKeyring = state_ != State::SessionOnly;
    }
    arrived_.notify_all();
    if (!toKeyring) return true;
    schedule(true, [this, key, secret] {
        auto* job = new QKeychain::WritePasswordJob(service_);
        job->setKey(key);
        job->setTextData(secret);
        startJob(job, true, [this](QKeychain::Job* j) {
            if (j->error() == QKeychain::NoError) {
                noteKeyringWorks();
            } else if (state() == State::Checking) {
                fallBack(j->errorString());  // the key stays in memory; the UI says session only
            } else if (state() == State::Keyring) {
                emit failed(tr("The API key could not be saved in the keyring (%1); it is kept for this session only.")
                                .arg(j->errorString()));
            }
        });
    });
    return true;
}

void KeychainSecretStore::remove(const QString& key) {
    bool toKeyring = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        entries_.insert(key, Entry{Have::Absent, {}, nextGeneration_++});
        toKeyring = state_ != State::SessionOnly;
    }
    arrived_.notify_all();
    if (!toKeyring) return;
    schedule(true, [this, key] {
        auto* job = new QKeychain::DeletePasswordJob(service_);
        job->setKey(key);
        startJob(job, true, [this](QKeychain::Job* j) {
            const QKeychain::Error err = j->error();
            if (err == QKeychain::NoError || err == QKeychain::EntryNotFound) return;
            if (state() == State::Checking)
                fallBack(j->errorString());
            else if (state() == State::Keyring)
                emit failed(tr("The API key could not be removed from the keyring: %1").arg(j->errorString()));
        });
    });
}

}  // namespace ld::remote
