// PDF through Poppler (Qt 6 binding): one segment per page, so every chunk knows its pages.
#include <poppler-qt6.h>

#include <QRegularExpression>
#include <mutex>

#include "app/documents/readers_internal.h"

namespace ld::documents::detail {

namespace {

// Poppler reports syntax problems of damaged files on stderr by default; the reader turns
// failures into its own message, so the chatter is dropped.
void quietPoppler(const QString&, const QVariant&) {}

}  // namespace

QString readPdf(const QByteArray& bytes, Extracted* out) {
    static std::once_flag once;
    std::call_once(once, [] { Poppler::setDebugErrorFunction(quietPoppler, QVariant()); });
    out->mimeType = QStringLiteral("application/pdf");
    if (!bytes.startsWith("%PDF-") && bytes.left(1024).indexOf("%PDF-") < 0)
        return QStringLiteral("it is not a PDF file (no %PDF header), or it is damaged");
    std::unique_ptr<Poppler::Document> doc = Poppler::Document::loadFromData(bytes);
    if (!doc) return QStringLiteral("the PDF is damaged and cannot be opened");
    if (doc->isLocked()) return QStringLiteral("the PDF is password-protected (encrypted)");
    const int pages = doc->numPages();
    if (pages <= 0) return QStringLiteral("the PDF has no pages (it may be damaged)");
    out->pageCount = pages;
    for (int i = 0; i < pages; ++i) {
        std::unique_ptr<Poppler::Page> page = doc->page(i);
        if (!page) continue;
        // Physical layout keeps columns and table rows on their lines; raw order would
        // interleave them.
        QString text = page->text(QRectF(), Poppler::Page::PhysicalLayout);
        text.replace(QChar(0x0C), QLatin1Char('\n'));  // form feeds between text blocks
        // The layout pads columns with runs of spaces: noise for the model, and tokens.
        static const QRegularExpression spaces(QStringLiteral(" {2,}"));
        QStringList lines = text.split(QLatin1Char('\n'));
        for (QString& l : lines) {
            l.replace(spaces, QStringLiteral(" "));
            while (l.endsWith(QLatin1Char(' '))) l.chop(1);
        }
        text = lines.join(QLatin1Char('\n')).trimmed();
        // Typeset ligatures ("ﬂ" for "fl") break word search and cost extra tokens.
        static const char* const ligatures[] = {"ff", "fi", "fl", "ffi", "ffl", "ft", "st"};
        for (int k = 0; k < 7; ++k) text.replace(QChar(0xFB00 + k), QLatin1String(ligatures[k]));
        if (text.isEmpty()) continue;
        out->segments.append(Segment{text, i + 1, {}, 0, 0});
    }
    if (out->segments.isEmpty())
        return QStringLiteral("the PDF has no extractable text (it may be scanned images; OCR is not supported)");
    return {};
}

}  // namespace ld::documents::detail
