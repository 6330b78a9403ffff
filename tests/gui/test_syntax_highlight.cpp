// The code highlighter: fence tags to languages, and per language the format class ("keyword",
// "string", ...) of the tokens in a typical snippet; tokens stay ordered and inside the code for
// unterminated strings and comments (a reply still streaming); the HTML colours and escapes.
#include <QRandomGenerator>
#include <QTest>
#include <QTextBlock>
#include <QTextDocument>
#include <memory>

#include "ui/syntax_highlight.h"

using namespace ld;
using ui::TokenKind;

namespace {

// The class of the token that starts where the first `needle` (at or after `from`) starts:
// "keyword", "string" ...; "plain" when no token covers it, and the token's own text in
// brackets when it does not cover exactly the needle.
QString kindOf(const QString& code, const QString& language, const QString& needle, qsizetype from = 0) {
    const qsizetype at = code.indexOf(needle, from);
    if (at < 0) return QStringLiteral("(not in the code)");
    for (const ui::SyntaxToken& t : ui::highlightTokens(code, language)) {
        if (at < t.start || at >= t.start + t.length) continue;
        const QString name = ui::tokenKindName(t.kind);
        if (t.start == at && t.length == needle.size()) return name;
        return QStringLiteral("%1 [%2]").arg(name, code.mid(t.start, t.length));
    }
    return QStringLiteral("plain");
}

// What a Text.RichText view does with the HTML.
std::unique_ptr<QTextDocument> viewDocument(const QString& html) {
    auto doc = std::make_unique<QTextDocument>();
    doc->setHtml(html);
    return doc;
}

const QString kPython = QStringLiteral(
    "@cache\ndef area(r: float) -> float:\n    \"\"\"Doc.\"\"\"\n    return 3.14 * r ** 2  # circle\n"
    "print(f\"{area(2)}\", None, r'\\d')");
const QString kCpp = QStringLiteral(
    "#include <vector>\n// note\nint main() {\n  auto* p = nullptr; /* block */\n"
    "  std::string s = \"a\\\"b\";\n  return 0x1F;\n}");
const QString kTs = QStringLiteral(
    "const x: number = await fetch(`/api/${id}`); // go\nif (x === undefined) throw new Error('no');");
const QString kShell = QStringLiteral(
    "# setup\nexport PATH=\"$HOME/bin:$PATH\"\ncd $DIR && echo a#b\nfor f in *.txt; do echo \"$f\"; done\n"
    "apt-get install -y curl");
const QString kJson = QStringLiteral("{\"name\": \"llama\", \"size\": 7e9, \"ok\": true, \"none\": null}");
const QString kSql = QStringLiteral(
    "SELECT name, COUNT(*) FROM users WHERE age > 21 -- adults\nAND note = 'it''s';\nselect 1 from t;");
const QString kRust = QStringLiteral(
    "#[derive(Debug)]\nfn longest<'a>(x: &'a str) -> Option<String> {\n    let c = 'z';\n"
    "    println!(\"{}\", x); // out\n    None\n}");
const QString kGo = QStringLiteral(
    "package main\nimport \"fmt\"\nfunc main() {\n\tx := []int{1, 2}\n\tfmt.Println(len(x), nil, `raw`)\n}");
const QString kJava = QStringLiteral(
    "@Override\npublic static void main(String[] args) {\n  int n = 42; /** doc */\n"
    "  System.out.println(\"hi\" + n);\n}");
const QString kHtml = QStringLiteral(
    "<!DOCTYPE html>\n<!-- c -->\n<a href=\"https://x.y\" class=big>Tom &amp; Jerry</a>\n"
    "<script>let v = 1;</script>\n<style>p { color: red; }</style>");
const QString kCss = QStringLiteral(
    "@media (max-width: 600px) {\n  .card > h1#title { color: #fff; margin: 0 auto !important; }\n}\n"
    "body { background: url(\"a.png\"); }");

}  // namespace

