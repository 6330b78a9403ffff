#include "ui/text_format.h"

#include <QTextBlock>
#include <QTextCursor>
#include <QTextDocument>
#include <QTextDocumentFragment>
#include <QTextFrame>
#include <QTextTable>
#include <QVariantMap>
#include <algorithm>

#include "ui/syntax_highlight.h"

namespace ld::ui {

QString highlightedSnippet(const QString& snippet) {
    // An unbalanced marker must not leave a <b> open.
    QString out;
    out.reserve(snippet.size() + 32);
    bool open = false;
    QString run;
    auto flush = [&] {
        out += run.toHtmlEscaped();
        run.clear();
    };
    for (const QChar c : snippet) {
        if (c == kHighlightOpen && !open) {
            flush();
            out += QLatin1String("<b>");
            open = true;
        } else if (c == kHighlightClose && open) {
            flush();
            out += QLatin1String("</b>");
            open = false;
        } else if (c != kHighlightOpen && c != kHighlightClose) {
            run += c;
        }
    }
    flush();
    if (open) out += QLatin1String("</b>");
    return out;
}

QList<MarkdownBlock> splitMarkdownBlocks(const QString& markdown) {
    QList<MarkdownBlock> out;
    auto add = [&](bool code, const QStringList& lines, const QString& lang) {
        const QString text = lines.join(QLatin1Char('\n'));
        if (!code && text.trimmed().isEmpty()) return;
        out.append({code, text, lang});
    };
    QStringList current;
    bool inCode = false;
    QString fence, lang;
    for (QString line : markdown.split(QLatin1Char('\n'))) {
        if (line.endsWith(QLatin1Char('\r'))) line.chop(1);  // a reply imported with CRLF line ends
        const QString trimmed = line.trimmed();
        if (!inCode && (trimmed.startsWith(QLatin1String("```")) || trimmed.startsWith(QLatin1String("~~~")))) {
            add(false, current, {});
            current.clear();
            inCode = true;
            fence = trimmed.left(3);
            lang = trimmed.mid(3).trimmed();
        } else if (inCode && trimmed.startsWith(fence) && trimmed.mid(3).trimmed().isEmpty()) {
            add(true, current, lang);
            current.clear();
            inCode = false;
        } else {
            current.append(line);
        }
    }
    add(inCode, current, lang);
    return out;
}

namespace {

// The prose colours from Theme.qml (accent, codeBackground), which the C++ side cannot read.
struct ProseColors {
    QColor link, code;
};
ProseColors proseColors(bool dark) {
    if (dark) return {QColor(0x5b8def), QColor(0x151618)};
    return {QColor(0x2f6fde), QColor(0xf0f1f3)};
}

// Links in the accent colour, code spans shaded, images replaced by a link to them (a
// QTextDocument in a TextEdit would fetch a remote image: a reply must not make the app load
// anything by itself).
void styleInline(QTextDocument& doc, const ProseColors& colors) {
    struct Span {
        int start, length;
        QTextCharFormat format;
        QString image;  // set for an image: its URL
    };
    QList<Span> spans;
    for (QTextBlock b = doc.begin(); b.isValid(); b = b.next()) {
        for (auto it = b.begin(); !it.atEnd(); ++it) {
            const QTextFragment f = it.fragment();
            const QTextCharFormat cf = f.charFormat();
            if (cf.isImageFormat()) spans.append({f.position(), f.length(), cf, cf.toImageFormat().name()});
            else if (cf.isAnchor() || cf.fontFixedPitch()) spans.append({f.position(), f.length(), cf, {}});
        }
    }
    // From the end: replacing an image changes the positions after it.
    for (auto s = spans.crbegin(); s != spans.crend(); ++s) {
        QTextCursor c(&doc);
        c.setPosition(s->start);
        c.setPosition(s->start + s->length, QTextCursor::KeepAnchor);
        if (!s->image.isEmpty()) {
            QTextCharFormat link;
            link.setAnchor(true);
            link.setAnchorHref(s->image);
            link.setForeground(colors.link);
            link.setFontUnderline(true);
            c.insertText(QStringLiteral("[image: %1]").arg(s->image), link);
            continue;
        }
        QTextCharFormat f;
        if (s->format.isAnchor()) {
            f.setForeground(colors.link);
            f.setFontUnderline(true);
        } else {
            f.setBackground(colors.code);
        }
        c.mergeCharFormat(f);
    }
}

int quoteLevel(const QTextBlock& b) { return b.blockFormat().intProperty(QTextFormat::BlockQuoteLevel); }

// Rich text of a range of the document, for one view.
QString rangeHtml(QTextDocument& doc, int start, int end) {
    QTextCursor c(&doc);
    c.setPosition(start);
    c.setPosition(end, QTextCursor::KeepAnchor);
    return QTextDocumentFragment(c).toHtml();
}

}  // namespace

QList<ProsePiece> renderMarkdownProse(const QString& markdown, bool dark) {
    QTextDocument doc;
    // NoHTML: raw HTML is text (no escaping of our own needed); autolinks stay links.
    doc.setMarkdown(markdown, QTextDocument::MarkdownFeatures(QTextDocument::MarkdownDialectGitHub |
                                                              QTextDocument::MarkdownNoHTML));
    styleInline(doc, proseColors(dark));
    // The quote's bar replaces the first level's indent; deeper levels keep a smaller one.
    for (QTextBlock b = doc.begin(); b.isValid(); b = b.next()) {
        if (quoteLevel(b) <= 0) continue;
        QTextBlockFormat f = b.blockFormat();
        f.setLeftMargin(16 * (quoteLevel(b) - 1));
        f.setRightMargin(0);
        QTextCursor(b).setBlockFormat(f);
    }

    QList<ProsePiece> out;
    // A run of paragraphs of one kind (quoted or not) between tables.
    int runStart = -1, runEnd = -1;
    ProsePiece::Kind runKind = ProsePiece::Text;
    const auto flush = [&] {
        if (runStart < 0) return;
        QTextCursor c(&doc);
        c.setPosition(runStart);
        c.setPosition(runEnd, QTextCursor::KeepAnchor);
        if (!c.selectedText().trimmed().isEmpty()) out.append({runKind, rangeHtml(doc, runStart, runEnd), 0, {}});
        runStart = -1;
    };
    for (auto it = doc.rootFrame()->begin(); !it.atEnd(); ++it) {
        if (auto* table = qobject_cast<QTextTable*>(it.currentFrame())) {
            flush();
            ProsePiece piece{ProsePiece::Table, {}, table->columns(), {}};
            for (int r = 0; r < table->rows(); ++r) {
                for (int col = 0; col < table->columns(); ++col) {
                    const QTextTableCell cell = table->cellAt(r, col);
                    // A cell is part of one block, whose alignment its HTML would not carry.
                    piece.cells.append({rangeHtml(doc, cell.firstCursorPosition().position(), cell.lastCursorPosition().position()),
                                        cell.firstCursorPosition().blockFormat().alignment() & Qt::AlignHorizontal_Mask});
                }
            }
            out.append(piece);
            continue;
        }
        const QTextBlock b = it.currentBlock();
        if (!b.isValid()) continue;
        const ProsePiece::Kind kind = quoteLevel(b) > 0 ? ProsePiece::Quote : ProsePiece::Text;
        if (runStart >= 0 && kind != runKind) flush();
        if (runStart < 0) {
            runStart = b.position();
            runKind = kind;
        }
        runEnd = b.position() + b.length() - 1;
    }
    flush();
    return out;
}

QVariantList renderMarkdownBlock(const MarkdownBlock& b, bool dark) {
    QVariantList out;
    if (b.code) {
        out.append(QVariantMap{{QStringLiteral("kind"), QStringLiteral("code")},
                               {QStringLiteral("text"), b.text},
                               {QStringLiteral("lang"), b.language},
                               {QStringLiteral("html"), highlightedCodeHtml(b.text, b.language, dark)}});
        return out;
    }
    for (const ProsePiece& p : renderMarkdownProse(b.text, dark)) {
        if (p.kind != ProsePiece::Table) {
            out.append(QVariantMap{{QStringLiteral("kind"), p.kind == ProsePiece::Quote ? QStringLiteral("quote") : QStringLiteral("text")},
                                   {QStringLiteral("html"), p.html}});
            continue;
        }
        QVariantList cells;
        for (qsizetype i = 0; i < p.cells.size(); ++i) {
            const Qt::Alignment a = p.cells[i].align;
            const QString align = a & Qt::AlignRight ? QStringLiteral("right")
                                  : a & Qt::AlignHCenter ? QStringLiteral("center") : QStringLiteral("left");
            cells.append(QVariantMap{{QStringLiteral("html"), p.cells[i].html},
                                     {QStringLiteral("header"), i < p.columns},
                                     {QStringLiteral("align"), align}});
        }
        out.append(QVariantMap{{QStringLiteral("kind"), QStringLiteral("table")},
                               {QStringLiteral("columns"), p.columns},
                               {QStringLiteral("cells"), cells}});
    }
    return out;
}

QVariantList renderMessageBlocks(const QString& markdown, bool dark) {
    QVariantList out;
    for (const MarkdownBlock& b : splitMarkdownBlocks(markdown)) out += renderMarkdownBlock(b, dark);
    return out;
}

}  // namespace ld::ui
