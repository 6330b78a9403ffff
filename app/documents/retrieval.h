#pragma once
// Finding the passages of a conversation's documents that a follow-up question is about:
// keyword overlap (lower-cased words of three letters or more, rarer words weigh more), good
// enough to put the right pages in front of the model without an embedding model.
#include <QList>
#include <QSet>
#include <QString>

#include "app/history/history_types.h"

namespace ld::documents {

struct Passage {
    QString fileName;
    QString text;              // includes the "[p. 4]" markers the stored text has
    QSet<QString> words;
};

// Cuts stored documents into passages of about `passageChars` characters (paragraph bounds).
QList<Passage> passagesOf(const QList<history::Attachment>& attachments, int passageChars = 1200);

// A context block for the prompt: each document's summary, then the passages that share the
// most words with `question`, best first, within `maxChars`. Empty when nothing matches and
// there are no documents.
QString relevantContext(const QList<history::Attachment>& attachments, const QList<Passage>& passages,
                        const QString& question, int maxChars);

QSet<QString> keywords(const QString& text);

}  // namespace ld::documents
