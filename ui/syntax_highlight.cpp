#include "ui/syntax_highlight.h"

#include <QHash>
#include <QSet>

namespace ld::ui {

namespace {

// How a language is scanned: most are "code" (words, strings, comments, numbers); HTML/XML and
// CSS have their own small scanners below.
enum class Mode { Code, Markup, Css };

// One row per language. Word lists are space separated; string delimiters longest first.
struct Language {
    const char* name;                   // canonical name
    const char* aliases;                // fence tags that name it
    Mode mode = Mode::Code;
    const char* keywords = "";
    const char* types = "";
    const char* literals = "";
    const char* builtins = "";          // well-known functions and commands: Function
    const char* lineComments = "";
    const char* blockComment = "";      // "open close"
    const char* strings = "";
    const char* stringPrefixes = "";    // words glued to a string: r"..", f"..", u8"..", b".."
    bool caseInsensitive = false;       // SQL
    bool backslashEscapes = true;
    bool multilineStrings = false;      // any string may span lines (else only triple quotes and `)
    bool shell = false;                 // $variables, words with dashes, # only after a space
    bool jsonKeys = false;              // a string before ':' is a key (Attribute)
    bool preprocessor = false;          // C's #include lines
    bool rust = false;                  // 'lifetimes, 'c' chars, #[attributes], macro!()
    bool annotations = false;           // @decorator / @Annotation: Attribute
};

// clang-format off
const Language kLanguages[] = {
    {.name = "python", .aliases = "python py python3 py3 pyw sage",
     .keywords = "and as assert async await break case class continue def del elif else except finally for from global "
                 "if import in is lambda match nonlocal not or pass raise return try while with yield",
     .types = "int float str bytes bool list dict set tuple object type complex frozenset bytearray Exception "
              "ValueError TypeError KeyError IndexError RuntimeError",
     .literals = "True False None self cls",
     .builtins = "print len range open enumerate zip map filter sorted reversed sum min max abs isinstance getattr "
                 "setattr hasattr super input round any all iter next repr",
     .lineComments = "#", .strings = "\"\"\" ''' \" '",
     .stringPrefixes = "r u f b rb br fr rf R U F B RB BR FR RF Rb rB bR Br Fr fR",
     .annotations = true},
    {.name = "cpp", .aliases = "cpp c++ cxx cc hpp hxx hh h c objc objective-c cuda cu glsl hlsl arduino ino",
     .keywords = "alignas alignof asm auto break case catch class co_await co_return co_yield concept const consteval "
                 "constexpr constinit const_cast continue decltype default delete do dynamic_cast else enum explicit "
                 "export extern final for friend goto if inline mutable namespace new noexcept operator override "
                 "private protected public register reinterpret_cast requires return sizeof static static_assert "
                 "static_cast struct switch template this thread_local throw try typedef typeid typename union using "
                 "virtual volatile while",
     .types = "void bool char char8_t char16_t char32_t wchar_t short int long float double signed unsigned size_t "
              "ssize_t ptrdiff_t int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t intptr_t uintptr_t "
              "string string_view vector map unordered_map set unordered_set unique_ptr shared_ptr optional array FILE",
     .literals = "true false nullptr NULL",
     .builtins = "printf fprintf sprintf snprintf scanf puts malloc calloc realloc free memcpy memset strlen strcmp "
                 "std cout cerr endl",
     .lineComments = "//", .blockComment = "/* */", .strings = "\" '", .stringPrefixes = "u8 u U L",
     .preprocessor = true},
    {.name = "js", .aliases = "js javascript jsx mjs cjs ts typescript tsx mts node deno",
     .keywords = "abstract as async await break case catch class const continue debugger declare default delete do "
                 "else enum export extends finally for from function get if implements import in instanceof "
                 "interface keyof let namespace new of private protected public readonly return satisfies set "
                 "static super switch this throw try type typeof var void while with yield",
     .types = "string number boolean any unknown never object symbol bigint Array Promise Map Set Record Partial "
              "Readonly Date Error RegExp JSON Math Object String Number Boolean",
     .literals = "true false null undefined NaN Infinity",
     .builtins = "console require setTimeout setInterval clearTimeout fetch parseInt parseFloat",
     .lineComments = "//", .blockComment = "/* */", .strings = "` \" '", .annotations = true},
    {.name = "shell", .aliases = "shell sh bash zsh ksh shellscript console terminal",
     .keywords = "if then else elif fi for while until do done case esac in function select return local export "
                 "readonly declare unset shift break continue exit source alias",
     .builtins = "echo printf cd pwd ls cat grep sed awk find mkdir rm cp mv chmod chown sudo apt apt-get pip pip3 "
                 "npm npx git curl wget tar make cmake test read eval exec set trap kill ps xargs sort head tail "
                 "touch ln which env python python3 docker",
     .lineComments = "#", .strings = "\" '", .multilineStrings = true, .shell = true},
    {.name = "json", .aliases = "json jsonc json5 jsonl geojson",
     .literals = "true false null", .lineComments = "//", .blockComment = "/* */", .strings = "\"", .jsonKeys = true},
    {.name = "sql", .aliases = "sql mysql postgresql postgres psql pgsql sqlite plsql tsql",
     .keywords = "select from where insert into values update set delete create table drop alter add column index "
                 "view primary key foreign references join inner left right outer full cross on as and or not in is "
                 "like between exists group by order having limit offset union all distinct case when then else end "
                 "begin commit rollback transaction if with returning default unique check constraint asc desc "
                 "cascade grant revoke database schema trigger procedure replace temporary autoincrement",
     .types = "int integer bigint smallint tinyint decimal numeric real float double precision varchar char text "
              "boolean bool date time timestamp datetime blob serial uuid json jsonb",
     .literals = "null true false",
     .builtins = "count sum avg min max coalesce ifnull nullif cast lower upper length substr substring now round abs",
     .lineComments = "--", .blockComment = "/* */", .strings = "' \"", .caseInsensitive = true,
     .backslashEscapes = false},
    {.name = "rust", .aliases = "rust rs",
     .keywords = "as async await break const continue crate dyn else enum extern fn for if impl in let loop match mod "
                 "move mut pub ref return static struct super trait type unsafe use where while",
     .types = "i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize f32 f64 bool char str String Vec Option Result "
              "Box Rc Arc HashMap HashSet Self",
     .literals = "true false None Some Ok Err self",
     .lineComments = "//", .blockComment = "/* */", .strings = "\"", .stringPrefixes = "b r br", .rust = true},
    {.name = "go", .aliases = "go golang",
     .keywords = "break case chan const continue default defer else fallthrough for func go goto if import interface "
                 "map package range return select struct switch type var",
     .types = "bool byte complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune string uint uint8 "
              "uint16 uint32 uint64 uintptr any",
     .literals = "true false nil iota",
     .builtins = "append cap close copy delete len make new panic print println recover",
     .lineComments = "//", .blockComment = "/* */", .strings = "` \" '"},
    {.name = "java", .aliases = "java",
     .keywords = "abstract assert break case catch class const continue default do else enum extends final finally "
                 "for goto if implements import instanceof interface native new package permits private protected "
                 "public record return sealed static strictfp super switch synchronized this throw throws transient "
                 "try var void volatile while yield",
     .types = "boolean byte char short int long float double String Object Integer Long Double Float Boolean "
              "Character List Map Set ArrayList HashMap HashSet Optional Exception RuntimeException",
     .literals = "true false null",
     .lineComments = "//", .blockComment = "/* */", .strings = "\"\"\" \" '", .annotations = true},
    {.name = "html", .aliases = "html htm xhtml xml svg markup plist vue", .mode = Mode::Markup},
    {.name = "css", .aliases = "css scss less", .mode = Mode::Css, .blockComment = "/* */", .strings = "\" '"},
};
// clang-format on

QStringList words(const char* list) { return QString::fromLatin1(list).split(QLatin1Char(' '), Qt::SkipEmptyParts); }

// A language's lists as sets, built once per scan (cheap next to the view's layout).
struct Tables {
    QSet<QString> keywords, types, literals, builtins, prefixes;
    QStringList lineComments, strings;
    QString blockOpen, blockClose;

