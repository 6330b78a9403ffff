#pragma once
// Turning a file into a Document: picks the reader by extension (and content), enforces the
// size limit and reports every failure as one sentence naming the file and the reason
// ("report.pdf: the PDF is password-protected"). Thread-safe; call it off the UI thread.
#include <QStringList>

#include "app/documents/document_types.h"
#include "app/history/history_types.h"

namespace ld::documents {

struct ReadOptions {
    qint64 maxBytes = 50LL * 1024 * 1024;  // files above this are refused before reading
};

history::Result<Document> readDocument(const QString& path, const ReadOptions& options = {});

// "pdf", "docx", "odt", "html", "markdown", "source", "text" from the file name; "" when the
// extension says nothing (the content decides) and "unsupported:<why>" for known formats
// that have no reader (old .doc, images, archives).
QString kindForFileName(const QString& fileName);

// For file dialogs: "*.pdf *.docx ...".
QStringList supportedPatterns();

}  // namespace ld::documents
