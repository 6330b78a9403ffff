// The view models under QAbstractItemModelTester: messages (reset, append, coalesced
// streaming, updates, Markdown blocks rendered once per change) and the model list (GGUF headers read off the UI thread).
#include <QAbstractItemModelTester>
#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "../qt_test_util.h"
#include "app/chat/auto_title.h"
#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/history/history_store.h"
#include "app/models/model_library.h"
#include "app/settings/app_settings.h"
#include "ui/messages_model.h"
#include "ui/app_parts.h"
#include "ui/model_list_model.h"
#include "ui/syntax_highlight.h"
#include "ui/text_format.h"
#include "ui/workspace.h"
#include "gui/temp_paths.h"

using namespace ld;
using history::Message;
using history::MessageStatus;

namespace {

Message message(qint64 id, const char* role, const char* content) {
    Message m;
    m.id = id;
    m.role = QString::fromLatin1(role);
    m.content = QString::fromUtf8(content);
    m.status = MessageStatus::Complete;
    return m;
}

}  // namespace

class TestUiModels : public QObject {
    Q_OBJECT
private slots:
    // The model reads the controller's messages (it keeps no copy) and announces each change.
    void messagesModelShowsController() {
        QTemporaryDir dir;
        history::HistoryStore store(dir.filePath(QStringLiteral("h.db")));
        chat::EngineHost engine;
        settings::AppSettings settings(dir.filePath(QStringLiteral("s.ini")));
        chat::ChatController chat(&store, &engine, &settings);
        ui::MessagesModel model(&chat);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);

        chat.newChat();  // conversation 0: showAddedMessage() takes messages of it
        chat.showAddedMessage(message(1, "user", "hi"));
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(model.data(model.index(0), ui::MessagesModel::RoleRole).toString(), QStringLiteral("user"));

        Message reply = message(2, "assistant", "");
        reply.status = MessageStatus::Streaming;
        chat.showAddedMessage(reply);
        QCOMPARE(model.rowCount(), 2);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        for (const char* piece : {"Hello", ", ", "world"}) chat.showReplyText(2, QString::fromLatin1(piece));
        // Pieces are coalesced: one change for a burst of tokens.
        QVERIFY(changed.wait(1000));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(model.data(model.index(1), ui::MessagesModel::ContentRole).toString(), QStringLiteral("Hello, world"));
        QCOMPARE(model.data(model.index(1), ui::MessagesModel::StatusRole).toString(), QStringLiteral("streaming"));

