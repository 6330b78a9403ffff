#include "app/chat/tool_approval.h"

#include <QJsonDocument>

namespace ld::chat {

ToolApproval::ToolApproval(QString tool, QString server, QString arguments, QObject* parent)
    : QObject(parent), tool_(std::move(tool)), server_(std::move(server)), arguments_(prettyArguments(arguments)) {}

void ToolApproval::answer(Answer a) {
    if (answered_) return;
    answered_ = true;
    emit answered(a);
}

QString prettyArguments(const QString& json) {
    const QJsonDocument doc = QJsonDocument::fromJson(json.toUtf8());
    if (!doc.isObject()) return json;
    return QString::fromUtf8(doc.toJson(QJsonDocument::Indented)).trimmed();
}

}  // namespace ld::chat
