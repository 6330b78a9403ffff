#include "app/chat/devices.h"

#include <exception>

#ifdef LLAMADESK_HAVE_VULKAN
#include "inference/vulkan/vk_device.h"
#endif

namespace ld::chat {

QList<DeviceChoice> listDevices(const QString& backend) {
    QList<DeviceChoice> out;
    if (backend == QLatin1String("cpu")) {
        out.append({QString(), QStringLiteral("CPU"), true});
        return out;
    }
    out.append({QString(), QStringLiteral("Best available"), true});
#ifdef LLAMADESK_HAVE_VULKAN
    if (backend == QLatin1String("auto") || backend == QLatin1String("vulkan")) {
        try {
            std::string why;
            for (const vk::DeviceInfo& d : vk::list_devices(&why)) {
                QString text = QStringLiteral("%1: %2 (%3").arg(d.index).arg(QString::fromStdString(d.name),
                                                                         QString::fromStdString(d.type));
                if (d.device_local_bytes > 0)
                    text += QStringLiteral(", %1 GiB").arg(double(d.device_local_bytes) / double(1ull << 30), 0, 'f', 1);
                text += QLatin1Char(')');
                if (!d.unusable.empty()) text += QStringLiteral(" — unusable: ") + QString::fromStdString(d.unusable);
                out.append({QString::number(d.index), text, d.unusable.empty()});
            }
        } catch (const std::exception&) {
            // No loader or driver: "Best available" (the CPU for "auto") is all there is.
        }
    }
#endif
    return out;
}

}  // namespace ld::chat
