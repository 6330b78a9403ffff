#include "ui/app_parts.h"

#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>
#include <QQmlApplicationEngine>
#include <QQmlContext>
#include <QSettings>

#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/documents/document_controller.h"
#include "app/history/conversation_list_model.h"
#include "app/history/history_database.h"
#include "app/history/history_store.h"
#include "app/mcp/tool_servers.h"
#include "app/remote/engine_registry.h"
#include "app/server/server_host.h"
#include "app/remote/keychain_secret_store.h"
#include "app/remote/secret_store.h"
#include "app/settings/app_settings.h"
#include "ui/engines_model.h"
#include "ui/messages_model.h"
#include "ui/model_list_model.h"
#include "ui/model_manager_parts.h"
#include "ui/tools_model.h"
#include "ui/workspace.h"

namespace ld::ui {

AppParts::AppParts(const AppPaths& paths) {
    settings = paths.settingsIni.isEmpty() ? std::make_unique<settings::AppSettings>()
                                           : std::make_unique<settings::AppSettings>(paths.settingsIni);
    store = std::make_unique<history::HistoryStore>(paths.database.isEmpty() ? history::defaultDatabasePath() : paths.database);
    engineSettings = paths.settingsIni.isEmpty() ? std::make_unique<QSettings>(QStringLiteral("LlamaDesk"), QStringLiteral("llamadesk"))
                                                 : std::make_unique<QSettings>(paths.settingsIni, QSettings::IniFormat);
    // Keys in the desktop keyring; tests ask for memory (sessionOnlyKeys), and without a keyring
    // the keychain store itself keeps them for the session.
    remote::KeychainSecretStore* keychain = nullptr;
    if (paths.sessionOnlyKeys) {
        secrets = std::make_unique<remote::MemorySecretStore>();
    } else {
        auto k = std::make_unique<remote::KeychainSecretStore>();
        keychain = k.get();
        secrets = std::move(k);
    }
    engines = std::make_unique<remote::EngineRegistry>(*engineSettings, *secrets);
    enginesModel = std::make_unique<EnginesModel>(engines.get(), keychain);  // starts reading the keys
    engine = std::make_unique<chat::EngineHost>();
    chat = std::make_unique<chat::ChatController>(store.get(), engine.get(), settings.get());
    conversations = std::make_unique<history::ConversationListModel>(store.get());
    messages = std::make_unique<MessagesModel>(chat.get());
    models = std::make_unique<ModelListModel>(settings.get(), paths.modelsFolder);
    workspace = std::make_unique<Workspace>(Workspace::Parts{store.get(), engine.get(), chat.get(), settings.get(),
                                                             conversations.get(), messages.get(), models.get(),
                                                             engines.get(), engineSettings.get()});
    modelManager = std::make_unique<ModelManagerParts>(paths.modelsFolder, settings.get(), models.get(), workspace.get());
    documents = std::make_unique<ld::documents::DocumentController>(store.get(), engine.get(), chat.get());
    QObject::connect(documents.get(), &ld::documents::DocumentController::errorOccurred, workspace.get(), &Workspace::errorOccurred);
    apiServer = std::make_unique<server::ServerHost>(engine.get(), settings.get(), secrets.get());  // starts if switched on
    const QString toolsDir = paths.settingsIni.isEmpty() ? QStandardPaths::writableLocation(QStandardPaths::AppConfigLocation)
                                                         : QFileInfo(paths.settingsIni).absolutePath();
    toolServers = std::make_unique<mcp::ToolServers>(QDir(toolsDir).filePath(QStringLiteral("mcp-servers.json")));
    tools = std::make_unique<ToolsModel>(toolServers.get());
    chat->setToolServers(toolServers.get());
    documents->setRemoteMapConcurrency(workspace->remoteMapConcurrency());
    documents->setLocalMapConcurrency(workspace->summaryMapSteps());
    QObject::connect(workspace.get(), &Workspace::remoteOptionsChanged, documents.get(), [this] {
        documents->setRemoteMapConcurrency(workspace->remoteMapConcurrency());
        documents->setLocalMapConcurrency(workspace->summaryMapSteps());
    });
    models->setEngineRegistry(engines.get());
    // Engines added or removed in Settings, and keys arriving from the keyring at start-up.
    QObject::connect(enginesModel.get(), &EnginesModel::enginesChanged, models.get(), &ModelListModel::refreshRemote);
    chat->newChat();
}

AppParts::~AppParts() {
    // Views go first, then the controller, then the engine thread (joined) and the store
    // (which flushes replies still streaming).
    modelManager.reset();
    apiServer.reset();  // ends the API's requests while the engine is still there
    tools.reset();
    workspace.reset();
    models.reset();
    messages.reset();
    conversations.reset();
    documents.reset();  // cancels a running summary before the controller and engine go
    chat.reset();         // ends a turn with tools before its servers go
    toolServers.reset();  // stops the MCP servers (their process groups)
    engine.reset();
    store.reset();
    enginesModel.reset();
    engines.reset();
    secrets.reset();
    engineSettings.reset();
}

bool AppParts::loadInitialModel(const QString& overridePath) {
    QString path = overridePath;
    if (path.isEmpty()) path = qEnvironmentVariable("LLAMADESK_MODEL");
    if (path.isEmpty()) path = settings->modelPath();
    if (path.isEmpty()) return false;
    if (chat::isRemoteModelKey(path)) {  // a remote engine's model: checked when it loads
        // Its API key may still be on its way from the keyring.
        secrets->whenReady(workspace.get(), [w = workspace.get(), path] { w->selectModel(path); });
        return true;
    }
    if (!overridePath.isEmpty() || QFileInfo::exists(path)) {
        workspace->selectModel(QFileInfo(path).absoluteFilePath());
        return true;
    }
    return false;  // the saved model was moved or deleted: show the first-run screen
}

bool AppParts::loadQml(QQmlApplicationEngine& qml) {
    qml.setInitialProperties({{QStringLiteral("workspace"), QVariant::fromValue<QObject*>(workspace.get())}});
    modelManager->expose(qml.rootContext());
    qml.rootContext()->setContextProperty(QStringLiteral("documents"), documents.get());
    qml.rootContext()->setContextProperty(QStringLiteral("apiServer"), apiServer.get());
    qml.rootContext()->setContextProperty(QStringLiteral("toolServers"), tools.get());
    qml.rootContext()->setContextProperty(QStringLiteral("remoteEngines"), enginesModel.get());
    qml.load(QUrl(QStringLiteral("qrc:/llamadesk/qml/Main.qml")));
    return !qml.rootObjects().isEmpty();
}

}  // namespace ld::ui
