// HistoryStore (the async API on its own thread) and ConversationListModel.
#include <QAbstractItemModelTester>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "../qt_test_util.h"
#include "app/history/conversation_list_model.h"
#include "app/history/history_database.h"
#include "app/history/history_store.h"
#include "app/history/reply_writer.h"

using namespace ld::history;

namespace {

// Waits for the future while the event loop runs (continuations, queued signals).
using ld::test::await;

}  // namespace

class TestHistoryStore : public QObject {
    Q_OBJECT

private slots:
    void init() { path_ = dir_.filePath(QStringLiteral("store-%1.db").arg(++n_)); }

    void operationsRunOnTheStoreThread() {
        HistoryStore store(path_);
        QSignalSpy changed(&store, &HistoryStore::conversationsChanged);
        const Result<OpenReport> opened = await(store.opened());
        QVERIFY2(opened, qPrintable(opened.error()));

        NewConversation n;
        n.title = QStringLiteral("Async");
        const Result<Conversation> c = await(store.createConversation(n));
        QVERIFY(c);
        QVERIFY(changed.wait(2000) || changed.count() > 0);

        // The continuation comes back on the caller's thread; the work ran elsewhere.
        QThread* ranOn = nullptr;
        QThread* resultOn = nullptr;
        NewMessage m;
        m.conversationId = c->id;
        m.role = QStringLiteral("user");
        m.content = QStringLiteral("hello from the UI");
        auto done = store.addMessage(m).then(this, [&](const Result<Message>& r) {
            resultOn = QThread::currentThread();
            return r;
        });
        store.search(QStringLiteral("x")).then([&](const Result<QList<SearchHit>>&) { ranOn = QThread::currentThread(); });
        const Result<Message> saved = await(done);
        QVERIFY(saved);
        QCOMPARE(resultOn, QThread::currentThread());
        QTRY_VERIFY(ranOn != nullptr);
        QVERIFY(ranOn != QThread::currentThread());

        QVERIFY(await(store.renameConversation(c->id, QStringLiteral("Renamed"))));
        const auto list = await(store.listConversations(0, 10));
        QCOMPARE(list->size(), 1);
        QCOMPARE(list->at(0).title, QStringLiteral("Renamed"));
        QCOMPARE(list->at(0).messageCount, 1);
        QCOMPARE(await(store.search(QStringLiteral("hello")))->size(), 1);
        const auto copy = await(store.duplicateConversation(c->id));
        QVERIFY(copy);
        QCOMPARE(await(store.conversationCount()).value(), 2);
        const auto json = await(store.exportJson({}));
        QVERIFY(json);
        const auto imported = await(store.importJson(json.value()));
        QVERIFY2(imported, qPrintable(imported.error()));
        QCOMPARE(imported->size(), 2);
        QVERIFY(await(store.exportMarkdown({c->id}))->contains(QStringLiteral("hello from the UI")));
        QVERIFY(await(store.deleteConversation(c->id)));
        QCOMPARE(await(store.conversationCount()).value(), 3);
    }

    // A document is stored when read; its summary is added when done (or never, if cancelled).
    void attachmentSummaryIsSetLater() {
        qint64 conversationId = 0;
        qint64 attachmentId = 0;
        {
            HistoryStore store(path_);
            QVERIFY(await(store.opened()));
            NewConversation n;
            n.title = QStringLiteral("Docs");
            const Result<Conversation> c = await(store.createConversation(n));
            QVERIFY(c);
            conversationId = c->id;
            Attachment doc;
            doc.conversationId = c->id;
            doc.fileName = QStringLiteral("report.txt");
            doc.extractedText = QStringLiteral("[p. 1] The kite flew.");
            const Result<Attachment> added = await(store.addAttachment(doc));
            QVERIFY2(added, qPrintable(added.error()));
            attachmentId = added->id;

            QSignalSpy changed(&store, &HistoryStore::conversationChanged);
            const Status set = await(store.setAttachmentSummary(attachmentId, QStringLiteral("A kite flies [p. 1].")));
            QVERIFY2(set, qPrintable(set.error()));
            QTRY_VERIFY_WITH_TIMEOUT(changed.count() == 1, 5000);
            QCOMPARE(changed.at(0).at(0).toLongLong(), conversationId);
        }

        // Persisted; and a store that did not add the attachment finds it too.
        HistoryStore store(path_);
        QVERIFY(await(store.opened()));
        const auto list = await(store.attachments(conversationId));
        QVERIFY(list);
        QCOMPARE(list->size(), 1);
        QCOMPARE(list->at(0).summary, QStringLiteral("A kite flies [p. 1]."));
        QCOMPARE(list->at(0).extractedText, QStringLiteral("[p. 1] The kite flew."));
        QSignalSpy changed(&store, &HistoryStore::conversationChanged);
        QVERIFY(await(store.setAttachmentSummary(attachmentId, QStringLiteral("Shorter."))));
        QCOMPARE(await(store.attachments(conversationId))->at(0).summary, QStringLiteral("Shorter."));
        QTRY_VERIFY_WITH_TIMEOUT(changed.count() == 1, 5000);

        // No such attachment: a readable error, nothing announced.
        const Status unknown = await(store.setAttachmentSummary(attachmentId + 1000, QStringLiteral("x")));
        QVERIFY(!unknown);
        QVERIFY2(unknown.error().contains(QStringLiteral("summary")), qPrintable(unknown.error()));
        // Nor once its conversation (and so the attachment) was deleted.
        QVERIFY(await(store.deleteConversation(conversationId)));
        const Status gone = await(store.setAttachmentSummary(attachmentId, QStringLiteral("y")));
        QVERIFY(!gone);
        QVERIFY2(gone.error().contains(QStringLiteral("no longer")), qPrintable(gone.error()));
        QTest::qWait(50);
        QCOMPARE(changed.count(), 1);
    }

