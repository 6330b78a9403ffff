#pragma once
// The devices a backend can run on, for the settings panel. Listing Vulkan devices creates an
// instance (tens to hundreds of ms): call it off the UI thread.
#include <QList>
#include <QString>

#include "app/chat/chat_types.h"

namespace ld::chat {

// "Best available" first, then each device of `backend` ("auto" and "vulkan" list the Vulkan
// devices; "cpu" has only the one). Devices the backend cannot use are listed, unusable, with
// the reason in their text.
QList<DeviceChoice> listDevices(const QString& backend);

}  // namespace ld::chat
