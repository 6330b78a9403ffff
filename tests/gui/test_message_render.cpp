// Screenshots of a rendered reply (a code block, a table, a quote and a link) in the light and
// the dark theme, checked on the pixels that matter: keywords in their own colour, the table's
// shaded header, the quote's bar, the link in the accent colour. The PNGs are saved next to the
// test binary (message-render-light.png, message-render-dark.png) for a person to look at.
// Then a link: clicking it asks first, with the full address (message-link-dialog.png), and
// only "Open" opens it.
#include <QCoreApplication>
#include <QDesktopServices>
#include <QFontMetrics>
#include <QGuiApplication>
#include <QImage>
#include <QPointer>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickTextDocument>
#include <QQuickWindow>
#include <QTemporaryDir>
#include <QTest>
#include <QTextDocument>

#include "app/chat/chat_controller.h"
#include "app/history/history_types.h"
#include "app/settings/app_settings.h"
#include "gui/qml_warnings.h"
#include "gui/temp_paths.h"
#include "ui/app_parts.h"
#include "ui/syntax_highlight.h"

using namespace ld;

namespace {

void findItems(QQuickItem* root, const QString& name, QList<QQuickItem*>* out) {
    if (root->objectName() == name && root->isVisible()) out->append(root);
    for (QQuickItem* child : root->childItems()) findItems(child, name, out);
}

// The text a TextEdit shows (its `text` is the HTML).
QString plainText(QQuickItem* edit) {
    auto* doc = edit->property("textDocument").value<QQuickTextDocument*>();
    return doc ? doc->textDocument()->toPlainText() : QString();
}

QQuickItem* editShowing(QQuickItem* root, const QString& name, const QString& text) {
    QList<QQuickItem*> items;
    findItems(root, name, &items);
    for (QQuickItem* i : items)
        if (plainText(i).contains(text)) return i;
    return nullptr;
}

QRect sceneRect(QQuickItem* item) { return item->mapRectToScene(QRectF(0, 0, item->width(), item->height())).toAlignedRect(); }

bool near(QRgb a, const QColor& b, int tolerance) {
    return std::abs(qRed(a) - b.red()) <= tolerance && std::abs(qGreen(a) - b.green()) <= tolerance &&
           std::abs(qBlue(a) - b.blue()) <= tolerance;
}

int countPixels(const QImage& image, const QRect& rect, const QColor& colour, int tolerance) {
    int n = 0;
    const QRect r = rect.intersected(image.rect());
    for (int y = r.top(); y <= r.bottom(); ++y)
        for (int x = r.left(); x <= r.right(); ++x) n += near(image.pixel(x, y), colour, tolerance);
    return n;
}

const char* kReply =
    "Here is the function:\n\n"
    "```python\n"
    "def greet(name):\n"
    "    return \"Hello \" + name  # say hi\n"
    "```\n\n"
    "| Language | Year |\n|---|---|\n| Python | 1991 |\n| Rust | 2015 |\n\n"
    "> Simple is better than complex.\n>\n> Readability counts.\n\n"
    "Docs: <https://docs.python.org/3/tutorial/index.html?from=llamadesk>\n";
const QString kUrl = QStringLiteral("https://docs.python.org/3/tutorial/index.html?from=llamadesk");

}  // namespace

class TestMessageRender : public QObject {
    Q_OBJECT
public slots:
    // QDesktopServices' handler for https and file links: what Qt.openUrlExternally opened.
    void openUrl(const QUrl& url) { opened_ << url; }

private:
    QList<QUrl> opened_;

private slots:
    void initTestCase() {
        QDesktopServices::setUrlHandler(QStringLiteral("https"), this, "openUrl");
        QDesktopServices::setUrlHandler(QStringLiteral("file"), this, "openUrl");
    }
    void cleanupTestCase() {
        QDesktopServices::unsetUrlHandler(QStringLiteral("https"));
        QDesktopServices::unsetUrlHandler(QStringLiteral("file"));
    }
    void init() { opened_.clear(); }

    void replyRendersInTheme_data() {
        QTest::addColumn<bool>("dark");
        QTest::newRow("light") << false;
        QTest::newRow("dark") << true;
    }