    void streamingReplyIsCheckpointedEvenWhenTokensPause() {
        HistoryStore store(path_);
        QVERIFY(await(store.opened()));
        const qint64 c = await(store.createConversation({}))->id;
        const Result<Message> reply = await(store.beginReply(c, std::nullopt, QStringLiteral("m")));
        QVERIFY(reply);
        QSignalSpy checkpoints(&store, &HistoryStore::replyCheckpointed);
        store.appendReply(reply->id, QStringLiteral("Once upon"));
        // No more tokens: the store's timer must still write the pending text.
        QVERIFY(checkpoints.wait(2 * kCheckpointInterval.count() + 1000));
        QCOMPARE(checkpoints.at(0).at(0).toLongLong(), reply->id);
        QCOMPARE(checkpoints.at(0).at(1).value<qsizetype>(), qsizetype(9));
        {
            // Another connection (another process, in real life) sees the checkpoint.
            auto reader = HistoryDatabase::open(path_, nullptr, nullptr);
            QCOMPARE(reader->message(reply->id)->content, QStringLiteral("Once upon"));
            QCOMPARE(reader->message(reply->id)->status, MessageStatus::Streaming);
        }
        store.appendReply(reply->id, QStringLiteral(" a time"));
        QVERIFY(await(store.finishReply(reply->id, MessageStatus::Complete, GenerationStats{3, 4, 5, 6, 7})));
        const auto branch = await(store.activeBranch(c));
        QCOMPARE(branch->size(), 1);
        QCOMPARE(branch->at(0).content, QStringLiteral("Once upon a time"));
        QCOMPARE(branch->at(0).status, MessageStatus::Complete);
        QCOMPARE(branch->at(0).stats.genTokens, 4);
        // Finishing twice is an error, not a crash.
        QVERIFY(!await(store.finishReply(reply->id, MessageStatus::Complete, {})));
    }