class TestSyntaxHighlight : public QObject {
    Q_OBJECT
private slots:
    void languagesFromFenceTags() {
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("Python")), QStringLiteral("python"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("py")), QStringLiteral("python"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("c++")), QStringLiteral("cpp"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("h")), QStringLiteral("cpp"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("tsx")), QStringLiteral("js"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("bash")), QStringLiteral("shell"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("jsonc")), QStringLiteral("json"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("postgresql")), QStringLiteral("sql"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("rs")), QStringLiteral("rust"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("golang")), QStringLiteral("go"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("java")), QStringLiteral("java"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("xml")), QStringLiteral("html"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("scss")), QStringLiteral("css"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("python title=\"a.py\"")), QStringLiteral("python"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("{.rust}")), QStringLiteral("rust"));
        QCOMPARE(ui::canonicalLanguage(QStringLiteral("brainfuck")), QString());
        QCOMPARE(ui::canonicalLanguage(QString()), QString());
        QVERIFY(ui::highlightTokens(QStringLiteral("int x = 1; // c"), QStringLiteral("text")).isEmpty());
    }

    void tokensPerLanguage_data() {
        QTest::addColumn<QString>("lang");
        QTest::addColumn<QString>("code");
        QTest::addColumn<QString>("needle");
        QTest::addColumn<QString>("kind");
        auto row = [](const char* lang, const QString& code, const char* needle, const char* kind) {
            QTest::addRow("%s %s", lang, needle) << QString::fromLatin1(lang) << code << QString::fromUtf8(needle)
                                                 << QString::fromLatin1(kind);
        };
        row("python", kPython, "@cache", "attribute");
        row("python", kPython, "def", "keyword");
        row("python", kPython, "area", "function");
        row("python", kPython, "float", "type");
        row("python", kPython, "\"\"\"Doc.\"\"\"", "string");
        row("python", kPython, "return", "keyword");
        row("python", kPython, "3.14", "number");
        row("python", kPython, "# circle", "comment");
        row("python", kPython, "print", "function");
        row("python", kPython, "f\"{area(2)}\"", "string");
        row("python", kPython, "None", "literal");
        row("python", kPython, "r'\\d'", "string");
        row("python", kPython, "r:", "plain");
        row("cpp", kCpp, "#include", "keyword");
        row("cpp", kCpp, "<vector>", "string");
        row("cpp", kCpp, "// note", "comment");
        row("cpp", kCpp, "int", "type");
        row("cpp", kCpp, "main", "function");
        row("cpp", kCpp, "auto", "keyword");
        row("cpp", kCpp, "nullptr", "literal");
        row("cpp", kCpp, "/* block */", "comment");
        row("cpp", kCpp, "\"a\\\"b\"", "string");
        row("cpp", kCpp, "0x1F", "number");
        row("ts", kTs, "const", "keyword");
        row("ts", kTs, "number", "type");
        row("ts", kTs, "await", "keyword");
        row("ts", kTs, "fetch", "function");
        row("ts", kTs, "`/api/${id}`", "string");
        row("ts", kTs, "// go", "comment");
        row("ts", kTs, "undefined", "literal");
        row("ts", kTs, "Error", "type");
        row("ts", kTs, "'no'", "string");
        row("shell", kShell, "# setup", "comment");
        row("shell", kShell, "export", "keyword");
        row("shell", kShell, "\"$HOME/bin:$PATH\"", "string");
        row("shell", kShell, "$DIR", "variable");
        row("shell", kShell, "echo", "function");
        row("shell", kShell, "#b", "plain");  // inside a word: not a comment
        row("shell", kShell, "for", "keyword");
        row("shell", kShell, "apt-get", "function");
        row("json", kJson, "\"name\"", "attribute");
        row("json", kJson, "\"llama\"", "string");
        row("json", kJson, "7e9", "number");
        row("json", kJson, "true", "literal");
        row("json", kJson, "null", "literal");
        row("sql", kSql, "SELECT", "keyword");
        row("sql", kSql, "COUNT", "function");
        row("sql", kSql, "FROM", "keyword");
        row("sql", kSql, "21", "number");
        row("sql", kSql, "-- adults", "comment");
        row("sql", kSql, "'it'", "string");
        row("sql", kSql, "select", "keyword");  // any case
        row("rust", kRust, "#[derive(Debug)]", "attribute");
        row("rust", kRust, "fn", "keyword");
        row("rust", kRust, "'a", "type");  // a lifetime
        row("rust", kRust, "str", "type");
        row("rust", kRust, "Option", "type");
        row("rust", kRust, "let", "keyword");
        row("rust", kRust, "'z'", "string");  // a char
        row("rust", kRust, "println", "function");
        row("rust", kRust, "\"{}\"", "string");
        row("rust", kRust, "// out", "comment");
        row("rust", kRust, "None", "literal");
        row("go", kGo, "package", "keyword");
        row("go", kGo, "\"fmt\"", "string");
        row("go", kGo, "func", "keyword");
        row("go", kGo, "int", "type");
        row("go", kGo, "Println", "function");
        row("go", kGo, "len", "function");
        row("go", kGo, "nil", "literal");
        row("go", kGo, "`raw`", "string");
        row("java", kJava, "@Override", "attribute");
        row("java", kJava, "public", "keyword");
        row("java", kJava, "String", "type");
        row("java", kJava, "42", "number");
        row("java", kJava, "/** doc */", "comment");
        row("java", kJava, "println", "function");
        row("java", kJava, "\"hi\"", "string");
        row("html", kHtml, "<!DOCTYPE html>", "keyword");
        row("html", kHtml, "<!-- c -->", "comment");
        row("html", kHtml, "<a", "tag");
        row("html", kHtml, "href", "attribute");
        row("html", kHtml, "\"https://x.y\"", "string");
        row("html", kHtml, "class", "attribute");
        row("html", kHtml, "&amp;", "literal");
        row("html", kHtml, "Tom", "plain");
        row("html", kHtml, "</a", "tag");
        row("html", kHtml, "let", "keyword");   // the script in JavaScript
        row("html", kHtml, "color", "attribute");  // the style in CSS
        row("css", kCss, "@media", "keyword");
        row("css", kCss, "max-width", "attribute");
        row("css", kCss, "600px", "number");
        row("css", kCss, ".card", "tag");
        row("css", kCss, "#title", "tag");
        row("css", kCss, "color", "attribute");
        row("css", kCss, "#fff", "number");
        row("css", kCss, "auto", "plain");
        row("css", kCss, "!important", "keyword");
        row("css", kCss, "body", "tag");
        row("css", kCss, "url", "function");
        row("css", kCss, "\"a.png\"", "string");
    }

    void tokensPerLanguage() {
        QFETCH(QString, lang);
        QFETCH(QString, code);
        QFETCH(QString, needle);
        QFETCH(QString, kind);
        QCOMPARE(kindOf(code, lang, needle), kind);
    }

    void tokensAreOrderedAndInside() {
        // Unterminated strings and comments (a reply still streaming) end at the code's end.
        for (const QString& lang : {QStringLiteral("python"), QStringLiteral("cpp"), QStringLiteral("js"), QStringLiteral("shell"),
                                    QStringLiteral("json"), QStringLiteral("sql"), QStringLiteral("rust"), QStringLiteral("go"),
                                    QStringLiteral("java"), QStringLiteral("html"), QStringLiteral("css")}) {
            for (const QString& code : {kPython, kCpp, kTs, kShell, kJson, kSql, kRust, kGo, kJava, kHtml, kCss,
                                        QStringLiteral("x = \"open"), QStringLiteral("/* open"), QStringLiteral("<a href=\"x"),
                                        QStringLiteral("'"), QStringLiteral("#"), QStringLiteral("$"), QStringLiteral("@"),
                                        QStringLiteral("<"), QStringLiteral("0x"), QStringLiteral("1e+"), QString()}) {
                qsizetype end = 0;
                for (const ui::SyntaxToken& t : ui::highlightTokens(code, lang)) {
                    QVERIFY2(t.start >= end && t.length > 0 && t.start + t.length <= code.size(),
                             qPrintable(QStringLiteral("%1: %2").arg(lang, code)));
                    end = t.start + t.length;
                }
            }
        }
    }

    // Whatever a model writes: random text over the characters the rules look at (fixed seed).
    void randomInputKeepsTokensInside() {
        const QString alphabet = QStringLiteral("ab_1.0x9eE+-'\"`#/*<>![]{}()$@&;:=\\ \n\tr\u00e9%|");
        QRandomGenerator rng(42);
        for (int n = 0; n < 3000; ++n) {
            QString code;
            const int length = int(rng.bounded(40));
            for (int i = 0; i < length; ++i) code += alphabet[int(rng.bounded(int(alphabet.size())))];
            for (const QString& lang : {QStringLiteral("python"), QStringLiteral("cpp"), QStringLiteral("js"), QStringLiteral("shell"),
                                        QStringLiteral("json"), QStringLiteral("sql"), QStringLiteral("rust"), QStringLiteral("go"),
                                        QStringLiteral("java"), QStringLiteral("html"), QStringLiteral("css")}) {
                qsizetype end = 0;
                for (const ui::SyntaxToken& t : ui::highlightTokens(code, lang)) {
                    QVERIFY2(t.start >= end && t.length > 0 && t.start + t.length <= code.size(),
                             qPrintable(QStringLiteral("%1: %2").arg(lang, code)));
                    end = t.start + t.length;
                }
            }
        }
    }

    void codeHtmlColoursTokensAndEscapes() {
        const QString html = ui::highlightedCodeHtml(QStringLiteral("if a < b:\n    return \"<x>\""), QStringLiteral("py"), false);
        QVERIFY2(html.contains(QStringLiteral("<span style=\"color:%1;\">if</span>").arg(ui::tokenColor(TokenKind::Keyword, false).name())),
                 qPrintable(html));
        QVERIFY(html.contains(QStringLiteral("a &lt; b")));
        QVERIFY(html.contains(QStringLiteral("&quot;&lt;x&gt;&quot;")));
        QVERIFY(!html.contains(QStringLiteral("<x>")));
        QVERIFY(html.contains(QStringLiteral("white-space:pre-wrap")));
        const QString dark = ui::highlightedCodeHtml(QStringLiteral("if"), QStringLiteral("python"), true);
        QVERIFY(dark.contains(ui::tokenColor(TokenKind::Keyword, true).name()));
        QVERIFY(ui::tokenColor(TokenKind::Keyword, true) != ui::tokenColor(TokenKind::Keyword, false));
        // The view gets the lines and spaces as written.
        const auto doc = viewDocument(ui::highlightedCodeHtml(QStringLiteral("def f():\n\n\tx  = 1"), QStringLiteral("python"), false));
        QCOMPARE(doc->toPlainText(), QStringLiteral("def f():\n\n\tx  = 1"));
        QCOMPARE(doc->begin().begin().fragment().charFormat().foreground().color(), ui::tokenColor(TokenKind::Keyword, false));
    }

};

QTEST_MAIN(TestSyntaxHighlight)
#include "test_syntax_highlight.moc"
