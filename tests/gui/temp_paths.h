#pragma once
// The app's files for a GUI test that builds ui::AppParts: history, settings and the models
// folder in the test's temporary folder, never the user's.
#include <QTemporaryDir>

#include "ui/app_parts.h"

namespace ld::test {

inline ui::AppPaths tempPaths(const QTemporaryDir& dir) {
    ui::AppPaths p;
    p.database = dir.filePath(QStringLiteral("history.db"));
    p.settingsIni = dir.filePath(QStringLiteral("settings.ini"));
    p.modelsFolder = dir.filePath(QStringLiteral("models"));
    return p;
}

}  // namespace ld::test
