#include "app/documents/document_attachment.h"

#include <QDateTime>

#include "app/documents/summarizer.h"

namespace ld::documents {

history::Attachment toAttachment(const Document& doc, const QString& summary, qint64 conversationId,
                                 std::optional<qint64> messageId) {
    history::Attachment a;
    a.conversationId = conversationId;
    a.messageId = messageId;
    a.fileName = doc.fileName;
    a.sha256 = doc.sha256;
    a.sizeBytes = doc.sizeBytes;
    a.mimeType = doc.mimeType;
    a.extractedText = withPlaceMarkers(doc).fullText();
    a.summary = summary;
    a.createdMs = QDateTime::currentMSecsSinceEpoch();
    return a;
}

QString summaryRequestText(const Document& doc) {
    QString what = doc.pageCount ? QStringLiteral("%1 pages").arg(doc.pageCount)
                                 : QStringLiteral("%1 KB").arg((doc.sizeBytes + 1023) / 1024);
    return QStringLiteral("📄 %1 (%2) — summarize this document.").arg(doc.fileName, what);
}

}  // namespace ld::documents
