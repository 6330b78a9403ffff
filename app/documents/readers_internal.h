#pragma once
// The individual format readers behind readDocument(). Each fills `out` and returns an empty
// string, or returns the reason it failed (without the file name; the caller adds it).
#include <QByteArray>
#include <QList>
#include <QString>
#include <optional>

#include "app/documents/document_types.h"

namespace ld::documents::detail {

struct Extracted {
    QList<Segment> segments;
    int pageCount = 0;
    QString mimeType;
};

// Bytes to text: BOM (UTF-8/16/32) first, then strict UTF-8, else Latin-1. nullopt for binary
// data (NUL bytes or many control characters without a UTF-16/32 BOM).
std::optional<QString> decodeText(const QByteArray& bytes);

// kind: "text", "markdown" (sections from # headings) or "source" (line ranges).
QString readText(const QByteArray& bytes, const QString& kind, Extracted* out);
QString readHtml(const QByteArray& bytes, Extracted* out);
QString readPdf(const QByteArray& bytes, Extracted* out);
QString readDocx(const QByteArray& bytes, Extracted* out);
QString readOdt(const QByteArray& bytes, Extracted* out);

// HTML's character references ("&amp;", "&#233;", "&#x1F600;"); unknown ones stay as written.
QString decodeEntities(QStringView text);

// One entry of a ZIP archive held in memory; empty string or the reason it failed.
QString readZipEntry(const QByteArray& zip, const char* name, QByteArray* out, bool* missing = nullptr);

}  // namespace ld::documents::detail
