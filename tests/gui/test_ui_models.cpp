// The view models under QAbstractItemModelTester: messages (reset, append, coalesced
// streaming, updates, Markdown blocks) and the model list (GGUF headers read off the UI thread).
#include <QAbstractItemModelTester>
#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "app/chat/auto_title.h"
#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/history/history_store.h"
#include "app/models/model_library.h"
#include "app/settings/app_settings.h"
#include "ui/messages_model.h"
#include "ui/app_parts.h"
#include "ui/model_list_model.h"
#include "ui/text_format.h"
#include "ui/workspace.h"

using namespace ld;
using history::Message;
using history::MessageStatus;

class TestUiModels : public QObject {
    Q_OBJECT
private slots:
    void messagesModelMirrorsController() {
        QTemporaryDir dir;
        history::HistoryStore store(dir.filePath(QStringLiteral("h.db")));
        chat::EngineHost engine;
        settings::AppSettings settings(dir.filePath(QStringLiteral("s.ini")));
        chat::ChatController chat(&store, &engine, &settings);
        ui::MessagesModel model(&chat);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);

        Message user;
        user.id = 1;
        user.role = QStringLiteral("user");
        user.content = QStringLiteral("hi");
        emit chat.messagesReset({user});
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(model.data(model.index(0), ui::MessagesModel::RoleRole).toString(), QStringLiteral("user"));

        Message reply;
        reply.id = 2;
        reply.role = QStringLiteral("assistant");
        reply.status = MessageStatus::Streaming;
        emit chat.messageAdded(reply);
        QCOMPARE(model.rowCount(), 2);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        for (const char* piece : {"Hello", ", ", "world"}) emit chat.replyText(2, QString::fromLatin1(piece));
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
        emit chat.messageUpdated(1, reply);
        QCOMPARE(model.data(model.index(1), ui::MessagesModel::StatusRole).toString(), QStringLiteral("complete"));
        QVERIFY(model.data(model.index(1), ui::MessagesModel::StatsRole).toString().contains(QStringLiteral("12.5 tok/s")));
        emit chat.messagesReset({});
        QCOMPARE(model.rowCount(), 0);
    }

    void splitsMarkdownAtCodeFences() {
        const QVariantList blocks = ui::MessagesModel::splitBlocks(
            QStringLiteral("Here:\n```cpp\nint x = 1;\n```\nDone.\n```\nunterminated"));
        QCOMPARE(blocks.size(), 4);
        QCOMPARE(blocks[0].toMap().value(QStringLiteral("code")).toBool(), false);
        QCOMPARE(blocks[1].toMap().value(QStringLiteral("code")).toBool(), true);
        QCOMPARE(blocks[1].toMap().value(QStringLiteral("lang")).toString(), QStringLiteral("cpp"));
        QCOMPARE(blocks[1].toMap().value(QStringLiteral("text")).toString(), QStringLiteral("int x = 1;"));
        QCOMPARE(blocks[2].toMap().value(QStringLiteral("text")).toString(), QStringLiteral("Done."));
        QCOMPARE(blocks[3].toMap().value(QStringLiteral("text")).toString(), QStringLiteral("unterminated"));
        QCOMPARE(ui::MessagesModel::splitBlocks(QString()).size(), 0);
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

    void snippetsAndMarkdownEscapeText() {
        const QString hit = QStringLiteral("a <i>x</i> & ") + ui::kHighlightOpen + QStringLiteral("banana") + ui::kHighlightClose;
        QCOMPARE(ui::highlightedSnippet(hit), QStringLiteral("a &lt;i&gt;x&lt;/i&gt; &amp; <b>banana</b>"));
        // An unbalanced marker never leaves a tag open.
        QCOMPARE(ui::highlightedSnippet(ui::kHighlightOpen + QStringLiteral("x<")), QStringLiteral("<b>x&lt;</b>"));
        QCOMPARE(ui::highlightedSnippet(ui::kHighlightClose + QStringLiteral("y")), QStringLiteral("y"));
        // Raw HTML in Markdown prose is shown as text; code spans and escapes are left alone.
        QCOMPARE(ui::escapeMarkdownHtml(QStringLiteral("<img src=x> and `a<b` or \\<")),
                 QStringLiteral("\\<img src=x> and `a<b` or \\<"));
        QCOMPARE(ui::escapeMarkdownHtml(QStringLiteral("no tags")), QStringLiteral("no tags"));
        const QVariantList blocks = ui::MessagesModel::splitBlocks(QStringLiteral("<b>hi</b>\n```html\n<p>code</p>\n```"));
        QCOMPARE(blocks.size(), 2);
        QCOMPARE(blocks[0].toMap().value(QStringLiteral("text")).toString(), QStringLiteral("\\<b>hi\\</b>"));
        QCOMPARE(blocks[1].toMap().value(QStringLiteral("text")).toString(), QStringLiteral("<p>code</p>"));
    }

    void searchSnippetsEscapeMessageText() {
        QTemporaryDir dir;
        ui::AppPaths paths;
        paths.database = dir.filePath(QStringLiteral("h.db"));
        paths.settingsIni = dir.filePath(QStringLiteral("s.ini"));
        paths.modelsFolder = dir.filePath(QStringLiteral("models"));
        ui::AppParts parts(paths);
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
        if (!QFileInfo::exists(stories)) QSKIP("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
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
