#include "ui/model_manager_parts.h"

#include <QQmlContext>

#include "app/models/model_library.h"
#include "app/settings/app_settings.h"
#include "ui/catalog_model.h"
#include "ui/first_model_offer.h"
#include "ui/local_models_model.h"
#include "ui/model_list_model.h"
#include "ui/workspace.h"

namespace ld::ui {

ModelManagerParts::ModelManagerParts(const QString& folder, settings::AppSettings* settings, ModelListModel* list,
                                     Workspace* workspace) {
    const QString dir = folder.isEmpty() ? models::defaultModelsFolder() : folder;
    library = std::make_unique<models::ModelLibrary>(dir);
    // Referenced files are the settings' "extra models", shared with the model list.
    library->setReferences(settings->extraModels());
    QObject::connect(library.get(), &models::ModelLibrary::referencesChanged, settings, &settings::AppSettings::setExtraModels);
    QObject::connect(settings, &settings::AppSettings::changed, library.get(),
                     [l = library.get(), settings] { l->setReferences(settings->extraModels()); });
    catalog = std::make_unique<CatalogModel>(dir, models::readMemoryInfo());
    localModels = std::make_unique<LocalModelsModel>(library.get());
    firstModel = std::make_unique<FirstModelOffer>(catalog.get(), workspace);

    // The settings panel's model list shows the library's scans (one scanner for both lists).
    list->setLibrary(library.get());
    QObject::connect(library.get(), &models::ModelLibrary::modelsChanged, catalog.get(), &CatalogModel::refreshLocalState);
    QObject::connect(catalog.get(), &CatalogModel::downloadFailed, workspace, &Workspace::errorOccurred);
    QObject::connect(localModels.get(), &LocalModelsModel::errorOccurred, workspace, &Workspace::errorOccurred);
    QObject::connect(localModels.get(), &LocalModelsModel::info, workspace, &Workspace::info);
}

ModelManagerParts::~ModelManagerParts() {
    // Views before the library they show; downloads stop and keep their .part files.
    firstModel.reset();
    localModels.reset();
    catalog.reset();
    library.reset();
}

void ModelManagerParts::expose(QQmlContext* context) const {
    context->setContextProperty(QStringLiteral("modelCatalog"), catalog.get());
    context->setContextProperty(QStringLiteral("localModelFiles"), localModels.get());
    context->setContextProperty(QStringLiteral("firstModelOffer"), firstModel.get());
}

}  // namespace ld::ui
