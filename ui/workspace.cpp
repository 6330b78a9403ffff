#include "ui/workspace.h"

#include <QClipboard>
#include <QCoreApplication>
#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QGuiApplication>
#include <QPalette>
#include <QRegularExpression>
#include <QFutureWatcher>
#include <QSaveFile>
#include <QSettings>
#include <QtConcurrent/QtConcurrentRun>

#include "app/chat/chat_controller.h"
#include "app/chat/devices.h"
#include "app/chat/engine_host.h"
#include "app/history/conversation_list_model.h"
#include "app/history/history_store.h"
#include "app/remote/engine_registry.h"
#include "app/settings/app_settings.h"
#include "ui/messages_model.h"
#include "ui/model_list_model.h"
#include "ui/text_format.h"

namespace ld::ui {

using namespace ld::history;

Workspace::Workspace(const Parts& parts, QObject* parent) : QObject(parent), p_(parts) {
    connect(p_.chat, &chat::ChatController::errorOccurred, this, &Workspace::errorOccurred);
    connect(p_.conversations, &ConversationListModel::errorOccurred, this, &Workspace::errorOccurred);
    connect(p_.store, &HistoryStore::storageError, this, &Workspace::errorOccurred);
    connect(p_.store, &HistoryStore::notice, this, &Workspace::info);
    connect(p_.engine, &chat::EngineHost::modelLoaded, this, [this](const chat::ModelInfo& m) {
        p_.settings->setModelPath(m.path);
        if (p_.models->rowOfPath(m.path) < 0) p_.models->refresh();
        emit info(QStringLiteral("Loaded %1 (%2).").arg(m.name, m.backend));
    });
    connect(p_.engine, &chat::EngineHost::modelLoadFailed, this, [this](const QString& path, const QString& error) {
        const QString still = p_.engine->modelReady() ? QStringLiteral(" Still using %1.").arg(p_.engine->modelName()) : QString();
        QString engineId, model;
        const QString name = chat::parseRemoteModelKey(path, &engineId, &model) ? model : QFileInfo(path).fileName();
        emit errorOccurred(QStringLiteral("Could not load %1: %2%3").arg(name, error, still));
    });
    // A remote reply cut half-way is kept and marked interrupted; this says why.
    connect(p_.engine, &chat::EngineHost::finished, this, [this](const chat::GenerationOutcome& out) {
        if (!out.error.isEmpty()) emit errorOccurred(out.error);
    });
    connect(p_.settings, &settings::AppSettings::changed, this, &Workspace::updateDark);
    // "Speed up replies" applies to the loaded model at once (the engine ignores the same setting again).
    connect(p_.settings, &settings::AppSettings::changed, this, [this] { p_.engine->setSpeculation(p_.settings->speculation()); });
    connect(p_.engine, &chat::EngineHost::speculationFailed, this, &Workspace::errorOccurred);
    qApp->installEventFilter(this);
    updateDark();
}

QObject* Workspace::settingsObject() const { return p_.settings; }
QObject* Workspace::engineObject() const { return p_.engine; }
QObject* Workspace::chatObject() const { return p_.chat; }
QObject* Workspace::conversationsObject() const { return p_.conversations; }
QObject* Workspace::messagesObject() const { return p_.messages; }
QObject* Workspace::modelsObject() const { return p_.models; }
QString Workspace::version() const { return QCoreApplication::applicationVersion(); }

bool Workspace::eventFilter(QObject* watched, QEvent* event) {
    if (watched == qApp && event->type() == QEvent::ApplicationPaletteChange) updateDark();
    return QObject::eventFilter(watched, event);
}

void Workspace::updateDark() {
    // Qt 6.4 has no colour-scheme API: "system" follows the platform palette's window colour.
    const QString theme = p_.settings->theme();
    const bool dark = theme == QLatin1String("dark") ||
                      (theme == QLatin1String("system") && QGuiApplication::palette().color(QPalette::Window).lightness() < 128);
    if (dark == dark_) return;
    dark_ = dark;
    emit darkChanged();
}

void Workspace::selectModel(const QString& path) {
    if (path.isEmpty()) return;
    chat::EngineConfig c = p_.settings->engineConfig();
    c.modelPath = path;
    if (QString engineId, model; chat::parseRemoteModelKey(path, &engineId, &model)) {
        std::optional<remote::RemoteEndpoint> ep = p_.engines ? p_.engines->endpoint(engineId) : std::nullopt;
        if (!ep) {
            emit errorOccurred(QStringLiteral("The engine of %1 is no longer in Settings → Engines.").arg(model));
            return;
        }
        for (const remote::EngineEntry& e : p_.engines->engines())
            if (e.id == engineId) c.remoteEngineName = e.name;
        c.remoteEngineId = engineId;
        c.remoteModel = model;
        c.remoteEndpoint = *ep;
        c.remoteEndpoint.firstByteTimeoutMs = remoteFirstByteTimeout() * 1000;
    }
    if (p_.chat->busy()) p_.chat->stop();  // the engine thread takes the load after the reply ends
    p_.engine->load(c);
}

int Workspace::remoteFirstByteTimeout() const {
    const int s = p_.engineSettings ? p_.engineSettings->value(QStringLiteral("remote/firstByteTimeoutSeconds"), 120).toInt() : 120;
    return std::clamp(s, 5, 3600);
}

int Workspace::remoteMapConcurrency() const {
    const int n = p_.engineSettings ? p_.engineSettings->value(QStringLiteral("remote/mapConcurrency"), 4).toInt() : 4;
    return std::clamp(n, 1, 64);
}

void Workspace::setRemoteFirstByteTimeout(int seconds) {
    if (!p_.engineSettings || seconds == remoteFirstByteTimeout()) return;
    p_.engineSettings->setValue(QStringLiteral("remote/firstByteTimeoutSeconds"), std::clamp(seconds, 5, 3600));
    emit remoteOptionsChanged();
}

void Workspace::setRemoteMapConcurrency(int requests) {
    if (!p_.engineSettings || requests == remoteMapConcurrency()) return;
    p_.engineSettings->setValue(QStringLiteral("remote/mapConcurrency"), std::clamp(requests, 1, 64));
    emit remoteOptionsChanged();
}

int Workspace::summaryMapSteps() const {
    const int n = p_.engineSettings ? p_.engineSettings->value(QStringLiteral("documents/summaryMapSteps"), 0).toInt() : 0;
    return std::clamp(n, 0, 64);
}

void Workspace::setSummaryMapSteps(int steps) {
    if (!p_.engineSettings || steps == summaryMapSteps()) return;
    p_.engineSettings->setValue(QStringLiteral("documents/summaryMapSteps"), std::clamp(steps, 0, 64));
    emit remoteOptionsChanged();
}

void Workspace::reloadModel() {
    const QString path = p_.engine->modelReady() ? p_.engine->modelPath() : p_.settings->modelPath();
    if (!path.isEmpty()) selectModel(path);
}

void Workspace::addModelFile(const QUrl& url) {
    const QString path = url.isLocalFile() ? url.toLocalFile() : url.toString();
    if (!QFileInfo(path).isFile()) {
        emit errorOccurred(QStringLiteral("%1 is not a file.").arg(path));
        return;
    }
    p_.settings->addExtraModel(path);
    p_.models->refresh();
    selectModel(path);
}

void Workspace::renameConversation(qint64 id, const QString& title) {
    // Through the controller: it keeps the window title current and the model's automatic
    // title from replacing the user's.
    p_.chat->renameConversation(id, title);
}

void Workspace::deleteConversation(qint64 id) {
    if (id == p_.chat->conversationId()) p_.chat->newChat();
    p_.store->deleteConversation(id).then(this, [this](const Status& s) {
        if (!s) emit errorOccurred(s.error());
    });
}

QString Workspace::exportFileName(const QString& title, const QString& format) const {
    QString base = title;
    base.replace(QRegularExpression(QStringLiteral("[^\\w\\- ]+")), QString());
    base = base.simplified().left(60);
    if (base.isEmpty()) base = QStringLiteral("conversation");
    return base + (format == QLatin1String("json") ? QStringLiteral(".json") : QStringLiteral(".md"));
}

void Workspace::exportConversation(qint64 id, const QUrl& file, const QString& format) {
    const QString path = file.isLocalFile() ? file.toLocalFile() : file.toString();
    // The file is written on the store's thread, where the export is produced.
    auto write = [path](const QByteArray& bytes) -> QString {
        QSaveFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit())
            return QStringLiteral("Could not write %1: %2").arg(path, f.errorString());
        return {};
    };
    auto report = [this, path](const QString& error) {
        if (error.isEmpty()) emit info(QStringLiteral("Exported to %1.").arg(path));
        else emit errorOccurred(error);
    };
    if (format == QLatin1String("json")) {
        p_.store->exportJson({id})
            .then([write](const Result<QByteArray>& r) { return r ? write(r.value()) : r.error(); })
            .then(this, report);
    } else {
        p_.store->exportMarkdown({id})
            .then([write](const Result<QString>& r) { return r ? write(r.value().toUtf8()) : r.error(); })
            .then(this, report);
    }
}

