#pragma once
// Reading what a GGUF model is (name, size, parameters, quantization, context) from its header.
#include <QString>

#include "app/chat/chat_types.h"

namespace ld {
struct Model;
}

namespace ld::chat {

// Describes a loaded model.
ModelInfo describeModel(const Model& model, const QString& path);
// Opens the file's header (memory-mapped, no weights read) and describes it. Slow for big
// vocabularies (tens of ms): call it off the UI thread. On failure returns false and sets
// *error to a user-readable reason.
bool readModelInfo(const QString& path, ModelInfo* info, QString* error);

QString formatParameters(qint64 count);  // "8.0B", "260K"
QString formatBytes(qint64 bytes);       // "4.9 GB"

}  // namespace ld::chat