    void replyRendersInTheme() {
        test::QmlWarnings warnings;
        QFETCH(bool, dark);
        QTemporaryDir dir;
        ui::AppParts parts(test::tempPaths(dir));
        parts.settings->setTheme(dark ? QStringLiteral("dark") : QStringLiteral("light"));
        history::Message user;
        user.id = 1;
        user.role = QStringLiteral("user");
        user.content = QStringLiteral("Show me a greeting in Python");
        history::Message reply;
        reply.id = 2;
        reply.role = QStringLiteral("assistant");
        reply.content = QString::fromUtf8(kReply);
        reply.status = history::MessageStatus::Complete;
        parts.chat->showAddedMessage(user);  // the new chat of AppParts (conversation 0)
        parts.chat->showAddedMessage(reply);

        QQmlApplicationEngine qml;
        QVERIFY(parts.loadQml(qml));
        auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
        QVERIFY(window);
        window->resize(900, 820);
        QVERIFY(QTest::qWaitForWindowExposed(window));
        QQuickItem* root = window->contentItem();
        QQuickItem* code = nullptr;
        QQuickItem* link = nullptr;
        QTRY_VERIFY((code = editShowing(root, QStringLiteral("codeText"), QStringLiteral("def greet"))) != nullptr);
        QTRY_VERIFY((link = editShowing(root, QStringLiteral("proseText"), QStringLiteral("Docs"))) != nullptr);
        QList<QQuickItem*> headerCells, bodyCells, bars;
        findItems(root, QStringLiteral("tableHeaderCell"), &headerCells);
        findItems(root, QStringLiteral("tableCell"), &bodyCells);
        findItems(root, QStringLiteral("quoteBar"), &bars);
        QCOMPARE(headerCells.size(), 2);
        QCOMPARE(bodyCells.size(), 4);
        QCOMPARE(bars.size(), 1);
        QQuickItem* quote = editShowing(root, QStringLiteral("quoteText"), QStringLiteral("Simple is better"));
        QVERIFY(quote);
        QTest::qWait(200);
        const QImage shot = window->grabWindow().convertToFormat(QImage::Format_RGB32);
        QVERIFY(!shot.isNull());
        const QString path = QCoreApplication::applicationDirPath() +
                             (dark ? QStringLiteral("/message-render-dark.png") : QStringLiteral("/message-render-light.png"));
        QVERIFY(shot.save(path));
        qInfo("screenshot: %s", qPrintable(path));

        auto* theme = link->property("theme").value<QObject*>();
        QVERIFY(theme);
        QCOMPARE(theme->property("dark").toBool(), dark);
        const auto colour = [&](const char* name) { return theme->property(name).value<QColor>(); };
        const QColor text = colour("text");

        // The code: keywords, strings and comments each in their colour, the rest in the text colour.
        const QRect codeRect = sceneRect(code);
        const QColor keyword = ui::tokenColor(ui::TokenKind::Keyword, dark);
        QVERIFY(keyword != text);
        const int keywordPixels = countPixels(shot, codeRect, keyword, 16);
        const int stringPixels = countPixels(shot, codeRect, ui::tokenColor(ui::TokenKind::String, dark), 16);
        const int commentPixels = countPixels(shot, codeRect, ui::tokenColor(ui::TokenKind::Comment, dark), 16);
        const int plainPixels = countPixels(shot, codeRect, text, 16);
        QVERIFY2(keywordPixels > 20 && stringPixels > 20 && commentPixels > 20 && plainPixels > 20,
                 qPrintable(QStringLiteral("keyword %1, string %2, comment %3, plain %4 pixels in %5")
                                .arg(keywordPixels).arg(stringPixels).arg(commentPixels).arg(plainPixels).arg(path)));

        // The table: the header row shaded, the body rows in the bubble's colour, bold header text.
        QRect headerRect, bodyRect;
        for (QQuickItem* cell : headerCells) headerRect |= sceneRect(cell);
        for (QQuickItem* cell : bodyCells) bodyRect |= sceneRect(cell);
        const QColor header = colour("alternateBase");
        const QColor bubble = colour("assistantBubble");
        QVERIFY(header != bubble);
        const int area = headerRect.width() * headerRect.height();
        const int shaded = countPixels(shot, headerRect, header, 1);
        QVERIFY2(shaded > area / 2, qPrintable(QStringLiteral("%1 of %2 header pixels shaded in %3").arg(shaded).arg(area).arg(path)));
        // (A few antialiased text pixels may happen to match the header's colour.)
        QVERIFY(countPixels(shot, bodyRect, header, 1) < bodyRect.width() * bodyRect.height() / 100);
        QVERIFY(countPixels(shot, bodyRect, bubble, 1) > bodyRect.width() * bodyRect.height() / 2);
        // Single lines: across the header row (above its text) the border colour shows as three
        // one-pixel lines (left, between the two columns, right), not as pairs.
        const QColor border = colour("border");
        const int y = headerRect.top() + 2;
        QList<int> runs;
        int run = 0;
        for (int x = headerRect.left() - 4; x <= headerRect.right() + 4; ++x) {
            if (near(shot.pixel(x, y), border, 1)) {
                ++run;
            } else if (run > 0) {
                runs << run;
                run = 0;
            }
        }
        QCOMPARE(runs, QList<int>({1, 1, 1}));

        // The quote: a bar the height of its two paragraphs, muted text; the link in the accent colour.
        const QRect barRect = sceneRect(bars.first());
        QVERIFY(barRect.height() >= 2 * QFontMetrics(QGuiApplication::font()).height());
        QCOMPARE(barRect.height(), sceneRect(quote).height());
        QCOMPARE(countPixels(shot, barRect, colour("subtle"), 1), barRect.width() * barRect.height());
        QVERIFY(countPixels(shot, sceneRect(quote), colour("subtle"), 16) > 30);
        QCOMPARE(countPixels(shot, sceneRect(quote), text, 16), 0);
        QVERIFY2(countPixels(shot, sceneRect(link), colour("accent"), 16) > 30, qPrintable(path));
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
    }

