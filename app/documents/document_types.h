#pragma once
// A document as the readers deliver it: text split into segments that remember where they
// came from (a PDF page, a heading's section, a run of lines), so summaries can cite them.
#include <QList>
#include <QString>

namespace ld::documents {

struct Segment {
    QString text;
    int page = 0;          // 1-based PDF page; 0 when the format has no pages
    QString section;       // nearest heading above the text; may be empty
    int firstLine = 0;     // 1-based line range for plain text and source code; 0 when unknown
    int lastLine = 0;
};

struct Document {
    QString path;
    QString fileName;
    QString kind;          // "text" | "markdown" | "source" | "html" | "pdf" | "docx" | "odt"
    QString mimeType;
    QString sha256;        // hex of the file's bytes
    qint64 sizeBytes = 0;
    int pageCount = 0;     // PDF only
    QList<Segment> segments;

    // The whole text: segments joined by a blank line (what chunks cover, in order).
    QString fullText() const;
    static QString segmentSeparator() { return QStringLiteral("\n\n"); }
};

// A place in the document for a citation, e.g. "p. 4", "pp. 3–5", "§ Methods", "lines 10–40".
struct Span {
    int firstPage = 0, lastPage = 0;
    QString firstSection, lastSection;
    int firstLine = 0, lastLine = 0;

    void extend(const Segment& s);
    void extend(const Span& other);
    bool isEmpty() const { return !firstPage && firstSection.isEmpty() && !firstLine; }
    // "p. 4" / "pp. 3–5" / "§ Intro" / "§ Intro – § Methods" / "lines 1–40"; empty when unknown.
    QString label() const;
    // The label in brackets, "[p. 4]"; empty when unknown.
    QString citation() const;
};

}  // namespace ld::documents
