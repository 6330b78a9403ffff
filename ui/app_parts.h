#pragma once
// The app's object graph, built in dependency order and torn down in reverse: history store,
// engine thread, settings, controllers, view models, and the Workspace the QML sees. main.cpp
// and the GUI tests build the same graph (tests with temporary paths).
#include <QString>
#include <memory>

class QQmlApplicationEngine;
class QSettings;

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
namespace ld::documents {
class DocumentController;
}
namespace ld::server {
class ServerHost;
}
namespace ld::mcp {
class ToolServers;
}
namespace ld::remote {
class SecretStore;
class EngineRegistry;
}

namespace ld::ui {

class EnginesModel;
class MessagesModel;
class ModelListModel;
class ModelManagerParts;
class Workspace;
class ToolsModel;

struct AppPaths {
    QString database;        // empty: the history's default path
    QString settingsIni;     // empty: QSettings' native place
    QString modelsFolder;    // empty: XDG data dir / llamadesk/models
    // Remote engines' API keys in memory only, not the desktop keyring (tests: never touch the
    // user's keyring).
    bool sessionOnlyKeys = false;
};

class AppParts {
public:
    explicit AppParts(const AppPaths& paths = {});
    ~AppParts();

    // Loads the model given on the command line / environment, else the saved one (if the
    // file still exists). Returns false when there is nothing to load (first run).
    bool loadInitialModel(const QString& overridePath);
    // Loads ui/qml/Main.qml with the Workspace; false (with the QML errors on stderr) on failure.
    bool loadQml(QQmlApplicationEngine& qml);

    std::unique_ptr<settings::AppSettings> settings;
    std::unique_ptr<history::HistoryStore> store;
    // Remote engines (Settings → Engines): their list and the remote options in engineSettings
    // (the settings file), their API keys in `secrets`. One registry for the whole app.
    std::unique_ptr<QSettings> engineSettings;
    std::unique_ptr<remote::SecretStore> secrets;
    std::unique_ptr<remote::EngineRegistry> engines;
    std::unique_ptr<chat::EngineHost> engine;
    std::unique_ptr<chat::ChatController> chat;
    std::unique_ptr<history::ConversationListModel> conversations;
    std::unique_ptr<MessagesModel> messages;
    std::unique_ptr<ModelListModel> models;
    std::unique_ptr<Workspace> workspace;
    std::unique_ptr<ld::documents::DocumentController> documents;  // dropped files -> summaries (QML: documents)
    std::unique_ptr<ModelManagerParts> modelManager;  // catalog, downloads, local files
    std::unique_ptr<server::ServerHost> apiServer;    // Settings → Local API server (QML: apiServer)
    std::unique_ptr<EnginesModel> enginesModel;  // Settings → Engines (QML: remoteEngines)
    // The user's MCP servers (mcp-servers.json beside the settings file, or in the app's config
    // folder) and their Settings → Tools list (QML: toolServers).
    std::unique_ptr<mcp::ToolServers> toolServers;
    std::unique_ptr<ToolsModel> tools;
};

}  // namespace ld::ui
