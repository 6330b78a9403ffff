#include "app/models/model_recommend.h"

#include <QObject>
#include <QRegularExpression>
#include <algorithm>
#include <exception>
#include <string>

#include "inference/backend/cuda_plugin.h"
#include "inference/backend/memory_plan.h"
#ifdef LLAMADESK_HAVE_VULKAN
#include "inference/vulkan/vk_device.h"
#endif

namespace ld::models {

namespace {

// Machine memory in the units people buy it in: a "16 GB" laptop reports about 15.5 GiB.
QString memoryText(qint64 bytes) {
    const double gib = double(bytes) / double(1ll << 30);
    return QString::number(gib, 'f', gib >= 10 ? 0 : 1) + QStringLiteral(" GB");
}

QString sizeText(qint64 bytes) { return QString::number(double(bytes) / 1e9, 'f', 1) + QStringLiteral(" GB"); }

// What the GPU can hold for a model: its memory less the GPU backends' headroom.
qint64 usableVram(qint64 vram) {
    if (vram <= 0) return 0;
    const uint64_t v = uint64_t(vram), keep = ld::gpu_headroom(v);
    return v > keep ? qint64(v - keep) : 0;
}

}  // namespace

double parameterCount(const QString& parameters) {
    static const QRegularExpression re(QStringLiteral("^\\s*([0-9]+(?:\\.[0-9]+)?)\\s*([KMBT])\\s*$"),
                                       QRegularExpression::CaseInsensitiveOption);
    const QRegularExpressionMatch m = re.match(parameters);
    if (!m.hasMatch()) return 0;
    const double n = m.captured(1).toDouble();
    switch (m.captured(2).toUpper().at(0).toLatin1()) {
    case 'K': return n * 1e3;
    case 'M': return n * 1e6;
    case 'B': return n * 1e9;
    case 'T': return n * 1e12;
    }
    return 0;
}

Recommendation recommendModel(const QList<CatalogEntry>& catalog, const MachineInfo& machine) {
    Recommendation r;
    if (catalog.isEmpty()) {
        r.reason = QObject::tr("The model catalog is empty.");
        return r;
    }
    const qint64 gpuRoom = usableVram(machine.vramBytes);
    auto fitsGpu = [&](const CatalogEntry& e) { return gpuRoom > 0 && e.vramBytes > 0 && e.vramBytes <= gpuRoom; };
    auto fitsCpu = [&](const CatalogEntry& e) {
        return fitInMemory(e.ramBytes, MemoryInfo{machine.ramBytes, 0}) == Fit::Fits;
    };
    int smallest = 0;
    for (int i = 1; i < catalog.size(); ++i)
        if (catalog[i].ramBytes < catalog[smallest].ramBytes) smallest = i;

    if (machine.ramBytes <= 0 && gpuRoom <= 0) {
        r.index = smallest;
        r.reason = QObject::tr("This computer's memory could not be read, so this is the smallest model; "
                               "it runs on almost anything.");
        return r;
    }

    // Rule 2: the most parameters among what fits.
    double bestParams = -1;
    for (const CatalogEntry& e : catalog)
        if (fitsGpu(e) || fitsCpu(e)) bestParams = std::max(bestParams, parameterCount(e.parameters));
    if (bestParams < 0) {
        const CatalogEntry& s = catalog[smallest];
        QString have = machine.ramBytes > 0 ? QObject::tr("%1 of memory").arg(memoryText(machine.ramBytes))
                                            : QObject::tr("memory of unknown size");
        if (gpuRoom > 0) have += QObject::tr(" and %1 on %2").arg(memoryText(machine.vramBytes), machine.gpuName);
        r.reason = QObject::tr("No model in the catalog fits this computer: it has %1, and the smallest, %2 %3, "
                               "needs %4 (%5 on a GPU). A smaller GGUF file may still run.")
                       .arg(have, s.name, s.quant, sizeText(s.ramBytes), sizeText(s.vramBytes));
        return r;
    }
    // Rule 3: among those, the most precise that fits the GPU, else the smallest file.
    int gpuPick = -1, cpuPick = -1;
    for (int i = 0; i < catalog.size(); ++i) {
        const CatalogEntry& e = catalog[i];
        if (parameterCount(e.parameters) != bestParams) continue;
        if (fitsGpu(e) && (gpuPick < 0 || e.sizeBytes > catalog[gpuPick].sizeBytes)) gpuPick = i;
        if (fitsCpu(e) && (cpuPick < 0 || e.sizeBytes < catalog[cpuPick].sizeBytes)) cpuPick = i;
    }
    if (gpuPick >= 0) {
        r.index = gpuPick;
        r.onGpu = true;
        r.reason = QObject::tr("Recommended for this computer: it fits in the %1 of %2, where it runs fastest.")
                       .arg(memoryText(machine.vramBytes), machine.gpuName);
        return r;
    }
    r.index = cpuPick;
    r.reason = QObject::tr("Recommended for this computer: it fits in its %1 of memory.").arg(memoryText(machine.ramBytes));
    if (gpuRoom > 0)
        r.reason += QLatin1Char(' ') + QObject::tr("It is too big for the %1 of %2, which runs part of it.")
                                           .arg(memoryText(machine.vramBytes), machine.gpuName);
    return r;
}

MachineInfo probeMachine() {
    MachineInfo m;
    m.ramBytes = readMemoryInfo().totalBytes;
    auto consider = [&m](qint64 bytes, const std::string& name) {
        if (bytes > m.vramBytes) {
            m.vramBytes = bytes;
            m.gpuName = QString::fromStdString(name);
        }
    };
    // Either backend may be missing (no plugin, no loader or driver): then it offers no GPU.
    try {
        std::string why;
        for (const cuda::DeviceInfo& d : list_cuda_devices(&why)) consider(qint64(d.total_bytes), d.name);
    } catch (const std::exception&) {
    }
#ifdef LLAMADESK_HAVE_VULKAN
    try {
        std::string why;
        for (const vk::DeviceInfo& d : vk::list_devices(&why))
            if (d.unusable.empty() && d.type == "discrete") consider(qint64(d.device_local_bytes), d.name);
    } catch (const std::exception&) {
    }
#endif
    return m;
}

}  // namespace ld::models
