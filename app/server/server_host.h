#pragma once
// Settings → "Local API server": the app's OpenAI-compatible server (the same HTTP layer as
// `llamadesk-cli serve`, app/cli/server) answering with the model the app has loaded, through
// its EngineHost. Off by default; loopback only unless the user opts in, and then only with an
// API key. The options persist in AppSettings; each change restarts the server.
//
// The UI thread binds the socket (so "port in use" shows at once) and never waits for the
// server: it listens on its own thread, and switching off ends every API job first, so that
// thread ends on its own.
#include <QObject>
#include <QString>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace ld::chat {
class EngineHost;
}
namespace ld::settings {
class AppSettings;
}
namespace ld::remote {
class SecretStore;
}

namespace ld::server {

class ApiServer;
class EngineHostService;

class ServerHost : public QObject {
    Q_OBJECT
    Q_PROPERTY(bool enabled READ enabled WRITE setEnabled NOTIFY optionsChanged)
    Q_PROPERTY(int port READ port WRITE setPort NOTIFY optionsChanged)  // 0: any free port
    Q_PROPERTY(QString apiKey READ apiKey WRITE setApiKey NOTIFY optionsChanged)
    Q_PROPERTY(bool allowRemote READ allowRemote WRITE setAllowRemote NOTIFY optionsChanged)
    // The key is kept in the desktop keyring; false: there is none, and the key lasts this session.
    Q_PROPERTY(bool keyPersistent READ keyPersistent NOTIFY optionsChanged)
    Q_PROPERTY(bool listening READ listening NOTIFY statusChanged)
    Q_PROPERTY(int boundPort READ boundPort NOTIFY statusChanged)
    // The base URL OpenAI clients take ("http://127.0.0.1:8080/v1"); empty when not listening.
    Q_PROPERTY(QString url READ url NOTIFY statusChanged)
    Q_PROPERTY(QString status READ status NOTIFY statusChanged)  // one sentence for the page
    Q_PROPERTY(bool failed READ failed NOTIFY statusChanged)     // status is an error
public:
    // The API key lives in `secrets` (the keyring), never in the settings file. At start-up the
    // server waits for the keyring's answer before it listens, so it never runs without the key
    // the user set.
    ServerHost(chat::EngineHost* engine, settings::AppSettings* settings, remote::SecretStore* secrets,
               QObject* parent = nullptr);
    ~ServerHost() override;  // ends the API's jobs and joins the server threads

    bool enabled() const;
    int port() const;
    QString apiKey() const;
    bool allowRemote() const;
    bool keyPersistent() const;
    void setEnabled(bool on);
    void setPort(int port);
    void setApiKey(const QString& key);
    void setAllowRemote(bool on);

    bool listening() const { return listening_; }
    int boundPort() const { return boundPort_; }
    QString url() const { return url_; }
    QString status() const { return status_; }
    bool failed() const { return failed_; }

    // A new random key (32 letters and digits), saved; the server restarts with it.
    Q_INVOKABLE void generateKey();

signals:
    void optionsChanged();
    void statusChanged();

private:
    void apply();  // (re)starts or stops the server as the options say
    void stopServer();
    void setStatus(bool listening, int port, const QString& url, const QString& status, bool failed);

    chat::EngineHost* engine_;
    settings::AppSettings* settings_;
    remote::SecretStore* secrets_;
    bool keysReady_ = false;             // the keyring has answered (apply() waits for it)
    std::unique_ptr<EngineHostService> service_;
    std::shared_ptr<ApiServer> server_;  // the one listening, if any
    struct Listener {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };
    std::vector<Listener> listeners_;  // joined once done, or in the destructor
    bool listening_ = false;
    int boundPort_ = 0;
    QString url_;
    QString status_;
    bool failed_ = false;
};

}  // namespace ld::server