        reply.content = QStringLiteral("Hello, world");
        reply.status = MessageStatus::Complete;
        reply.stats.genTokens = 3;
        reply.stats.genTps = 12.5;
        reply.stats.ttftMs = 40;
        chat.showMessageUpdate(reply);
        QCOMPARE(model.data(model.index(1), ui::MessagesModel::StatusRole).toString(), QStringLiteral("complete"));
        QVERIFY(model.data(model.index(1), ui::MessagesModel::StatsRole).toString().contains(QStringLiteral("12.5 tok/s")));
        chat.newChat();
        QCOMPARE(model.rowCount(), 0);
    }

    // Streaming N flushes into one message renders that message N times, however many rows the
    // view reads after each flush, and of it only the block that grows; the other rows are
    // rendered once.
    void streamingRendersOnlyTheStreamingMessage() {
        QTemporaryDir dir;
        history::HistoryStore store(dir.filePath(QStringLiteral("h.db")));
        chat::EngineHost engine;
        settings::AppSettings settings(dir.filePath(QStringLiteral("s.ini")));
        chat::ChatController chat(&store, &engine, &settings);
        ui::MessagesModel model(&chat);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        chat.newChat();
        chat.showAddedMessage(message(1, "user", "Write **code**"));
        chat.showAddedMessage(message(2, "assistant", "Sure:\n```python\nprint(1)\n```\n| a | b |\n|---|---|\n| 1 | 2 |"));
        Message streaming = message(3, "assistant", "Intro\n```python\nx = 1\n```\n");
        streaming.status = MessageStatus::Streaming;
        chat.showAddedMessage(streaming);

        auto blocksOf = [&](int row) { return model.data(model.index(row), ui::MessagesModel::BlocksRole).toList(); };
        auto viewReadsAll = [&] {
            for (int row = 0; row < model.rowCount(); ++row) blocksOf(row);
        };
        viewReadsAll();
        viewReadsAll();
        QCOMPARE(model.renderCount(), 3);
        QCOMPARE(model.blockRenderCount(), 1 + 3 + 2);  // Markdown blocks: prose, code, prose...

        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        const int flushes = 6;
        for (int n = 0; n < flushes; ++n) {
            for (const char* piece : {"word ", "`code` ", "more\n"}) chat.showReplyText(3, QString::fromLatin1(piece));
            QVERIFY(changed.wait(1000));
            QCOMPARE(changed.last().at(0).toModelIndex().row(), 2);
            viewReadsAll();
            viewReadsAll();
        }
        QCOMPARE(changed.count(), flushes);
        QCOMPARE(model.renderCount(), 3 + flushes);
        // Within the message only the growing last block was rendered again.
        QCOMPARE(model.blockRenderCount(), 6 + flushes);
        const QVariantList blocks = blocksOf(2);
        QCOMPARE(blocks.size(), 3);
        QCOMPARE(blocks[1].toMap().value(QStringLiteral("kind")).toString(), QStringLiteral("code"));
        QCOMPARE(blocks[2].toMap().value(QStringLiteral("html")).toString().count(QStringLiteral("word")), flushes);

        // The final state renders the message once more; a theme change renders every row again.
        streaming.content = chat.messages().last().content;
        streaming.status = MessageStatus::Complete;
        chat.showMessageUpdate(streaming);
        viewReadsAll();
        QCOMPARE(model.renderCount(), 3 + flushes + 1);
        QCOMPARE(model.blockRenderCount(), 6 + flushes);  // the same text: every block reused
        QSignalSpy themed(&model, &QAbstractItemModel::dataChanged);
        model.setDark(true);
        QCOMPARE(themed.count(), 1);
        viewReadsAll();
        QCOMPARE(model.renderCount(), 3 + flushes + 1 + 3);
        QCOMPARE(model.blockRenderCount(), 6 + flushes + 1 + 3 + 3);  // all seven blocks, once
        const QVariantMap codeBlock = blocksOf(1)[1].toMap();
        QCOMPARE(codeBlock.value(QStringLiteral("kind")).toString(), QStringLiteral("code"));
        const QString code = codeBlock.value(QStringLiteral("html")).toString();
        QVERIFY2(code.contains(ui::tokenColor(ui::TokenKind::Function, true).name()), qPrintable(code));
    }

    void splitsMarkdownAtCodeFences() {
        const QList<ui::MarkdownBlock> blocks =
            ui::splitMarkdownBlocks(QStringLiteral("Here:\r\n```cpp\r\nint x = 1;\r\n```\nDone.\n```\nunterminated"));
        QCOMPARE(blocks.size(), 4);
        QCOMPARE(blocks[0].code, false);
        QCOMPARE(blocks[0].text, QStringLiteral("Here:"));
        QCOMPARE(blocks[1].code, true);
        QCOMPARE(blocks[1].language, QStringLiteral("cpp"));
        QCOMPARE(blocks[1].text, QStringLiteral("int x = 1;"));
        QCOMPARE(blocks[2].text, QStringLiteral("Done."));
        QCOMPARE(blocks[3].code, true);
        QCOMPARE(blocks[3].text, QStringLiteral("unterminated"));
        QCOMPARE(ui::splitMarkdownBlocks(QString()).size(), 0);
        // The view's blocks: prose and code rendered, the code's own text kept for copying.
        const QVariantList rendered = ui::renderMessageBlocks(QStringLiteral("<b>hi</b>\n```html\n<p>code</p>\n```"), false);
        QCOMPARE(rendered.size(), 2);
        QCOMPARE(rendered[1].toMap().value(QStringLiteral("text")).toString(), QStringLiteral("<p>code</p>"));
        QVERIFY(rendered[0].toMap().value(QStringLiteral("html")).toString().contains(QStringLiteral("&lt;b&gt;hi&lt;/b&gt;")));
        const QString code = rendered[1].toMap().value(QStringLiteral("html")).toString();
        QVERIFY2(code.contains(QStringLiteral("&lt;p")) && !code.contains(QStringLiteral("<p>code")), qPrintable(code));
    }

    void titlesAreCleaned() {
        QCOMPARE(chat::cleanTitle(QStringLiteral("\n  Title: \"Baking **bread** at home.\"\nMore text")),
                 QStringLiteral("Baking **bread** at home"));
        QCOMPARE(chat::cleanTitle(QStringLiteral(", It was a big, shiny cat.")), QStringLiteral("It was a big, shiny cat"));
        QCOMPARE(chat::cleanTitle(QStringLiteral(" \n\"\" ")), QString());
        QVERIFY(chat::cleanTitle(QStringLiteral("word ").repeated(40)).size() <= 60);
        QCOMPARE(chat::heuristicTitle(QStringLiteral("First line\nsecond")), QStringLiteral("First line"));
        QCOMPARE(chat::heuristicTitle(QStringLiteral("  ")), QStringLiteral("New chat"));
    }

    void snippetsEscapeText() {
        const QString hit = QStringLiteral("a <i>x</i> & ") + ui::kHighlightOpen + QStringLiteral("banana") + ui::kHighlightClose;
        QCOMPARE(ui::highlightedSnippet(hit), QStringLiteral("a &lt;i&gt;x&lt;/i&gt; &amp; <b>banana</b>"));
        // An unbalanced marker never leaves a tag open.
        QCOMPARE(ui::highlightedSnippet(ui::kHighlightOpen + QStringLiteral("x<")), QStringLiteral("<b>x&lt;</b>"));
        QCOMPARE(ui::highlightedSnippet(ui::kHighlightClose + QStringLiteral("y")), QStringLiteral("y"));
    }

    void searchSnippetsEscapeMessageText() {
        QTemporaryDir dir;
        ui::AppParts parts(test::tempPaths(dir));
        auto conv = parts.store->createConversation({QStringLiteral("<u>Fruit</u>"), {}, {}, {}});
        QTRY_VERIFY(conv.isFinished());
        QVERIFY(conv.result().ok());
        history::NewMessage m;
        m.conversationId = conv.result()->id;
        m.role = QStringLiteral("user");
        m.content = QStringLiteral("<img src=\"http://example.com/x.png\"> I like banana bread & tea");
        auto added = parts.store->addMessage(m);
        QTRY_VERIFY(added.isFinished());
        QVERIFY(added.result().ok());

        QSignalSpy results(parts.workspace.get(), &ui::Workspace::searchResultsChanged);
        parts.workspace->search(QStringLiteral("banana"));
        QVERIFY(results.wait(5000));
        const QVariantList hits = parts.workspace->searchResults();
        QCOMPARE(hits.size(), 1);
        const QString snippet = hits.first().toMap().value(QStringLiteral("snippet")).toString();
        QVERIFY2(snippet.contains(QStringLiteral("<b>banana</b>")), qPrintable(snippet));
        QVERIFY2(snippet.contains(QStringLiteral("&lt;img")), qPrintable(snippet));
        QVERIFY2(!snippet.contains(QStringLiteral("<img")), qPrintable(snippet));
        QVERIFY(snippet.contains(QStringLiteral("&amp; tea")));
        // Titles are shown as plain text (the QML sets Text.PlainText), so they stay raw here.
        QCOMPARE(hits.first().toMap().value(QStringLiteral("title")).toString(), QStringLiteral("<u>Fruit</u>"));
    }

    void modelListReadsHeaders() {
        const QString stories = QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf");
        if (!QFileInfo::exists(stories)) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        QTemporaryDir dir;
        QVERIFY(QDir().mkpath(dir.filePath(QStringLiteral("models"))));
        QVERIFY(QFile::copy(stories, dir.filePath(QStringLiteral("models/a-stories.gguf"))));
        QFile bad(dir.filePath(QStringLiteral("models/b-broken.gguf")));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("not a gguf");
        bad.close();
        settings::AppSettings settings(dir.filePath(QStringLiteral("s.ini")));
        // The list shows the library's scans (the app core's one scanner of model files).
        models::ModelLibrary library(dir.filePath(QStringLiteral("models")));
        ui::ModelListModel model(&settings, dir.filePath(QStringLiteral("models")));
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setLibrary(&library);
        QTRY_COMPARE(model.rowCount(), 2);
        QVERIFY(model.data(model.index(0), ui::ModelListModel::ReadyRole).toBool() &&
                model.data(model.index(1), ui::ModelListModel::ReadyRole).toBool());
        const QModelIndex good = model.index(0);
        QCOMPARE(model.data(good, ui::ModelListModel::ErrorRole).toString(), QString());
        QCOMPARE(model.data(good, ui::ModelListModel::NameRole).toString(), library.models().first().name);
        QCOMPARE(model.data(good, ui::ModelListModel::FileNameRole).toString(), QStringLiteral("a-stories.gguf"));
        QCOMPARE(model.data(good, ui::ModelListModel::ParametersRole).toString(), QStringLiteral("260K"));
        QCOMPARE(model.data(good, ui::ModelListModel::QuantRole).toString(), QStringLiteral("F32"));
        QCOMPARE(model.data(good, ui::ModelListModel::ContextRole).toInt(), 512);
        QCOMPARE(model.data(good, ui::ModelListModel::SizeRole).toString(), QStringLiteral("1.1 MB"));
        QVERIFY(!model.data(good, ui::ModelListModel::TemplateRole).toString().isEmpty());
        QVERIFY(!model.data(model.index(1), ui::ModelListModel::ErrorRole).toString().isEmpty());
        QCOMPARE(model.data(model.index(1), ui::ModelListModel::NameRole).toString(), QStringLiteral("b-broken.gguf"));

        // Added files are listed after the folder's.
        settings.addExtraModel(stories);
        library.setReferences(settings.extraModels());
        QTRY_COMPARE(model.rowCount(), 3);
        QCOMPARE(model.rowOfPath(stories), 2);

        // The model in use is offered even when it is neither in the folder nor added (--model).
        const QString elsewhere = dir.filePath(QStringLiteral("elsewhere.gguf"));
        QVERIFY(QFile::copy(stories, elsewhere));
        settings.setModelPath(elsewhere);
        model.refresh();
        QTRY_COMPARE(model.rowCount(), 4);
        QCOMPARE(model.rowOfPath(elsewhere), 3);
        QCOMPARE(model.data(model.index(3), ui::ModelListModel::ParametersRole).toString(), QStringLiteral("260K"));
    }
};

QTEST_MAIN(TestUiModels)
#include "test_ui_models.moc"