void Workspace::search(const QString& text) {
    const quint64 generation = ++searchGeneration_;
    if (text.trimmed().isEmpty()) {
        searchResults_.clear();
        emit searchResultsChanged();
        return;
    }
    SearchOptions o;
    o.limit = 50;
    // Private-use markers, not HTML: the snippet's own text is escaped around them.
    o.highlightOpen = QString(kHighlightOpen);
    o.highlightClose = QString(kHighlightClose);
    p_.store->search(text, o).then(this, [this, generation](const Result<QList<SearchHit>>& hits) {
        if (generation != searchGeneration_) return;  // the user typed on
        searchResults_.clear();
        if (!hits) {
            emit errorOccurred(hits.error());
        } else {
            for (const SearchHit& h : hits.value())
                searchResults_.append(QVariantMap{{QStringLiteral("conversationId"), h.conversationId},
                                                  {QStringLiteral("title"), h.conversationTitle},
                                                  {QStringLiteral("snippet"), highlightedSnippet(h.snippet)},
                                                  {QStringLiteral("role"), h.role}});
        }
        emit searchResultsChanged();
    });
}

void Workspace::refreshDevices(const QString& backend) {
    const quint64 generation = ++devicesGeneration_;
    auto* watcher = new QFutureWatcher<QList<chat::DeviceChoice>>(this);
    connect(watcher, &QFutureWatcher<QList<chat::DeviceChoice>>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        if (generation != devicesGeneration_) return;
        devices_.clear();
        for (const chat::DeviceChoice& d : watcher->result())
            devices_.append(QVariantMap{{QStringLiteral("value"), d.value}, {QStringLiteral("text"), d.text},
                                        {QStringLiteral("usable"), d.usable}});
        emit devicesChanged();
    });
    watcher->setFuture(QtConcurrent::run([backend] { return chat::listDevices(backend); }));
}

void Workspace::copyText(const QString& text) {
    if (auto* cb = QGuiApplication::clipboard()) cb->setText(text);
}

}  // namespace ld::ui
