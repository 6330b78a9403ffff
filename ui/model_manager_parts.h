#pragma once
// The model manager's objects for the GUI, wired to the rest of the app in one place so
// AppParts needs only a line to build it and one to expose it: the watched models folder
// (ModelLibrary), the catalog with downloads (CatalogModel) and the local files
// (LocalModelsModel). QML sees them as `modelCatalog` and `localModelFiles` (ModelCatalog.qml).
#include <QString>
#include <memory>

class QQmlContext;

namespace ld::models {
class ModelLibrary;
}
namespace ld::settings {
class AppSettings;
}

namespace ld::ui {

class CatalogModel;
class FirstModelOffer;
class LocalModelsModel;
class ModelListModel;
class Workspace;

class ModelManagerParts {
public:
    // `folder` empty: the default models folder. `list` (the settings panel's model list) shows
    // the library's scans; errors and notices go to the workspace's toast.
    ModelManagerParts(const QString& folder, settings::AppSettings* settings, ModelListModel* list, Workspace* workspace);
    ~ModelManagerParts();
    void expose(QQmlContext* context) const;

    std::unique_ptr<models::ModelLibrary> library;
    std::unique_ptr<CatalogModel> catalog;
    std::unique_ptr<LocalModelsModel> localModels;
    std::unique_ptr<FirstModelOffer> firstModel;  // the welcome page's download (QML: firstModelOffer)
};

}  // namespace ld::ui
