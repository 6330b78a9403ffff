#pragma once
// The user's settings, persisted with QSettings and exposed as properties for the settings
// panel. Each setter writes through at once, so nothing is lost when the app is killed.
#include <QObject>
#include <QRect>
#include <QSettings>
#include <QStringList>
#include <QUrl>
#include <memory>

#include "app/chat/chat_types.h"

namespace ld::settings {

class AppSettings : public QObject {
    Q_OBJECT
    Q_PROPERTY(QString modelPath READ modelPath WRITE setModelPath NOTIFY changed)
    Q_PROPERTY(QStringList extraModels READ extraModels WRITE setExtraModels NOTIFY changed)
    Q_PROPERTY(QString backend READ backend WRITE setBackend NOTIFY changed)
    Q_PROPERTY(QString device READ device WRITE setDevice NOTIFY changed)  // "" = best available
    Q_PROPERTY(int threads READ threads WRITE setThreads NOTIFY changed)
    Q_PROPERTY(int contextLength READ contextLength WRITE setContextLength NOTIFY changed)
    Q_PROPERTY(double temperature READ temperature WRITE setTemperature NOTIFY changed)
    Q_PROPERTY(int topK READ topK WRITE setTopK NOTIFY changed)
    Q_PROPERTY(double topP READ topP WRITE setTopP NOTIFY changed)
    Q_PROPERTY(double minP READ minP WRITE setMinP NOTIFY changed)
    Q_PROPERTY(double repeatPenalty READ repeatPenalty WRITE setRepeatPenalty NOTIFY changed)
    Q_PROPERTY(int maxTokens READ maxTokens WRITE setMaxTokens NOTIFY changed)
    Q_PROPERTY(QString systemPrompt READ systemPrompt WRITE setSystemPrompt NOTIFY changed)
    Q_PROPERTY(QString theme READ theme WRITE setTheme NOTIFY changed)  // "system" | "light" | "dark"
    // "Speed up replies": "off" (default) | "lookup" | "draft", and the draft model's file.
    Q_PROPERTY(QString speedUp READ speedUp WRITE setSpeedUp NOTIFY changed)
    Q_PROPERTY(QString draftModelPath READ draftModelPath WRITE setDraftModelPath NOTIFY changed)
    // Where the file dialogs open: the last folder one was used in, else Documents, else home.
    Q_PROPERTY(QUrl dialogFolder READ dialogFolder NOTIFY dialogFolderChanged)
public:
    // The app's settings (QSettings' native place for LlamaDesk).
    explicit AppSettings(QObject* parent = nullptr);
    // Settings in an INI file (tests).
    explicit AppSettings(const QString& iniPath, QObject* parent = nullptr);

    QString modelPath() const;
    QStringList extraModels() const;
    QString backend() const;
    QString device() const;
    int threads() const;
    int contextLength() const;
    double temperature() const;
    int topK() const;
    double topP() const;
    double minP() const;
    double repeatPenalty() const;
    int maxTokens() const;
    QString systemPrompt() const;
    QString theme() const;
    QString speedUp() const;
    QString draftModelPath() const;

    void setModelPath(const QString& v);
    void setExtraModels(const QStringList& v);
    void setBackend(const QString& v);
    void setDevice(const QString& v);
    void setThreads(int v);
    void setContextLength(int v);
    void setTemperature(double v);
    void setTopK(int v);
    void setTopP(double v);
    void setMinP(double v);
    void setRepeatPenalty(double v);
    void setMaxTokens(int v);
    void setSystemPrompt(const QString& v);
    void setTheme(const QString& v);
    void setSpeedUp(const QString& v);  // anything but the three modes is ignored
    void setDraftModelPath(const QString& v);

    Q_INVOKABLE void addExtraModel(const QString& path);

    // Window and dialog state. Not preferences: these do not emit changed(), which makes the
    // settings panel and the model library read everything again.
    QUrl dialogFolder() const;
    // `chosen` is what a dialog returned (a file, or a folder for a folder dialog); a file
    // that does not exist yet (a save dialog's) counts by its folder.
    Q_INVOKABLE void rememberDialogFolder(const QUrl& chosen);
    // `name` in dialogFolder(), for a save dialog's suggested file.
    Q_INVOKABLE QUrl dialogFile(const QString& name) const;
    // The window's normal (not maximized) geometry; an empty rect when none was saved.
    Q_INVOKABLE QRect windowGeometry() const;
    Q_INVOKABLE bool windowMaximized() const;
    Q_INVOKABLE void saveWindow(const QRect& normalGeometry, bool maximized);
    Q_INVOKABLE void resetSampling();

    // Settings → Local API server (app/server/server_host.h exposes them to QML): off by
    // default, port 8080, loopback only unless allowRemote (which needs a key).
    bool apiServerEnabled() const;
    int apiServerPort() const;
    bool apiServerAllowRemote() const;
    void setApiServerEnabled(bool v);
    void setApiServerPort(int v);
    void setApiServerAllowRemote(bool v);

    chat::EngineConfig engineConfig() const;   // for modelPath()
    chat::SamplingConfig sampling() const;
    chat::SpeculationConfig speculation() const;  // also in engineConfig()
    // Backends this build can use, for the settings panel: "auto", "cpu", then GPUs.
    Q_INVOKABLE QStringList availableBackends() const;

signals:
    void changed();
    void dialogFolderChanged();

private:
    void write(const char* key, const QVariant& value);
    QVariant read(const char* key, const QVariant& fallback) const;
    std::unique_ptr<QSettings> s_;
};

}  // namespace ld::settings
