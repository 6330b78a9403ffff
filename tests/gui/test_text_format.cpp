// Rendering a reply's Markdown prose into the chat view's pieces (raw HTML as text, autolinks,
// tables, quotes, images), checked both as HTML and as the QTextDocument a Text.RichText view
// builds from it; and the view's blocks of a whole message.
#include <QTest>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextDocument>
#include <memory>

#include "ui/syntax_highlight.h"
#include "ui/text_format.h"

using namespace ld;
using ui::TokenKind;

namespace {

// What a Text.RichText view does with the HTML.
std::unique_ptr<QTextDocument> viewDocument(const QString& html) {
    auto doc = std::make_unique<QTextDocument>();
    doc->setHtml(html);
    return doc;
}

}  // namespace

class TestTextFormat : public QObject {
    Q_OBJECT
private slots:
    void rawHtmlIsText() {
        const QList<ui::ProsePiece> pieces = ui::renderMarkdownProse(QStringLiteral("<img src=x onerror=alert(1)> and <b>bold</b> `a<b`"), false);
        QCOMPARE(pieces.size(), 1);
        QCOMPARE(pieces[0].kind, ui::ProsePiece::Text);
        QVERIFY2(!pieces[0].html.contains(QStringLiteral("<img")), qPrintable(pieces[0].html));
        QVERIFY(!pieces[0].html.contains(QStringLiteral("<b>")));
        const auto doc = viewDocument(pieces[0].html);
        QCOMPARE(doc->toPlainText(), QStringLiteral("<img src=x onerror=alert(1)> and <b>bold</b> a<b"));
        // The code span is shaded.
        QTextCursor c(doc.get());
        c.setPosition(int(doc->toPlainText().indexOf(QStringLiteral("a<b"))) + 1);
        QCOMPARE(c.charFormat().background().color(), QColor(0xf0f1f3));
    }

    void autolinksAndLinks() {
        for (const bool dark : {false, true}) {
            const QList<ui::ProsePiece> pieces =
                ui::renderMarkdownProse(QStringLiteral("See <https://example.com/a?b=1&c=2> or [docs](http://d.org/x)."), dark);
            QCOMPARE(pieces.size(), 1);
            const QString html = pieces[0].html;
            QVERIFY2(html.contains(QStringLiteral("href=\"https://example.com/a?b=1&amp;c=2\"")), qPrintable(html));
            QVERIFY(html.contains(QStringLiteral("href=\"http://d.org/x\"")));
            const auto doc = viewDocument(html);
            QCOMPARE(doc->toPlainText(), QStringLiteral("See https://example.com/a?b=1&c=2 or docs."));
            QTextCursor c(doc.get());
            c.setPosition(int(doc->toPlainText().indexOf(QStringLiteral("docs"))) + 1);
            QCOMPARE(c.charFormat().anchorHref(), QStringLiteral("http://d.org/x"));
            // The theme's accent (Theme.qml), not QTextDocument's #0000ff.
            QCOMPARE(c.charFormat().foreground().color(), QColor(dark ? 0x5b8def : 0x2f6fde));
        }
        // An image is a link to it: nothing is loaded.
        const QString image = ui::renderMarkdownProse(QStringLiteral("![a cat](http://img.example/cat.png)"), false).value(0).html;
        QVERIFY2(!image.contains(QStringLiteral("<img")), qPrintable(image));
        QVERIFY(image.contains(QStringLiteral("href=\"http://img.example/cat.png\"")));
    }

    // Tables and quotes are pieces of their own (the QML draws their lines), in document order.
    void tablesAndQuotesArePieces() {
        const QList<ui::ProsePiece> pieces = ui::renderMarkdownProse(
            QStringLiteral("Before\n\n| Name | Value |\n|---|---:|\n| a `x` | 1 |\n| [b](https://b.org) | 2 |\n\n"
                           "> quoted **text**\n> more\n>\n> > nested\n\nAfter"),
            false);
        QCOMPARE(pieces.size(), 4);
        QCOMPARE(pieces[0].kind, ui::ProsePiece::Text);
        QCOMPARE(viewDocument(pieces[0].html)->toPlainText(), QStringLiteral("Before"));

        QCOMPARE(pieces[1].kind, ui::ProsePiece::Table);
        QCOMPARE(pieces[1].columns, 2);
        QStringList cells;
        for (const ui::TableCell& cell : pieces[1].cells) cells << viewDocument(cell.html)->toPlainText();
        QCOMPARE(cells, QStringList({QStringLiteral("Name"), QStringLiteral("Value"), QStringLiteral("a x"), QStringLiteral("1"),
                                     QStringLiteral("b"), QStringLiteral("2")}));
        const auto header = viewDocument(pieces[1].cells[0].html);
        QCOMPARE(QTextCursor(header->firstBlock()).charFormat().fontWeight(), int(QFont::Bold));
        QVERIFY(QTextCursor(viewDocument(pieces[1].cells[2].html)->firstBlock()).charFormat().fontWeight() < int(QFont::Bold));
        QCOMPARE(pieces[1].cells[2].align, Qt::AlignLeft);
        QCOMPARE(pieces[1].cells[3].align, Qt::AlignRight);  // ---: aligns right
        QVERIFY(pieces[1].cells[4].html.contains(QStringLiteral("href=\"https://b.org\"")));

        QCOMPARE(pieces[2].kind, ui::ProsePiece::Quote);
        const auto quote = viewDocument(pieces[2].html);
        QCOMPARE(quote->toPlainText(), QStringLiteral("quoted text more\nnested"));
        QCOMPARE(quote->firstBlock().blockFormat().leftMargin(), 0.0);  // the bar, not an indent
        QVERIFY(quote->lastBlock().blockFormat().leftMargin() > 0);    // a nested quote is indented
        QCOMPARE(pieces[3].kind, ui::ProsePiece::Text);
        QCOMPARE(viewDocument(pieces[3].html)->toPlainText(), QStringLiteral("After"));

        // The view's blocks.
        const QVariantList blocks = ui::renderMessageBlocks(
            QStringLiteral("| H |\n|---|\n| c |\n\n```sh\necho hi\n```\n> q"), true);
        QCOMPARE(blocks.size(), 3);
        const QVariantMap table = blocks[0].toMap();
        QCOMPARE(table.value(QStringLiteral("kind")).toString(), QStringLiteral("table"));
        QCOMPARE(table.value(QStringLiteral("columns")).toInt(), 1);
        const QVariantList tableCells = table.value(QStringLiteral("cells")).toList();
        QCOMPARE(tableCells.size(), 2);
        QCOMPARE(tableCells[0].toMap().value(QStringLiteral("header")).toBool(), true);
        QCOMPARE(tableCells[0].toMap().value(QStringLiteral("align")).toString(), QStringLiteral("left"));
        QCOMPARE(tableCells[1].toMap().value(QStringLiteral("header")).toBool(), false);
        QCOMPARE(blocks[1].toMap().value(QStringLiteral("kind")).toString(), QStringLiteral("code"));
        QCOMPARE(blocks[1].toMap().value(QStringLiteral("text")).toString(), QStringLiteral("echo hi"));
        QVERIFY(blocks[1].toMap().value(QStringLiteral("html")).toString().contains(ui::tokenColor(TokenKind::Function, true).name()));
        QCOMPARE(blocks[2].toMap().value(QStringLiteral("kind")).toString(), QStringLiteral("quote"));
    }
};

QTEST_MAIN(TestTextFormat)
#include "test_text_format.moc"
