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

// What a chat's prompt says about its documents, in two parts (ChatController puts them in
// two places so that the prompt's start stays the same from turn to turn):
//  - `overview`: that documents are attached and how to use them, and each one's summary; the
//    same for every question (the system message), until a document or a summary is added;
//  - `passages`: the passages that share the most words with `question`, best first, within
//    what is left of `maxChars` (the question's own user turn); empty when none matches.
// Both are empty without documents.
struct DocumentContext {
    QString overview;
    QString passages;
};
DocumentContext relevantContext(const QList<history::Attachment>& attachments, const QList<Passage>& passages,
                                const QString& question, int maxChars);

QSet<QString> keywords(const QString& text);

}  // namespace ld::documents
