// HTML to text without QtGui: a small tag stripper. Scripts, styles and comments are dropped,
// block elements become line breaks, whitespace collapses as a browser would (except in
// <pre>), character references are decoded, and every <h1>-<h6> starts a section.
#include <QHash>
#include <QSet>
#include <QStringDecoder>

#include "app/documents/readers_internal.h"

namespace ld::documents::detail {

namespace {

const QHash<QString, char32_t>& namedEntities() {
    static const QHash<QString, char32_t> table = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xA0},
        {"copy", 0xA9}, {"reg", 0xAE}, {"trade", 0x2122}, {"mdash", 0x2014}, {"ndash", 0x2013},
        {"hellip", 0x2026}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C},
        {"rdquo", 0x201D}, {"laquo", 0xAB}, {"raquo", 0xBB}, {"euro", 0x20AC}, {"pound", 0xA3},
        {"yen", 0xA5}, {"cent", 0xA2}, {"sect", 0xA7}, {"para", 0xB6}, {"deg", 0xB0},
        {"plusmn", 0xB1}, {"times", 0xD7}, {"divide", 0xF7}, {"middot", 0xB7}, {"bull", 0x2022},
        {"shy", 0xAD}, {"zwnj", 0x200C}, {"zwj", 0x200D}, {"thinsp", 0x2009}, {"ensp", 0x2002},
        {"emsp", 0x2003}, {"larr", 0x2190}, {"rarr", 0x2192}, {"uarr", 0x2191}, {"darr", 0x2193},
        {"auml", 0xE4}, {"ouml", 0xF6}, {"uuml", 0xFC}, {"Auml", 0xC4}, {"Ouml", 0xD6},
        {"Uuml", 0xDC}, {"szlig", 0xDF}, {"eacute", 0xE9}, {"egrave", 0xE8}, {"ecirc", 0xEA},
        {"aacute", 0xE1}, {"agrave", 0xE0}, {"acirc", 0xE2}, {"iacute", 0xED}, {"oacute", 0xF3},
        {"uacute", 0xFA}, {"ntilde", 0xF1}, {"ccedil", 0xE7}, {"Eacute", 0xC9}, {"aring", 0xE5},
        {"oslash", 0xF8}, {"aelig", 0xE6}, {"iexcl", 0xA1}, {"iquest", 0xBF}, {"micro", 0xB5},
        {"alpha", 0x3B1}, {"beta", 0x3B2}, {"gamma", 0x3B3}, {"delta", 0x3B4}, {"pi", 0x3C0},
        {"sigma", 0x3C3}, {"mu", 0x3BC}, {"lambda", 0x3BB}, {"infin", 0x221E}, {"ne", 0x2260},
        {"le", 0x2264}, {"ge", 0x2265}, {"minus", 0x2212},
    };
    return table;
}

const QSet<QString>& blockTags() {
    static const QSet<QString> tags = {
        "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header",
        "footer", "nav", "aside", "main", "blockquote", "pre", "hr", "dd", "dt", "dl", "figure",
        "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "title", "form", "fieldset", "address",
        "details", "summary", "caption", "thead", "tbody", "tfoot", "body", "html",
    };
    return tags;
}

// Elements whose content is not text for a reader.
const QSet<QString>& skippedTags() {
    static const QSet<QString> tags = {"script", "style", "noscript", "template", "svg", "math"};
    return tags;
}

bool isHeading(const QString& tag) {
    return tag.size() == 2 && tag[0] == QLatin1Char('h') && tag[1] >= QLatin1Char('1') && tag[1] <= QLatin1Char('6');
}

// Collects text, collapsing whitespace, and cuts it into sections at headings.
class TextSink {
public:
    void text(QStringView t, bool pre) {
        for (QChar c : t) {
            if (!pre && c.isSpace() && c != QChar(0xA0)) {
                pendingSpace_ = true;
                if (heading_) headingText_ += QLatin1Char(' ');
                continue;
            }
            if (pendingSpace_ && !atLineStart()) cur_ += QLatin1Char(' ');
            pendingSpace_ = false;
            cur_ += c == QChar(0xA0) ? QLatin1Char(' ') : c;
            if (heading_) headingText_ += c;
        }
    }
    void lineBreak() {
        pendingSpace_ = false;
        while (cur_.endsWith(QLatin1Char(' '))) cur_.chop(1);
        if (!cur_.isEmpty() && !cur_.endsWith(QLatin1Char('\n'))) cur_ += QLatin1Char('\n');
    }
    void startHeading() {
        lineBreak();
        flush();
        heading_ = true;
        headingText_.clear();
    }
    void endHeading() {
        if (!heading_) return;
        heading_ = false;
        section_ = headingText_.simplified();
        segSection_ = section_;
        lineBreak();
    }
    QList<Segment> finish() {
        lineBreak();
        flush();
        return segments_;
    }

private:
    bool atLineStart() const { return cur_.isEmpty() || cur_.endsWith(QLatin1Char('\n')); }
    void flush() {
        const QString t = cur_.trimmed();
        if (!t.isEmpty()) segments_.append(Segment{t, 0, segSection_, 0, 0});
        cur_.clear();
        segSection_ = section_;
    }
    QString cur_;
    QString section_, segSection_;
    bool pendingSpace_ = false;
    bool heading_ = false;
    QString headingText_;
    QList<Segment> segments_;
};

