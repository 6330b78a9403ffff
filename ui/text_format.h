#pragma once
// Turning stored text into the markup the QML views render, without letting the text itself
// become markup.
#include <QList>
#include <QString>
#include <QVariantList>

namespace ld::ui {

// Search snippets: the store wraps matches in these markers (characters no message contains
// as text); highlightedSnippet() escapes everything else and turns only them into <b></b>,
// for a Text.StyledText label.
inline constexpr QChar kHighlightOpen = QChar(0xE000);
inline constexpr QChar kHighlightClose = QChar(0xE001);
QString highlightedSnippet(const QString& snippet);

// A message's Markdown cut at its fenced code blocks: prose and code alternate. An
// unterminated fence (a reply still streaming) runs to the end; blank prose is dropped.
struct MarkdownBlock {
    bool code = false;
    QString text;      // the prose's Markdown, or the code as written
    QString language;  // a code block's fence tag ("python"), as written
    bool operator==(const MarkdownBlock&) const = default;
};
QList<MarkdownBlock> splitMarkdownBlocks(const QString& markdown);

// Markdown prose as pieces for the chat view. QTextDocument's own rendering of tables and quotes
// does not survive a Qt Quick TextEdit (it draws neither cell backgrounds nor one-sided
// borders, and doubles every table line), so tables and quotes come out as their own pieces
// and the QML draws their lines; the rest is rich text for a Text.RichText view. Throughout:
// - raw HTML in the text (a model may write <img> or <a>) is shown as text, not rendered;
// - <https://...> autolinks and [text](url) are links in the theme's accent colour;
// - `code` spans are shaded; an image becomes a link to it (nothing is fetched).
// The view's font and text colour apply where the Markdown sets none.
struct TableCell {
    QString html;
    Qt::Alignment align = Qt::AlignLeft;  // the column's (|:--:| centres, |--:| right-aligns)
};
struct ProsePiece {
    enum Kind { Text, Quote, Table };
    Kind kind = Text;
    QString html;            // Text and Quote (a quote's own nested levels are indented)
    int columns = 0;         // Table: cells row by row, the first row the header
    QList<TableCell> cells;
};
QList<ProsePiece> renderMarkdownProse(const QString& markdown, bool dark);

// What the chat view shows for a message, one map per piece, in order:
//   {kind: "text" | "quote", html}
//   {kind: "table", columns, cells: [{html, header: bool, align: "left" | "center" | "right"}]}
//   {kind: "code", text, lang, html}: `text` is what "Copy code" copies, `html` is the
//   highlighted code (syntax_highlight.h)
QVariantList renderMessageBlocks(const QString& markdown, bool dark);
// The view's blocks of one of splitMarkdownBlocks()' blocks (a prose block may give several).
QVariantList renderMarkdownBlock(const MarkdownBlock& block, bool dark);

}  // namespace ld::ui