    // While a reply streams, a flush that grows its last block leaves the items of the blocks
    // before it alone: the same objects, their text not set again (a selection survives).
    void streamingKeepsEarlierBlocks() {
        test::QmlWarnings warnings;
        QTemporaryDir dir;
        ui::AppParts parts(test::tempPaths(dir));
        history::Message reply;
        reply.id = 2;
        reply.role = QStringLiteral("assistant");
        reply.status = history::MessageStatus::Streaming;
        reply.content = QStringLiteral("Intro\n```python\nx = 1\n```\nFirst");
        parts.chat->showAddedMessage(reply);
        QQmlApplicationEngine qml;
        QVERIFY(parts.loadQml(qml));
        auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
        QVERIFY(window);
        QVERIFY(QTest::qWaitForWindowExposed(window));
        QQuickItem* root = window->contentItem();
        QQuickItem* intro = nullptr;
        QTRY_VERIFY((intro = editShowing(root, QStringLiteral("proseText"), QStringLiteral("Intro"))) != nullptr);
        QQuickItem* code = editShowing(root, QStringLiteral("codeText"), QStringLiteral("x = 1"));
        QVERIFY(code);
        QVERIFY(QMetaObject::invokeMethod(code, "selectAll"));
        QCOMPARE(code->property("selectedText").toString(), QStringLiteral("x = 1"));
        const QPointer<QQuickItem> introAlive(intro), codeAlive(code);

        for (const char* piece : {" and", " more", " words"}) parts.chat->showReplyText(2, QString::fromLatin1(piece));
        QTRY_VERIFY(editShowing(root, QStringLiteral("proseText"), QStringLiteral("First and more words")) != nullptr);
        QVERIFY2(introAlive && editShowing(root, QStringLiteral("proseText"), QStringLiteral("Intro")) == intro,
                 "the first block's item was made again");
        QVERIFY2(codeAlive && editShowing(root, QStringLiteral("codeText"), QStringLiteral("x = 1")) == code,
                 "the code block's item was made again");
        QCOMPARE(code->property("selectedText").toString(), QStringLiteral("x = 1"));

        // A new block (a second code block) is shown too.
        parts.chat->showReplyText(2, QStringLiteral("\n```js\nlet y = 2;\n```"));
        QTRY_VERIFY(editShowing(root, QStringLiteral("codeText"), QStringLiteral("let y = 2;")) != nullptr);
        QVERIFY(editShowing(root, QStringLiteral("codeText"), QStringLiteral("x = 1")) != nullptr);
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
    }

