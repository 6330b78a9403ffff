#pragma once
// What a GGUF file on disk is and whether this machine can load it: the one scanner of model
// files (the settings panel's lists and `llamadesk-cli models` use it). Reading is cheap: only
// the header and tensor table are read (gguf::File::open_header; the weights are never read or
// mapped), then the engine's loader checks every tensor's presence, type and shape.
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include "app/models/model_catalog.h"

namespace ld::models {

struct LocalModel {
    QString path;
    QString fileName;
    qint64 sizeBytes = 0;
    bool inModelsFolder = true;  // false: a file the user referenced where it lies
    // From the header (empty / 0 when it could not be read).
    QString architecture;
    QString name;
    qint64 parameters = 0;
    QString quantType;           // the type holding most weight bytes, e.g. "Q4_K"
    int contextLength = 0;
    QString chatTemplate;        // detected chat format, e.g. "llama3" (Llama models only)
    // Whether the engine can load it here, and if not why.
    bool loadable = false;
    QString problemKind;         // "" | "not_gguf" | "truncated" | "not_llama" | "unsupported" | "invalid" | "too_big" | "unreadable"
    QString problem;             // one readable sentence
};

// Inspects one file. Never throws.
LocalModel inspectModel(const QString& path, const MemoryInfo& memory);
// Every *.gguf in `folder` (sorted by name), then `extraFiles` not already listed.
QStringList listModelFiles(const QString& folder, const QStringList& extraFiles = {});
QList<LocalModel> scanModels(const QString& folder, const QStringList& extraFiles, const MemoryInfo& memory);

QJsonObject toJson(const LocalModel& m);

// The models folder: $XDG_DATA_HOME/llamadesk/models (same as the settings panel's list).
QString defaultModelsFolder();

}  // namespace ld::models
