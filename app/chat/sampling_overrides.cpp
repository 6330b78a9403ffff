#include "app/chat/sampling_overrides.h"

#include <algorithm>

namespace ld::chat {

namespace {

struct Key {
    const char* name;
    double lo, hi;
    bool integer;
};
constexpr Key kKeys[] = {
    {"temperature", 0.0, 5.0, false}, {"top_k", 0, 100000, true},        {"top_p", 0.01, 1.0, false},
    {"min_p", 0.0, 0.99, false},      {"repeat_penalty", 0.5, 3.0, false}, {"max_tokens", 1, 1 << 20, true},
};

}  // namespace

SamplingConfig applyOverrides(SamplingConfig c, const QJsonObject& o) {
    auto num = [&](const char* key, double fallback) {
        const QJsonValue v = o.value(QLatin1String(key));
        return v.isDouble() ? v.toDouble() : fallback;
    };
    c.temperature = num("temperature", c.temperature);
    c.topK = int(num("top_k", c.topK));
    c.topP = num("top_p", c.topP);
    c.minP = num("min_p", c.minP);
    c.repeatPenalty = num("repeat_penalty", c.repeatPenalty);
    c.maxTokens = int(num("max_tokens", c.maxTokens));
    return c;
}

QJsonObject cleanOverrides(const QVariantMap& values) {
    QJsonObject out;
    for (const Key& k : kKeys) {
        const QVariant v = values.value(QLatin1String(k.name));
        if (!v.isValid() || v.isNull() || (v.typeId() == QMetaType::QString && v.toString().trimmed().isEmpty())) continue;
        bool ok = false;
        double d = v.toDouble(&ok);
        if (!ok) continue;
        d = std::clamp(d, k.lo, k.hi);
        out.insert(QLatin1String(k.name), k.integer ? double(qRound64(d)) : d);
    }
    return out;
}

}  // namespace ld::chat
