#include "app/chat/auto_title.h"

#include <QRegularExpression>
#include <QStringList>

namespace ld::chat {

namespace {

QString shorten(QString t, int max) {
    if (t.size() <= max) return t;
    t = t.left(max - 1);
    const int space = int(t.lastIndexOf(QLatin1Char(' ')));
    if (space > max / 2) t = t.left(space);
    return t + QChar(0x2026);
}

}  // namespace

QString heuristicTitle(const QString& text) {
    const QString t = shorten(text.section(QLatin1Char('\n'), 0, 0).simplified(), 48);
    return t.isEmpty() ? QStringLiteral("New chat") : t;
}

GenerationRequest titleRequest(const QString& systemPrompt, const QString& user, const QString& reply) {
    GenerationRequest r;
    if (!systemPrompt.trimmed().isEmpty()) r.messages.append({QStringLiteral("system"), systemPrompt});
    r.messages.append({QStringLiteral("user"), user});
    r.messages.append({QStringLiteral("assistant"), reply});
    r.messages.append({QStringLiteral("user"),
                       QStringLiteral("Write a short title (at most six words) for this conversation. "
                                      "Reply with the title only.")});
    r.sampling.temperature = 0;
    r.sampling.topK = 1;
    r.sampling.repeatPenalty = 1.0;
    r.sampling.maxTokens = 20;
    r.sampling.seed = 1;
    return r;
}

QString cleanTitle(const QString& generated) {
    QString t;
    for (const QString& line : generated.split(QLatin1Char('\n'))) {
        t = line.simplified();
        if (!t.isEmpty()) break;
    }
    static const QRegularExpression label(QStringLiteral("^(title\\s*:\\s*)"), QRegularExpression::CaseInsensitiveOption);
    t.remove(label);
    // Quotes and Markdown around it, and punctuation a story model may start with.
    static const QRegularExpression decoration(QStringLiteral("^[\\s\"'`*#_“”‘’,.;:!?-]+|[\\s\"'`*#_“”‘’]+$"));
    t.remove(decoration);
    while (t.endsWith(QLatin1Char('.')) || t.endsWith(QLatin1Char(':')) || t.endsWith(QLatin1Char(','))) t.chop(1);
    t = t.simplified();
    return t.isEmpty() ? QString() : shorten(t, 60);
}

}  // namespace ld::chat
