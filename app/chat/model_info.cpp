#include "app/chat/model_info.h"

#include <QFileInfo>

#include "inference/chat/chat_format.h"
#include "inference/model/llama.h"

namespace ld::chat {

ModelInfo describeModel(const Model& model, const QString& path) {
    ModelInfo info;
    info.path = path;
    info.name = QString::fromStdString(model.name);
    if (info.name.isEmpty()) info.name = QFileInfo(path).completeBaseName();
    info.parameters = model.parameter_count();
    info.quantType = QString::fromStdString(model.dominant_type());
    info.sizeBytes = QFileInfo(path).size();
    info.contextLength = model.params.ctx_train;
    info.chatTemplate = QString::fromLatin1(chat_template_name(detect_chat_template(model.vocab, "llama")));
    return info;
}

QString formatParameters(qint64 count) {
    if (count >= 1'000'000'000) return QString::number(double(count) / 1e9, 'f', 1) + QLatin1Char('B');
    if (count >= 1'000'000) return QString::number(double(count) / 1e6, 'f', 0) + QLatin1Char('M');
    if (count >= 1'000) return QString::number(double(count) / 1e3, 'f', 0) + QLatin1Char('K');
    return QString::number(count);
}

QString formatBytes(qint64 bytes) {
    if (bytes >= 1'000'000'000) return QString::number(double(bytes) / 1e9, 'f', 1) + QStringLiteral(" GB");
    if (bytes >= 1'000'000) return QString::number(double(bytes) / 1e6, 'f', 1) + QStringLiteral(" MB");
    if (bytes >= 1'000) return QString::number(double(bytes) / 1e3, 'f', 0) + QStringLiteral(" KB");
    return QString::number(bytes) + QStringLiteral(" B");
}

}  // namespace ld::chat
