#include "app/server/server_host.h"

#include <QHostAddress>
#include <QMetaObject>
#include <QNetworkInterface>
#include <QRandomGenerator>

#include "app/chat/engine_host.h"
#include "app/remote/secret_store.h"
#include "app/cli/server/http_server.h"
#include "app/server/engine_host_service.h"
#include "app/settings/app_settings.h"

namespace ld::server {

namespace {

constexpr size_t kSlots = 1;   // the app's engine runs one request at a time
constexpr size_t kQueue = 8;   // API requests waiting beyond it (more get 503)
const QString kKeyName = QStringLiteral("llamadesk/api-server");  // the key's name in the SecretStore

// The address other machines reach this one at (for the URL shown when remote access is on):
// the first IPv4 address of an interface that is up and not loopback.
QString lanAddress() {
    for (const QNetworkInterface& nif : QNetworkInterface::allInterfaces()) {
        const auto flags = nif.flags();
        if (!(flags & QNetworkInterface::IsUp) || (flags & QNetworkInterface::IsLoopBack)) continue;
        for (const QNetworkAddressEntry& e : nif.addressEntries())
            if (e.ip().protocol() == QAbstractSocket::IPv4Protocol) return e.ip().toString();
    }
    return QStringLiteral("0.0.0.0");
}

}  // namespace

ServerHost::ServerHost(chat::EngineHost* engine, settings::AppSettings* settings, remote::SecretStore* secrets,
                       QObject* parent)
    : QObject(parent), engine_(engine), settings_(settings), secrets_(secrets),
      service_(std::make_unique<EngineHostService>(engine, kSlots + kQueue)) {
    (void)secrets_->read(kKeyName);  // a keyring store starts reading it now
    keysReady_ = secrets_->ready();
    if (!keysReady_)
        secrets_->whenReady(this, [this] {
            keysReady_ = true;
            emit optionsChanged();  // the key is known now
            apply();
        });
    apply();
}

ServerHost::~ServerHost() {
    stopServer();
    for (Listener& l : listeners_) l.thread.join();
}

bool ServerHost::enabled() const { return settings_->apiServerEnabled(); }
int ServerHost::port() const { return settings_->apiServerPort(); }
QString ServerHost::apiKey() const { return secrets_->read(kKeyName).value_or(QString()); }
bool ServerHost::keyPersistent() const { return secrets_->persistent(); }
bool ServerHost::allowRemote() const { return settings_->apiServerAllowRemote(); }

void ServerHost::setEnabled(bool on) {
    if (on == enabled()) return;
    settings_->setApiServerEnabled(on);
    emit optionsChanged();
    apply();
}

void ServerHost::setPort(int port) {
    if (port == this->port()) return;
    settings_->setApiServerPort(port);
    emit optionsChanged();
    apply();
}

void ServerHost::setApiKey(const QString& key) {
    const QString k = key.trimmed();
    if (k == apiKey()) return;
    QString error;
    if (k.isEmpty())
        secrets_->remove(kKeyName);
    else if (!secrets_->write(kKeyName, k, &error))
        return setStatus(listening_, boundPort_, url_, tr("The key could not be saved: %1").arg(error), true);
    emit optionsChanged();
    apply();
}

void ServerHost::setAllowRemote(bool on) {
    if (on == allowRemote()) return;
    settings_->setApiServerAllowRemote(on);
    emit optionsChanged();
    apply();
}

void ServerHost::generateKey() {
    static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    QString key = QStringLiteral("ld-");
    for (int i = 0; i < 32; ++i) key += QLatin1Char(kChars[QRandomGenerator::system()->bounded(int(sizeof kChars - 1))]);
    setApiKey(key);
}

void ServerHost::setStatus(bool listening, int port, const QString& url, const QString& status, bool failed) {
    listening_ = listening;
    boundPort_ = port;
    url_ = url;
    status_ = status;
    failed_ = failed;
    emit statusChanged();
}

void ServerHost::stopServer() {
    if (!server_) return;
    // The API's jobs end first (the GUI's go on), so no request keeps the server's threads.
    service_->shutdown();
    server_->stop();
    server_.reset();
}

void ServerHost::apply() {
    stopServer();
    // Threads of servers switched off earlier that have finished by now.
    for (auto it = listeners_.begin(); it != listeners_.end();) {
        if (it->done->load()) {
            it->thread.join();
            it = listeners_.erase(it);
        } else {
            ++it;
        }
    }
    if (!enabled()) return setStatus(false, 0, {}, tr("Off."), false);
    if (!keysReady_) return setStatus(false, 0, {}, tr("Waiting for the keyring to answer…"), false);
    const bool remote = allowRemote();
    if (remote && apiKey().isEmpty())
        return setStatus(false, 0, {}, tr("Not started: serving other machines needs an API key. Set one, or allow this computer only."), true);

    ServerConfig cfg;
    cfg.host = remote ? "0.0.0.0" : "127.0.0.1";
    cfg.port = port();
    cfg.api_key = apiKey().toStdString();
    cfg.parallel = kSlots;
    cfg.queue = kQueue;
    auto server = std::make_shared<ApiServer>(cfg, *service_);
    int bound = 0;
    try {
        bound = server->bind();
    } catch (const std::exception& e) {
        return setStatus(false, 0, {}, tr("Not started: %1.").arg(QString::fromUtf8(e.what())), true);
    }
    service_->resume();
    server_ = server;
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread thread([this, server, done] {
        QString error;
        try {
            server->listen();
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
        done->store(true);
        if (error.isEmpty()) return;
        // Posted to the UI thread; dropped if this host is gone by then (its destructor joined us).
        QMetaObject::invokeMethod(this, [this, server, error] {
            if (server_ != server) return;
            server_.reset();
            service_->shutdown();
            setStatus(false, 0, {}, tr("Stopped: %1.").arg(error), true);
        }, Qt::QueuedConnection);
    });
    listeners_.push_back({std::move(thread), done});
    const QString host = remote ? lanAddress() : QStringLiteral("127.0.0.1");
    const QString url = QStringLiteral("http://%1:%2/v1").arg(host).arg(bound);
    setStatus(true, bound, url,
              remote ? tr("Listening on port %1 on every network interface (API key required).").arg(bound)
                     : tr("Listening on port %1, for this computer only.").arg(bound),
              false);
}

}  // namespace ld::server