    explicit Tables(const Language& l) {
        auto set = [&](const char* list) {
            QSet<QString> s;
            for (const QString& w : words(list)) s.insert(l.caseInsensitive ? w.toLower() : w);
            return s;
        };
        keywords = set(l.keywords);
        types = set(l.types);
        literals = set(l.literals);
        builtins = set(l.builtins);
        prefixes = set(l.stringPrefixes);
        lineComments = words(l.lineComments);
        strings = words(l.strings);
        const QStringList block = words(l.blockComment);
        if (block.size() == 2) {
            blockOpen = block[0];
            blockClose = block[1];
        }
    }
};

const Language* findLanguage(const QString& canonical) {
    for (const Language& l : kLanguages)
        if (canonical == QLatin1String(l.name)) return &l;
    return nullptr;
}

bool isWordStart(QChar c) { return c.isLetter() || c == QLatin1Char('_'); }
bool isWordChar(QChar c) { return c.isLetterOrNumber() || c == QLatin1Char('_'); }

class Scanner {
public:
    Scanner(const QString& s, qsizetype begin, qsizetype end, QList<SyntaxToken>* out)
        : s_(s), end_(end), i_(begin), begin_(begin), out_(out) {}

    void code(const Language& lang);
    void markup();
    void css(const Language& lang);

private:
    QChar at(qsizetype i) const { return i < end_ ? s_[i] : QChar(); }
    bool startsWith(qsizetype i, const QString& what) const {
        return i + what.size() <= end_ && QStringView(s_).mid(i, what.size()) == what;
    }
    void add(qsizetype start, qsizetype stop, TokenKind kind) {
        if (stop > start) out_->append({start, stop - start, kind});
    }
    qsizetype lineEnd(qsizetype i) const {
        const qsizetype nl = s_.indexOf(QLatin1Char('\n'), i);
        return nl < 0 || nl > end_ ? end_ : nl;
    }
    qsizetype wordEnd(qsizetype i, bool dashes = false) const {
        while (i < end_ && (isWordChar(s_[i]) || (dashes && s_[i] == QLatin1Char('-')))) ++i;
        return i;
    }
    qsizetype skipSpaces(qsizetype i) const {
        while (i < end_ && (s_[i] == QLatin1Char(' ') || s_[i] == QLatin1Char('\t'))) ++i;
        return i;
    }
    // The end of a string opened by `delim` at i (at the end of the line when unterminated and
    // the string may not span lines).
    qsizetype stringEnd(qsizetype i, const QString& delim, bool escapes, bool multiline) const {
        qsizetype j = i + delim.size();
        while (j < end_) {
            if (escapes && s_[j] == QLatin1Char('\\')) {
                j += 2;
            } else if (startsWith(j, delim)) {
                return j + delim.size();
            } else if (s_[j] == QLatin1Char('\n') && !multiline) {
                return j;
            } else {
                ++j;
            }
        }
        return end_;
    }
    qsizetype numberEnd(qsizetype i) const {
        // 0x1F, 1_000, 3.14e-5, 10px, 2.5f, 42u64: digits, then letters/digits/dots of a suffix.
        qsizetype j = i;
        while (j < end_) {
            const QChar c = s_[j];
            if (c.isLetterOrNumber() || c == QLatin1Char('_') || c == QLatin1Char('%')) {
                ++j;
            } else if (c == QLatin1Char('.') && at(j + 1).isDigit()) {
                ++j;
            } else if ((c == QLatin1Char('+') || c == QLatin1Char('-')) && j > i &&
                       (s_[j - 1] == QLatin1Char('e') || s_[j - 1] == QLatin1Char('E')) && at(j + 1).isDigit() &&
                       !(s_[i] == QLatin1Char('0') && (at(i + 1) == QLatin1Char('x') || at(i + 1) == QLatin1Char('X')))) {
                ++j;
            } else {
                break;
            }
        }
        return j;
    }
    bool numberStart(qsizetype i) const {
        const QChar c = s_[i];
        const bool digit = c.isDigit() || (c == QLatin1Char('.') && at(i + 1).isDigit());
        return digit && (i == begin_ || !isWordChar(s_[i - 1]));
    }
    bool lineStartBefore(qsizetype i) const {
        for (qsizetype j = i - 1; j >= begin_; --j) {
            if (s_[j] == QLatin1Char('\n')) return true;
            if (s_[j] != QLatin1Char(' ') && s_[j] != QLatin1Char('\t')) return false;
        }
        return true;
    }