QString tagName(QStringView tag, bool* closing) {
    qsizetype i = 0;
    *closing = false;
    if (i < tag.size() && tag[i] == QLatin1Char('/')) {
        *closing = true;
        ++i;
    }
    qsizetype j = i;
    while (j < tag.size() && (tag[j].isLetterOrNumber() || tag[j] == QLatin1Char('-') || tag[j] == QLatin1Char(':'))) ++j;
    return tag.mid(i, j - i).toString().toLower();
}

}  // namespace

QString decodeEntities(QStringView s) {
    QString out;
    out.reserve(s.size());
    for (qsizetype i = 0; i < s.size(); ++i) {
        if (s[i] != QLatin1Char('&')) {
            out += s[i];
            continue;
        }
        const qsizetype semi = s.indexOf(QLatin1Char(';'), i + 1);
        if (semi < 0 || semi - i > 33) {
            out += s[i];
            continue;
        }
        const QStringView name = s.mid(i + 1, semi - i - 1);
        char32_t cp = 0;
        if (name.startsWith(QLatin1Char('#'))) {
            bool ok = false;
            const uint v = (name.size() > 1 && (name[1] == QLatin1Char('x') || name[1] == QLatin1Char('X')))
                               ? name.mid(2).toUInt(&ok, 16)
                               : name.mid(1).toUInt(&ok, 10);
            // Invalid code points (surrogates, beyond U+10FFFF, NUL) become U+FFFD as browsers do.
            if (ok) cp = (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) ? 0xFFFD : v;
        } else {
            cp = namedEntities().value(name.toString(), 0);
        }
        if (!cp) {
            out += s[i];
            continue;
        }
        out += QString::fromUcs4(&cp, 1);
        i = semi;
    }
    return out;
}

QString readHtml(const QByteArray& bytes, Extracted* out) {
    out->mimeType = QStringLiteral("text/html");
    // <meta charset> or a BOM when present, else UTF-8; bytes that are not UTF-8 fall back to
    // Latin-1 like plain text.
    QStringDecoder dec = QStringDecoder::decoderForHtml(bytes);
    QString html;
    if (dec.isValid() && QByteArray(dec.name()).toLower() != "utf-8") {
        html = dec.decode(bytes);
    } else {
        const std::optional<QString> t = decodeText(bytes);
        if (!t) return QStringLiteral("it contains binary data, not HTML");
        html = *t;
    }

    TextSink sink;
    int preDepth = 0;
    const qsizetype n = html.size();
    qsizetype i = 0;
    while (i < n) {
        const qsizetype lt = html.indexOf(QLatin1Char('<'), i);
        const qsizetype textEnd = lt < 0 ? n : lt;
        if (textEnd > i) sink.text(decodeEntities(QStringView(html).mid(i, textEnd - i)), preDepth > 0);
        if (lt < 0) break;
        if (html.mid(lt, 4) == QLatin1String("<!--")) {
            const qsizetype end = html.indexOf(QLatin1String("-->"), lt + 4);
            i = end < 0 ? n : end + 3;
            continue;
        }
        const qsizetype gt = html.indexOf(QLatin1Char('>'), lt + 1);
        if (gt < 0) {  // a stray '<' at the end: it was text
            sink.text(QStringView(html).mid(lt), preDepth > 0);
            break;
        }
        bool closing = false;
        const QString name = tagName(QStringView(html).mid(lt + 1, gt - lt - 1), &closing);
        i = gt + 1;
        if (name.isEmpty()) {  // "<!DOCTYPE", "<?xml", or a '<' in text
            if (lt + 1 < n && (html[lt + 1] == QLatin1Char('!') || html[lt + 1] == QLatin1Char('?'))) continue;
            sink.text(QStringView(html).mid(lt, gt + 1 - lt), preDepth > 0);
            continue;
        }
        if (!closing && skippedTags().contains(name)) {
            const qsizetype end = html.indexOf(QLatin1String("</") + name, i, Qt::CaseInsensitive);
            const qsizetype close = end < 0 ? -1 : html.indexOf(QLatin1Char('>'), end);
            i = close < 0 ? n : close + 1;
            continue;
        }
        if (name == QLatin1String("pre")) preDepth = std::max(0, preDepth + (closing ? -1 : 1));
        if (isHeading(name)) {
            if (closing) sink.endHeading();
            else sink.startHeading();
        } else if (blockTags().contains(name) || name == QLatin1String("td") || name == QLatin1String("th")) {
            if (name == QLatin1String("td") || name == QLatin1String("th")) sink.text(u" ", false);
            else sink.lineBreak();
        }
    }
    out->segments = sink.finish();
    return {};
}

}  // namespace ld::documents::detail