    void damagedFileIsReportedToTheUser() {
        {
            QFile f(path_);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QByteArray(5000, 'z'));
        }
        HistoryStore store(path_);
        QSignalSpy notices(&store, &HistoryStore::notice);
        const Result<OpenReport> r = await(store.opened());
        QVERIFY(r);
        QVERIFY(!r->movedAsidePath.isEmpty());
        QTRY_COMPARE(notices.count(), 1);
        QVERIFY(notices.at(0).at(0).toString().contains(QStringLiteral("moved aside")));
    }

    void unopenableDatabaseFailsEveryCallWithTheReason() {
        QVERIFY(HistoryDatabase::open(path_, nullptr, nullptr));
        {
            // What a newer LlamaDesk would leave behind.
            QSqlDatabase raw = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("raw"));
            raw.setDatabaseName(path_);
            QVERIFY(raw.open());
            QVERIFY(QSqlQuery(raw).exec(QStringLiteral("UPDATE schema_version SET version = 7")));
            raw.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("raw"));
        HistoryStore store(path_);
        QSignalSpy errors(&store, &HistoryStore::storageError);
        const Result<OpenReport> r = await(store.opened());
        QVERIFY(!r);
        QVERIFY(r.error().contains(QStringLiteral("newer")));
        const auto list = await(store.listConversations(0, 10));
        QVERIFY(!list);
        QCOMPARE(list.error(), r.error());
        QTRY_COMPARE(errors.count(), 1);
    }

    void listModelPagesAndFollowsChanges() {
        HistoryStore store(path_);
        QVERIFY(await(store.opened()));
        for (int i = 0; i < 5; ++i) {
            NewConversation n;
            n.title = QStringLiteral("chat %1").arg(i);
            QVERIFY(await(store.createConversation(n)));
            QThread::msleep(2);
        }
        ConversationListModel model(&store, 2);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy loaded(&model, &ConversationListModel::loaded);
        QTRY_COMPARE(model.rowCount(), 2);
        QCOMPARE(model.data(model.index(0, 0)).toString(), QStringLiteral("chat 4"));  // newest first
        // Page in the rest as a view would: fetch whenever the model can (it cannot while a
        // reload, triggered by the store's late change signals, is in flight).
        QVERIFY(QTest::qWaitFor([&] {
            if (model.canFetchMore({})) model.fetchMore({});
            return model.rowCount() == 5 && !model.canFetchMore({});
        }, 5000));
        QCOMPARE(model.rowCount(), 5);
        QCOMPARE(model.data(model.index(4, 0), ConversationListModel::TitleRole).toString(), QStringLiteral("chat 0"));
        const qint64 oldest = model.data(model.index(4, 0), ConversationListModel::IdRole).toLongLong();

        // A new message moves its conversation to the top; the model reloads on its own.
        NewMessage m;
        m.conversationId = oldest;
        m.role = QStringLiteral("user");
        m.content = QStringLiteral("bump");
        QVERIFY(await(store.addMessage(m)));
        QTRY_COMPARE(model.data(model.index(0, 0), ConversationListModel::IdRole).toLongLong(), oldest);
        QCOMPARE(model.rowCount(), 5);
        QCOMPARE(model.data(model.index(0, 0), ConversationListModel::MessageCountRole).toInt(), 1);

        QVERIFY(await(store.deleteConversation(oldest)));
        QTRY_COMPARE(model.rowCount(), 4);
        QCOMPARE(model.rowOf(oldest), -1);
        QVERIFY(await(store.renameConversation(model.conversationAt(0)->id, QString())));
        QTRY_COMPARE(model.data(model.index(0, 0)).toString(), QStringLiteral("New conversation"));
    }

    void toolCallsThroughTheStore() {
        HistoryStore store(path_);
        QVERIFY(await(store.opened()));
        NewConversation n;
        n.title = QStringLiteral("Tools");
        const Result<Conversation> c = await(store.createConversation(n));
        QVERIFY(c);
        const Result<Message> reply = await(store.beginReply(c->id, std::nullopt, QStringLiteral("tiny")));
        QVERIFY(reply);
        QVERIFY(await(store.finishReply(reply->id, MessageStatus::Complete, GenerationStats{})));
        ToolCall call;
        call.callId = QStringLiteral("call_0");
        call.name = QStringLiteral("get_sum");
        call.argumentsJson = QStringLiteral("{\"a\": 1, \"b\": 2}");
        QSignalSpy changed(&store, &HistoryStore::conversationChanged);
        QVERIFY(await(store.setToolCalls(c->id, reply->id, {call})));
        QVERIFY(await(store.setToolCallDecision(c->id, reply->id, QStringLiteral("call_0"), ToolDecision::Denied)));
        QTRY_VERIFY(changed.count() >= 2);
        QCOMPARE(changed.first().first().toLongLong(), c->id);
        const Status unknown = await(store.setToolCallDecision(c->id, reply->id, QStringLiteral("call_1"), ToolDecision::Denied));
        QVERIFY(!unknown);
        QVERIFY2(unknown.error().contains(QStringLiteral("call_1")), qPrintable(unknown.error()));
        NewMessage result;
        result.conversationId = c->id;
        result.role = QString::fromLatin1(kToolRole);
        result.content = QStringLiteral("The user denied this call.");
        result.toolResult = ToolResult{QStringLiteral("call_0"), true, false};
        QVERIFY(await(store.addMessage(result)));
        const Result<QList<Message>> branch = await(store.activeBranch(c->id));
        QCOMPARE(branch->size(), 2);
        QCOMPARE(branch->at(0).toolCalls.first().decision, ToolDecision::Denied);
        QCOMPARE(branch->at(1).toolResult->callId, QStringLiteral("call_0"));
        QVERIFY(branch->at(1).toolResult->isError);

        // importJson is all or nothing: a file with a good and a bad conversation imports neither.
        const Result<QByteArray> json = await(store.exportJson({c->id}));
        QVERIFY(json);
        QJsonObject doc = QJsonDocument::fromJson(json.value()).object();
        QJsonArray conversations = doc[QStringLiteral("conversations")].toArray();
        QJsonObject bad = conversations[0].toObject();
        QJsonArray messages = bad[QStringLiteral("messages")].toArray();
        QJsonObject orphan = messages[1].toObject();
        orphan[QStringLiteral("tool_call_id")] = QStringLiteral("call_9");
        messages[1] = orphan;
        bad[QStringLiteral("messages")] = messages;
        conversations.append(bad);
        doc[QStringLiteral("conversations")] = conversations;
        const auto imported = await(store.importJson(QJsonDocument(doc).toJson()));
        QVERIFY(!imported);
        QCOMPARE(await(store.conversationCount()).value(), 1);
    }

private:
    QTemporaryDir dir_;
    QString path_;
    int n_ = 0;
};

QTEST_GUILESS_MAIN(TestHistoryStore)
#include "test_history_store.moc"
