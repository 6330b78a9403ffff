#include "ui/text_format.h"

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

QString escapeMarkdownHtml(const QString& markdown) {
    if (!markdown.contains(QLatin1Char('<'))) return markdown;
    QString out;
    out.reserve(markdown.size() + 16);
    const qsizetype n = markdown.size();
    for (qsizetype i = 0; i < n;) {
        const QChar c = markdown[i];
        if (c == QLatin1Char('`')) {
            // A code span: a run of backticks up to the next run of the same length.
            qsizetype run = 0;
            while (i + run < n && markdown[i + run] == QLatin1Char('`')) ++run;
            const QString fence(run, QLatin1Char('`'));
            qsizetype close = markdown.indexOf(fence, i + run);
            while (close >= 0 && close + run < n && markdown[close + run] == QLatin1Char('`'))
                close = markdown.indexOf(fence, close + run + 1);
            const qsizetype end = close < 0 ? i + run : close + run;
            out += markdown.mid(i, end - i);
            i = end;
        } else if (c == QLatin1Char('\\') && i + 1 < n) {
            out += markdown.mid(i, 2);  // an escape stays an escape
            i += 2;
        } else {
            if (c == QLatin1Char('<')) out += QLatin1Char('\\');
            out += c;
            ++i;
        }
    }
    return out;
}

}  // namespace ld::ui
