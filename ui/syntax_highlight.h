#pragma once
// Syntax highlighting for the code blocks of replies. Debian 12 ships no Qt 6
// KSyntaxHighlighting, so this is a small rule-based scanner: one table of keywords, comment
// and string rules per language (syntax_highlight.cpp), good enough to colour the code a
// model writes, not a parser. Unknown languages come back as plain text.
#include <QColor>
#include <QList>
#include <QString>

namespace ld::ui {

// The format class of a span of code; the palette gives each a colour per theme.
enum class TokenKind { Plain, Keyword, Type, Literal, String, Number, Comment, Function, Tag, Attribute, Variable };

struct SyntaxToken {
    qsizetype start = 0;
    qsizetype length = 0;
    TokenKind kind = TokenKind::Plain;
};

// The language a fence tag names ("py", "c++", "tsx", "sh" ...), as one of: python, cpp, js,
// shell, json, sql, rust, go, java, html, css; empty when none of them.
QString canonicalLanguage(const QString& fenceTag);

// The highlighted spans of `code` in order, not overlapping; text between them is plain. An
// unknown language gives none.
QList<SyntaxToken> highlightTokens(const QString& code, const QString& language);

// "keyword", "string", ...: the class names the tests and the palette use.
QString tokenKindName(TokenKind kind);
QColor tokenColor(TokenKind kind, bool dark);

// Rich text for a Text.RichText code view: the code HTML-escaped, whitespace kept (lines still
// wrap), each span in its class's colour for the theme; the view sets the font and plain colour.
QString highlightedCodeHtml(const QString& code, const QString& language, bool dark);

}  // namespace ld::ui
