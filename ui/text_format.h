#pragma once
// Turning stored text into the markup the QML views render, without letting the text itself
// become markup.
#include <QString>

namespace ld::ui {

// Search snippets: the store wraps matches in these markers (characters no message contains
// as text); highlightedSnippet() escapes everything else and turns only them into <b></b>,
// for a Text.StyledText label.
inline constexpr QChar kHighlightOpen = QChar(0xE000);
inline constexpr QChar kHighlightClose = QChar(0xE001);
QString highlightedSnippet(const QString& snippet);

// Markdown prose for the chat view: raw HTML in a message (a model may write <img> or <a>)
// is shown as text, not rendered; `inline code` spans are left alone (they show as-is).
QString escapeMarkdownHtml(const QString& markdown);

}  // namespace ld::ui
