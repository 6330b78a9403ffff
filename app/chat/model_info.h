#pragma once
// Describing a loaded model (name, size, parameters, quantization, context, chat format). Files
// on disk are described by models::inspectModel (app/models/local_models.h), from headers only.
#include <QString>

#include "app/chat/chat_types.h"

namespace ld {
struct Model;
}

namespace ld::chat {

// Describes a loaded model.
ModelInfo describeModel(const Model& model, const QString& path);

QString formatParameters(qint64 count);  // "8.0B", "260K"
QString formatBytes(qint64 bytes);       // "4.9 GB"

}  // namespace ld::chat
