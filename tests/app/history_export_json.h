#pragma once
// A conversation's export JSON (history_export.h) made comparable: test_history_database and
// test_history_tools import the same content twice and compare the two exports, whose ids differ.
#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>

namespace ld::history::testing {

// The export with message and attachment ids replaced by positions (and references to them
// mapped the same way), so two imports of the same content compare equal.
inline QJsonObject normalized(QJsonObject conversation) {
    QHash<qint64, int> position;
    QJsonArray messages = conversation.value(QStringLiteral("messages")).toArray();
    for (int i = 0; i < messages.size(); ++i)
        position.insert(qint64(messages[i].toObject().value(QStringLiteral("id")).toDouble()), i);
    auto map = [&](const QJsonValue& v) {
        return v.isNull() ? QJsonValue(QJsonValue::Null) : QJsonValue(position.value(qint64(v.toDouble()), -1));
    };
    for (int i = 0; i < messages.size(); ++i) {
        QJsonObject m = messages[i].toObject();
        m.insert(QStringLiteral("id"), i);
        m.insert(QStringLiteral("parent"), map(m.value(QStringLiteral("parent"))));
        messages[i] = m;
    }
    QJsonArray attachments = conversation.value(QStringLiteral("attachments")).toArray();
    for (int i = 0; i < attachments.size(); ++i) {
        QJsonObject a = attachments[i].toObject();
        a.insert(QStringLiteral("id"), i);
        a.insert(QStringLiteral("message"), map(a.value(QStringLiteral("message"))));
        attachments[i] = a;
    }
    conversation.insert(QStringLiteral("id"), 0);
    conversation.insert(QStringLiteral("current_leaf"), map(conversation.value(QStringLiteral("current_leaf"))));
    conversation.insert(QStringLiteral("messages"), messages);
    conversation.insert(QStringLiteral("attachments"), attachments);
    return conversation;
}

}  // namespace ld::history::testing
