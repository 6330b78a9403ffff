#pragma once
// Per-chat sampling overrides: a conversation stores only the settings the user changed for
// it (a JSON object with the engine's names: temperature, top_k, top_p, min_p,
// repeat_penalty, max_tokens); everything else follows the global settings.
#include <QJsonObject>
#include <QVariantMap>

#include "app/chat/chat_types.h"

namespace ld::chat {

// `base` (the global settings) with the overrides applied; unknown keys are ignored.
SamplingConfig applyOverrides(SamplingConfig base, const QJsonObject& overrides);
// Keeps the known keys whose values are numbers, clamped to their valid range (from QML,
// where a field left empty means "use the global setting" and is not in the map).
QJsonObject cleanOverrides(const QVariantMap& values);

}  // namespace ld::chat