    const QString& s_;
    const qsizetype end_;
    qsizetype i_;
    const qsizetype begin_;
    QList<SyntaxToken>* out_;
};

void Scanner::code(const Language& lang) {
    const Tables t(lang);
    const auto lookup = [&](const QString& w) { return lang.caseInsensitive ? w.toLower() : w; };
    while (i_ < end_) {
        const qsizetype i = i_;
        const QChar c = s_[i];
        if (!t.blockOpen.isEmpty() && startsWith(i, t.blockOpen)) {
            const qsizetype close = s_.indexOf(t.blockClose, i + t.blockOpen.size());
            i_ = close < 0 || close >= end_ ? end_ : close + t.blockClose.size();
            add(i, i_, TokenKind::Comment);
            continue;
        }
        if (lang.preprocessor && c == QLatin1Char('#') && lineStartBefore(i)) {
            const qsizetype word = skipSpaces(i + 1);
            const qsizetype stop = wordEnd(word);
            add(i, stop, TokenKind::Keyword);
            i_ = stop;
            const QStringView directive = QStringView(s_).mid(word, stop - word);
            const qsizetype arg = skipSpaces(stop);
            if ((directive == QLatin1String("include") || directive == QLatin1String("import")) && at(arg) == QLatin1Char('<')) {
                const qsizetype close = s_.indexOf(QLatin1Char('>'), arg);
                if (close > 0 && close < lineEnd(arg)) {
                    add(arg, close + 1, TokenKind::String);
                    i_ = close + 1;
                }
            }
            continue;
        }
        if (lang.rust && c == QLatin1Char('#') && (at(i + 1) == QLatin1Char('[') || (at(i + 1) == QLatin1Char('!') && at(i + 2) == QLatin1Char('[')))) {
            qsizetype j = s_.indexOf(QLatin1Char('['), i);
            int depth = 0;
            const qsizetype eol = lineEnd(i);
            for (; j < eol; ++j) {
                if (s_[j] == QLatin1Char('[')) ++depth;
                if (s_[j] == QLatin1Char(']') && --depth == 0) break;
            }
            i_ = std::min(j + 1, eol);
            add(i, i_, TokenKind::Attribute);
            continue;
        }
        bool comment = false;
        for (const QString& marker : t.lineComments) {
            // In a shell a # inside a word (a#b, $#) is not a comment.
            if (startsWith(i, marker) && !(lang.shell && i > begin_ && !s_[i - 1].isSpace())) {
                i_ = lineEnd(i);
                add(i, i_, TokenKind::Comment);
                comment = true;
                break;
            }
        }
        if (comment) continue;
        if (lang.rust && c == QLatin1Char('\'')) {
            // 'x' and '\n' are chars; 'a alone is a lifetime.
            qsizetype close = -1;
            if (at(i + 1) == QLatin1Char('\\')) close = s_.indexOf(QLatin1Char('\''), i + 2);
            else if (at(i + 2) == QLatin1Char('\'')) close = i + 2;
            if (close > 0 && close < lineEnd(i)) {
                i_ = close + 1;
                add(i, i_, TokenKind::String);
            } else if (isWordStart(at(i + 1))) {
                i_ = wordEnd(i + 1);
                add(i, i_, TokenKind::Type);
            } else {
                ++i_;
            }
            continue;
        }
        const QString* delim = nullptr;
        for (const QString& d : t.strings)
            if (startsWith(i, d)) {
                delim = &d;
                break;
            }
        if (delim) {
            const bool multiline = lang.multilineStrings || delim->size() == 3 || *delim == QLatin1String("`");
            i_ = stringEnd(i, *delim, lang.backslashEscapes, multiline);
            bool key = false;
            if (lang.jsonKeys) {
                qsizetype j = i_;
                while (j < end_ && s_[j].isSpace()) ++j;
                key = at(j) == QLatin1Char(':');
            }
            add(i, i_, key ? TokenKind::Attribute : TokenKind::String);
            continue;
        }
        if (lang.shell && c == QLatin1Char('$')) {
            const QChar n = at(i + 1);
            if (n == QLatin1Char('{')) {
                const qsizetype close = s_.indexOf(QLatin1Char('}'), i);
                i_ = close < 0 || close >= lineEnd(i) ? lineEnd(i) : close + 1;
            } else if (isWordStart(n)) {
                i_ = wordEnd(i + 1);
            } else if (n.isDigit() || QStringView(u"@?#$!*-").contains(n)) {
                i_ = i + 2;
            } else {
                ++i_;
                continue;
            }
            add(i, i_, TokenKind::Variable);
            continue;
        }
        if (lang.annotations && c == QLatin1Char('@') && isWordStart(at(i + 1))) {
            qsizetype j = i + 1;
            while (j < end_ && (isWordChar(s_[j]) || (s_[j] == QLatin1Char('.') && isWordStart(at(j + 1))))) ++j;
            i_ = j;
            add(i, i_, TokenKind::Attribute);
            continue;
        }
        if (numberStart(i)) {
            i_ = numberEnd(i);
            add(i, i_, TokenKind::Number);
            continue;
        }
        if (isWordStart(c) || (c == QLatin1Char('$') && !lang.shell && isWordChar(at(i + 1)))) {
            const qsizetype stop = wordEnd(i + 1, lang.shell);
            const QString w = s_.mid(i, stop - i);
            // A prefixed string: r"raw", f'{x}', u8"text".
            const QString* glued = nullptr;
            for (const QString& d : t.strings)
                if (startsWith(stop, d)) {
                    glued = &d;
                    break;
                }
            if (glued && t.prefixes.contains(w)) {
                const bool multiline = lang.multilineStrings || glued->size() == 3 || *glued == QLatin1String("`");
                // Raw strings (r"..") have no escapes.
                const bool raw = w.contains(QLatin1Char('r'), Qt::CaseInsensitive);
                i_ = stringEnd(stop, *glued, lang.backslashEscapes && !raw, multiline);
                add(i, i_, TokenKind::String);
                continue;
            }
            i_ = stop;
            const QString key = lookup(w);
            TokenKind kind = TokenKind::Plain;
            if (t.keywords.contains(key)) kind = TokenKind::Keyword;
            else if (t.literals.contains(key)) kind = TokenKind::Literal;
            else if (t.types.contains(key)) kind = TokenKind::Type;
            else if (t.builtins.contains(key)) kind = TokenKind::Function;
            else if (!lang.shell && !lang.jsonKeys && at(skipSpaces(stop)) == QLatin1Char('(')) kind = TokenKind::Function;
            else if (lang.rust && at(stop) == QLatin1Char('!')) kind = TokenKind::Function;  // a macro
            // A shell command word is a command only at the start of a command, which a scanner
            // this small cannot tell; builtins above cover the common ones.
            if (kind != TokenKind::Plain) add(i, i_, kind);
            continue;
        }
        ++i_;
    }
}

void Scanner::markup() {
    const Language* js = findLanguage(QStringLiteral("js"));
    const Language* cssLang = findLanguage(QStringLiteral("css"));
    while (i_ < end_) {
        const qsizetype i = i_;
        const QChar c = s_[i];
        if (startsWith(i, QStringLiteral("<!--"))) {
            const qsizetype close = s_.indexOf(QLatin1String("-->"), i + 4);
            i_ = close < 0 || close >= end_ ? end_ : close + 3;
            add(i, i_, TokenKind::Comment);
            continue;
        }
        if (c == QLatin1Char('<') && (at(i + 1) == QLatin1Char('!') || at(i + 1) == QLatin1Char('?'))) {
            const qsizetype close = s_.indexOf(QLatin1Char('>'), i);
            i_ = close < 0 || close >= end_ ? end_ : close + 1;
            add(i, i_, TokenKind::Keyword);  // <!DOCTYPE html>, <?xml ...?>
            continue;
        }
        if (c == QLatin1Char('<') && (isWordStart(at(i + 1)) || (at(i + 1) == QLatin1Char('/') && isWordStart(at(i + 2))))) {
            const bool closing = at(i + 1) == QLatin1Char('/');
            const qsizetype nameStart = i + (closing ? 2 : 1);
            qsizetype j = nameStart;
            while (j < end_ && (isWordChar(s_[j]) || s_[j] == QLatin1Char('-') || s_[j] == QLatin1Char(':') || s_[j] == QLatin1Char('.'))) ++j;
            const QString name = s_.mid(nameStart, j - nameStart).toLower();
            add(i, j, TokenKind::Tag);
            // Attributes up to the tag's end.
            while (j < end_ && s_[j] != QLatin1Char('>')) {
                const QChar a = s_[j];
                if (a == QLatin1Char('"') || a == QLatin1Char('\'')) {
                    const qsizetype close = s_.indexOf(a, j + 1);
                    const qsizetype stop = close < 0 || close >= end_ ? end_ : close + 1;
                    add(j, stop, TokenKind::String);
                    j = stop;
                } else if (a == QLatin1Char('/') && at(j + 1) == QLatin1Char('>')) {
                    break;
                } else if (!a.isSpace() && a != QLatin1Char('=')) {
                    const qsizetype start = j;
                    while (j < end_ && !s_[j].isSpace() && !QStringView(u"=>/\"'").contains(s_[j])) ++j;
                    if (j == start) ++j;
                    add(start, j, TokenKind::Attribute);
                } else {
                    ++j;
                }
            }
            const qsizetype tagEnd = at(j) == QLatin1Char('/') ? std::min(j + 2, end_) : std::min(j + 1, end_);
            add(j, tagEnd, TokenKind::Tag);
            i_ = tagEnd;
            // A script's or style's body in its own language.
            if (!closing && (name == QLatin1String("script") || name == QLatin1String("style"))) {
                qsizetype close = s_.indexOf(QStringLiteral("</") + name, i_, Qt::CaseInsensitive);
                if (close < 0 || close > end_) close = end_;
                Scanner inner(s_, i_, close, out_);
                if (name == QLatin1String("script")) inner.code(*js);
                else inner.css(*cssLang);
                i_ = close;
            }
            continue;
        }
        if (c == QLatin1Char('&')) {
            qsizetype j = i + 1;
            while (j < end_ && (isWordChar(s_[j]) || s_[j] == QLatin1Char('#'))) ++j;
            if (j > i + 1 && at(j) == QLatin1Char(';')) {
                add(i, j + 1, TokenKind::Literal);
                i_ = j + 1;
                continue;
            }
        }
        ++i_;
    }
}

void Scanner::css(const Language& lang) {
    const Tables t(lang);
    int parens = 0;
    // A selector is followed by '{' before any ';' or '}' (which end a declaration).
    const auto inSelector = [&](qsizetype i) {
        while (i < end_ && !QStringView(u"{;}").contains(s_[i])) ++i;
        return i < end_ && s_[i] == QLatin1Char('{');
    };
    const auto isHex = [&](qsizetype from, qsizetype to) {
        for (qsizetype j = from; j < to; ++j)
            if (!QStringView(u"0123456789abcdefABCDEF").contains(s_[j])) return false;
        const qsizetype n = to - from;
        return n == 3 || n == 4 || n == 6 || n == 8;
    };
    while (i_ < end_) {
        const qsizetype i = i_;
        const QChar c = s_[i];
        if (startsWith(i, t.blockOpen)) {
            const qsizetype close = s_.indexOf(t.blockClose, i + 2);
            i_ = close < 0 || close >= end_ ? end_ : close + 2;
            add(i, i_, TokenKind::Comment);
        } else if (c == QLatin1Char('"') || c == QLatin1Char('\'')) {
            i_ = stringEnd(i, QString(c), true, false);
            add(i, i_, TokenKind::String);
        } else if (c == QLatin1Char('(') || c == QLatin1Char(')')) {
            parens = std::max(0, parens + (c == QLatin1Char('(') ? 1 : -1));
            ++i_;
        } else if ((c == QLatin1Char('@') || c == QLatin1Char('!')) && isWordStart(at(i + 1))) {
            i_ = wordEnd(i + 1, true);
            add(i, i_, TokenKind::Keyword);  // @media, !important
        } else if (numberStart(i)) {
            i_ = numberEnd(i);
            add(i, i_, TokenKind::Number);
        } else if ((c == QLatin1Char('.') || c == QLatin1Char('#')) && isWordChar(at(i + 1))) {
            i_ = wordEnd(i + 1, true);
            // #fff in a declaration is a colour; .class and #id are selectors.
            const bool colour = c == QLatin1Char('#') && isHex(i + 1, i_) && !inSelector(i_);
            add(i, i_, colour ? TokenKind::Number : TokenKind::Tag);
        } else if (isWordStart(c) || (c == QLatin1Char('-') && (isWordStart(at(i + 1)) || at(i + 1) == QLatin1Char('-')))) {
            i_ = wordEnd(i + 1, true);
            const QChar next = at(skipSpaces(i_));
            const bool selector = inSelector(i_);
            if (next == QLatin1Char('(')) add(i, i_, TokenKind::Function);
            else if (next == QLatin1Char(':') && (parens > 0 || !selector)) add(i, i_, TokenKind::Attribute);
            else if (selector && parens == 0) add(i, i_, TokenKind::Tag);
        } else {
            ++i_;
        }
    }
}

}  // namespace

QString canonicalLanguage(const QString& fenceTag) {
    // "```python title=x.py" or "```{.rust}": the first word, without decoration.
    QString tag = fenceTag.trimmed().section(QLatin1Char(' '), 0, 0).toLower();
    tag.remove(QLatin1Char('{')).remove(QLatin1Char('}'));
    if (tag.startsWith(QLatin1Char('.'))) tag.remove(0, 1);
    if (tag.isEmpty()) return {};
    for (const Language& l : kLanguages)
        if (words(l.aliases).contains(tag)) return QString::fromLatin1(l.name);
    return {};
}

QList<SyntaxToken> highlightTokens(const QString& code, const QString& language) {
    QList<SyntaxToken> out;
    const Language* lang = findLanguage(canonicalLanguage(language));
    if (!lang) return out;
    Scanner scan(code, 0, code.size(), &out);
    switch (lang->mode) {
    case Mode::Code: scan.code(*lang); break;
    case Mode::Markup: scan.markup(); break;
    case Mode::Css: scan.css(*lang); break;
    }
    return out;
}

QString tokenKindName(TokenKind kind) {
    switch (kind) {
    case TokenKind::Plain: return QStringLiteral("plain");
    case TokenKind::Keyword: return QStringLiteral("keyword");
    case TokenKind::Type: return QStringLiteral("type");
    case TokenKind::Literal: return QStringLiteral("literal");
    case TokenKind::String: return QStringLiteral("string");
    case TokenKind::Number: return QStringLiteral("number");
    case TokenKind::Comment: return QStringLiteral("comment");
    case TokenKind::Function: return QStringLiteral("function");
    case TokenKind::Tag: return QStringLiteral("tag");
    case TokenKind::Attribute: return QStringLiteral("attribute");
    case TokenKind::Variable: return QStringLiteral("variable");
    }
    return {};
}

QColor tokenColor(TokenKind kind, bool dark) {
    // GitHub's light and dark code colours: readable on Theme.qml's codeBackground in both.
    switch (kind) {
    case TokenKind::Plain: return {};
    case TokenKind::Keyword: return QColor(dark ? 0xff7b72 : 0xcf222e);
    case TokenKind::Type: return QColor(dark ? 0xffa657 : 0x953800);
    case TokenKind::Literal: return QColor(dark ? 0x79c0ff : 0x0550ae);
    case TokenKind::String: return QColor(dark ? 0xa5d6ff : 0x0a3069);
    case TokenKind::Number: return QColor(dark ? 0x79c0ff : 0x0550ae);
    case TokenKind::Comment: return QColor(dark ? 0x8b949e : 0x6e7781);
    case TokenKind::Function: return QColor(dark ? 0xd2a8ff : 0x8250df);
    case TokenKind::Tag: return QColor(dark ? 0x7ee787 : 0x116329);
    case TokenKind::Attribute: return QColor(dark ? 0x79c0ff : 0x0550ae);
    case TokenKind::Variable: return QColor(dark ? 0xffa657 : 0x953800);
    }
    return {};
}

QString highlightedCodeHtml(const QString& code, const QString& language, bool dark) {
    const QList<SyntaxToken> tokens = highlightTokens(code, language);
    // pre-wrap keeps spaces and line breaks but lets long lines wrap (<pre> would not).
    QString html = QStringLiteral("<p style=\"white-space:pre-wrap; margin:0px;\">");
    html.reserve(code.size() * 2 + tokens.size() * 40);
    qsizetype pos = 0;
    for (const SyntaxToken& t : tokens) {
        if (t.start > pos) html += code.mid(pos, t.start - pos).toHtmlEscaped();
        html += QStringLiteral("<span style=\"color:%1;%2\">")
                    .arg(tokenColor(t.kind, dark).name(),
                         t.kind == TokenKind::Comment ? QStringLiteral(" font-style:italic;") : QString());
        html += code.mid(t.start, t.length).toHtmlEscaped();
        html += QLatin1String("</span>");
        pos = t.start + t.length;
    }
    if (pos < code.size()) html += code.mid(pos).toHtmlEscaped();
    html += QLatin1String("</p>");
    return html;
}

}  // namespace ld::ui
