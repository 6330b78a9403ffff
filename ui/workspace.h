#pragma once
// What the QML sees: the view models and controllers (handed in by main.cpp, which owns
// them) plus the few actions that need C++ (files, clipboard, model switching, search).
// Every error from the engine, the history store and the file system ends up in
// errorOccurred() as a readable sentence for the toast.
#include <QObject>
#include <QUrl>
#include <QVariantList>

namespace ld::history {
class HistoryStore;
class ConversationListModel;
}  // namespace ld::history
namespace ld::chat {
class EngineHost;
class ChatController;
}  // namespace ld::chat
namespace ld::settings {
class AppSettings;
}
namespace ld::remote {
class EngineRegistry;
}
class QSettings;

namespace ld::ui {

class MessagesModel;
class ModelListModel;

class Workspace : public QObject {
    Q_OBJECT
    Q_PROPERTY(QObject* settings READ settingsObject CONSTANT)
    Q_PROPERTY(QObject* engine READ engineObject CONSTANT)
    Q_PROPERTY(QObject* chat READ chatObject CONSTANT)
    Q_PROPERTY(QObject* conversations READ conversationsObject CONSTANT)
    Q_PROPERTY(QObject* messages READ messagesObject CONSTANT)
    Q_PROPERTY(QObject* models READ modelsObject CONSTANT)
    Q_PROPERTY(bool dark READ dark NOTIFY darkChanged)
    Q_PROPERTY(QVariantList searchResults READ searchResults NOTIFY searchResultsChanged)
    Q_PROPERTY(QString version READ version CONSTANT)
    // [{value, text, usable}] for the settings panel's device list (see refreshDevices()).
    Q_PROPERTY(QVariantList devices READ devices NOTIFY devicesChanged)
    // Remote engines: seconds a reply may take to start (a busy server queues and reads the
    // prompt first), and document-summary requests sent at once (a server batches them).
    Q_PROPERTY(int remoteFirstByteTimeout READ remoteFirstByteTimeout WRITE setRemoteFirstByteTimeout NOTIFY remoteOptionsChanged)
    Q_PROPERTY(int remoteMapConcurrency READ remoteMapConcurrency WRITE setRemoteMapConcurrency NOTIFY remoteOptionsChanged)
    // A local model's summary map steps at once (the engine runs them as sequences of one
    // batch); 0 = the engine's choice from its backend and free memory.
    Q_PROPERTY(int summaryMapSteps READ summaryMapSteps WRITE setSummaryMapSteps NOTIFY remoteOptionsChanged)
public:
    struct Parts {
        history::HistoryStore* store;
        chat::EngineHost* engine;
        chat::ChatController* chat;
        settings::AppSettings* settings;
        history::ConversationListModel* conversations;
        MessagesModel* messages;
        ModelListModel* models;
        remote::EngineRegistry* engines = nullptr;   // the remote engines (Settings → Engines)
        QSettings* engineSettings = nullptr;         // where the remote options are kept
    };
    explicit Workspace(const Parts& parts, QObject* parent = nullptr);

    QObject* settingsObject() const;
    QObject* engineObject() const;
    QObject* chatObject() const;
    QObject* conversationsObject() const;
    QObject* messagesObject() const;
    QObject* modelsObject() const;
    bool dark() const { return dark_; }
    QVariantList searchResults() const { return searchResults_; }
    QString version() const;
    QVariantList devices() const { return devices_; }
    int remoteFirstByteTimeout() const;
    int remoteMapConcurrency() const;
    void setRemoteFirstByteTimeout(int seconds);
    void setRemoteMapConcurrency(int requests);
    int summaryMapSteps() const;
    void setSummaryMapSteps(int steps);

    // Loads `path` with the current engine settings; on success it becomes the saved model,
    // on failure the previous model stays and the reason is shown. A chat::remoteModelKey
    // (a remote row of the model list) selects that engine's model instead.
    Q_INVOKABLE void selectModel(const QString& path);
    // Reloads the current model (after engine settings changed).
    Q_INVOKABLE void reloadModel();
    Q_INVOKABLE void addModelFile(const QUrl& url);
    Q_INVOKABLE void renameConversation(qint64 id, const QString& title);
    Q_INVOKABLE void deleteConversation(qint64 id);
    // format: "md" | "json"
    Q_INVOKABLE void exportConversation(qint64 id, const QUrl& file, const QString& format);
    Q_INVOKABLE void search(const QString& text);
    Q_INVOKABLE void copyText(const QString& text);
    Q_INVOKABLE QString exportFileName(const QString& title, const QString& format) const;
    // Lists the devices of `backend` on a pool thread (a Vulkan instance takes a while to make).
    Q_INVOKABLE void refreshDevices(const QString& backend);

signals:
    void darkChanged();
    void searchResultsChanged();
    void devicesChanged();
    void remoteOptionsChanged();
    void errorOccurred(const QString& message);
    void info(const QString& message);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void updateDark();

    Parts p_;
    bool dark_ = false;
    QVariantList searchResults_;
    quint64 searchGeneration_ = 0;
    QVariantList devices_;
    quint64 devicesGeneration_ = 0;
    QString lastRequestedModel_;
};

}  // namespace ld::ui
