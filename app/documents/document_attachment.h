#pragma once
// A summarized document as the history keeps it: an attachment row with the extracted text
// (place markers included, so later retrieval can still cite pages) and the summary.
#include "app/documents/document_types.h"
#include "app/history/history_types.h"

namespace ld::documents {

history::Attachment toAttachment(const Document& doc, const QString& summary, qint64 conversationId,
                                 std::optional<qint64> messageId);

// The user message that stands for a dropped document in the conversation.
QString summaryRequestText(const Document& doc);

}  // namespace ld::documents