    void linksOpenOnlyAfterConfirmation() {
        test::QmlWarnings warnings;
        QTemporaryDir dir;
        ui::AppParts parts(test::tempPaths(dir));
        history::Message reply;
        reply.id = 2;
        reply.role = QStringLiteral("assistant");
        reply.content = QStringLiteral("Read <%1> or [this](file:///etc/passwd).").arg(kUrl);
        parts.chat->showAddedMessage(reply);
        QQmlApplicationEngine qml;
        QVERIFY(parts.loadQml(qml));
        auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
        QVERIFY(window);
        window->resize(900, 700);
        QVERIFY(QTest::qWaitForWindowExposed(window));
        QQuickItem* prose = nullptr;
        QTRY_VERIFY((prose = editShowing(window->contentItem(), QStringLiteral("proseText"), QStringLiteral("Read"))) != nullptr);
        QObject* dialog = window->findChild<QObject*>(QStringLiteral("linkDialog"));
        QVERIFY(dialog);

        auto clickOn = [&](const QString& linkText) {
            const int pos = int(plainText(prose).indexOf(linkText)) + 2;
            QRectF r;
            QVERIFY(QMetaObject::invokeMethod(prose, "positionToRectangle", Q_RETURN_ARG(QRectF, r), Q_ARG(int, pos)));
            const QPoint at = prose->mapToScene(r.center()).toPoint();
            QTest::mouseClick(window, Qt::LeftButton, {}, at);
        };
        clickOn(QStringLiteral("docs.python"));
        QTRY_VERIFY(dialog->property("opened").toBool());
        QCOMPARE(dialog->property("url").toString(), kUrl);
        // The full address is on screen, not elided.
        QQuickItem* shown = nullptr;
        for (QQuickItem* i : window->findChildren<QQuickItem*>(QStringLiteral("linkDialogUrl"))) shown = i;
        QVERIFY(shown);
        QCOMPARE(plainText(shown), kUrl);
        QVERIFY(opened_.isEmpty());  // nothing opens before the user says so
        QTest::qWait(300);             // the dialog's opening transition
        const QString path = QCoreApplication::applicationDirPath() + QStringLiteral("/message-link-dialog.png");
        QVERIFY(window->grabWindow().save(path));
        qInfo("screenshot: %s", qPrintable(path));
        QVERIFY(QMetaObject::invokeMethod(dialog, "reject"));
        QTRY_VERIFY(!dialog->property("visible").toBool());
        QVERIFY(opened_.isEmpty());

        clickOn(QStringLiteral("docs.python"));
        QTRY_VERIFY(dialog->property("opened").toBool());
        QVERIFY(QMetaObject::invokeMethod(dialog, "accept"));
        QTRY_COMPARE(opened_.size(), 1);
        QCOMPARE(opened_.first(), QUrl(kUrl));
        QTRY_VERIFY(!dialog->property("visible").toBool());

        // Not a web or mail link: shown, but there is nothing to open it with.
        clickOn(QStringLiteral("this"));
        QTRY_VERIFY(dialog->property("opened").toBool());
        QCOMPARE(dialog->property("url").toString(), QStringLiteral("file:///etc/passwd"));
        QCOMPARE(dialog->property("openable").toBool(), false);
        QVERIFY(QMetaObject::invokeMethod(dialog, "accept"));
        QTest::qWait(100);
        QCOMPARE(opened_.size(), 1);
        QVERIFY2(warnings.isEmpty(), qPrintable(warnings.text()));
    }
};

QTEST_MAIN(TestMessageRender)
#include "test_message_render.moc"
