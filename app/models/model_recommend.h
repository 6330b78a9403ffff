#pragma once
// Which catalog model to offer a new user: the best one this machine's memory (RAM, and the
// dedicated memory of a GPU the engine can use) runs, for the welcome page's one-click
// download. The choice lives here, not in QML, so it is tested against the real catalog.
#include <QList>
#include <QString>

#include "app/models/model_catalog.h"

namespace ld::models {

struct MachineInfo {
    qint64 ramBytes = 0;    // total system memory; 0 = unknown
    qint64 vramBytes = 0;   // dedicated memory of the largest usable GPU; 0 = none
    QString gpuName;        // that GPU ("" when none)
};

struct Recommendation {
    int index = -1;         // into the catalog; -1 when nothing fits
    bool onGpu = false;     // the model fits entirely in the GPU's memory
    // One sentence for the welcome page: why this model, or why none.
    QString reason;
    bool found() const { return index >= 0; }
};

// The rules, in order:
//  1. A model fits when it needs at most 85% of the RAM (fitInMemory's rule) or, with a GPU,
//     when its vramBytes fit the GPU's memory less 256 MiB and 3% (the Vulkan backend's
//     margin for the driver and other programs).
//  2. Of the models that fit, the one with the most parameters (quality grows with size much
//     faster than with quantization precision).
//  3. Of its quantizations, on a GPU the most precise one that fits in its memory (decoding
//     there is fast either way); on the CPU the smallest one (decoding speed is bound by
//     memory bandwidth, so a smaller file answers faster, and it downloads sooner).
// Unknown RAM and no GPU: the smallest model, said so in the reason. Nothing fits: index -1
// and a reason naming what the smallest model needs.
Recommendation recommendModel(const QList<CatalogEntry>& catalog, const MachineInfo& machine);

// "8B" -> 8e9, "1.5B" -> 1.5e9, "500M" -> 5e8; 0 when unreadable.
double parameterCount(const QString& parameters);

// This machine: /proc/meminfo, and the GPUs of the CUDA plugin and of Vulkan (discrete ones
// only: an integrated GPU's memory is the RAM). Creates a Vulkan instance and may load the
// CUDA plugin, which takes up to a few hundred ms: call it off the UI thread.
MachineInfo probeMachine();

}  // namespace ld::models
