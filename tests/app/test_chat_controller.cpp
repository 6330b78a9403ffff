// The chat controller against a real engine thread (stories260K) and a temporary history DB:
// messages are committed before generation, replies are streamed and recorded with stats,
// regenerate/edit branch, interrupted replies continue.
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "../qt_test_util.h"
#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/history/history_store.h"
#include "app/settings/app_settings.h"

using namespace ld::chat;
using namespace ld::history;

namespace {

const QString kStories = QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf");
const QString kTiny = QStringLiteral(LLAMADESK_SHARED_DIR "/models/tiny-llama31-random-f16.gguf");

using ld::test::await;

}  // namespace

class TestChatController : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::unique_ptr<HistoryStore> store_;
    std::unique_ptr<EngineHost> engine_;
    std::unique_ptr<ld::settings::AppSettings> settings_;
    std::unique_ptr<ChatController> chat_;

    bool waitReply() {
        QSignalSpy done(chat_.get(), &ChatController::replyFinished);
        return done.wait(30000);
    }
    QList<Message> branch() { return await(store_->activeBranch(chat_->conversationId())).value(); }
    Conversation saved(qint64 id) { return await(store_->loadConversation(id)).value().conversation; }
    // The reply is recorded; the automatic title (queued after the first reply) is done too.
    bool waitIdle() { return QTest::qWaitFor([&] { return !chat_->busy() && !engine_->generating(); }, 30000); }

private slots:
    void init() {
        if (!QFileInfo::exists(kStories)) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        store_ = std::make_unique<HistoryStore>(dir_.filePath(QStringLiteral("h%1.db").arg(QDateTime::currentMSecsSinceEpoch())));
        QVERIFY(await(store_->opened()).ok());
        engine_ = std::make_unique<EngineHost>();
        settings_ = std::make_unique<ld::settings::AppSettings>(dir_.filePath(QStringLiteral("s.ini")));
        settings_->setTemperature(0);
        settings_->setMaxTokens(40);
        QSignalSpy loaded(engine_.get(), &EngineHost::modelLoaded);
        EngineConfig c;
        c.modelPath = kStories;
        c.backend = QStringLiteral("cpu");
        c.contextLength = 512;
        engine_->load(c);
        QVERIFY(loaded.wait(30000));
        chat_ = std::make_unique<ChatController>(store_.get(), engine_.get(), settings_.get());
        chat_->newChat();
    }
    void cleanup() {
        chat_.reset();
        engine_.reset();
        store_.reset();
        settings_.reset();
    }

    void sendRecordsMessageAndStreamedReply() {
        QSignalSpy added(chat_.get(), &ChatController::messageAdded);
        QSignalSpy pieces(chat_.get(), &ChatController::replyText);
        QVERIFY(chat_->send(QStringLiteral("Once upon a time")));
        QVERIFY(chat_->busy());
        QVERIFY(!chat_->send(QStringLiteral("while busy")));  // refused; the caller keeps the text
        QVERIFY(waitReply());
        QVERIFY(!chat_->busy());
        QVERIFY(chat_->conversationId() > 0);
        QCOMPARE(chat_->title(), QStringLiteral("Once upon a time"));  // until the model's title arrives
        QCOMPARE(added.count(), 2);
        QVERIFY(pieces.count() > 1);
        const QList<Message> saved = branch();
        QCOMPARE(saved.size(), 2);
        QCOMPARE(saved[0].role, QStringLiteral("user"));
        QCOMPARE(saved[0].content, QStringLiteral("Once upon a time"));
        QCOMPARE(saved[1].role, QStringLiteral("assistant"));
        QCOMPARE(saved[1].status, MessageStatus::Complete);
        QVERIFY(!saved[1].content.isEmpty());
        QCOMPARE(saved[1].content, chat_->messages().last().content);
        QVERIFY(saved[1].stats.genTokens > 0);
        QVERIFY(saved[1].stats.genTps > 0);
        QCOMPARE(saved[1].parentId, std::optional<qint64>(saved[0].id));
    }

    void regenerateAndEditMakeBranches() {
        QVERIFY(chat_->send(QStringLiteral("Once upon a time")));
        QVERIFY(waitReply());
        const qint64 firstReply = chat_->messages().last().id;
        settings_->setTemperature(1.0);
        chat_->regenerate();
        QVERIFY(waitReply());
        QCOMPARE(chat_->messages().size(), 2);
        QVERIFY(chat_->messages().last().id != firstReply);
        QCOMPARE(branch().last().id, chat_->messages().last().id);

        chat_->editAndResend(0, QStringLiteral("The dog"));
        QVERIFY(waitReply());
        const QList<Message> saved = branch();
        QCOMPARE(saved.size(), 2);
        QCOMPARE(saved[0].content, QStringLiteral("The dog"));
        const auto all = await(store_->loadConversation(chat_->conversationId())).value().messages;
        QCOMPARE(all.size(), 5);  // two user messages, three replies, all kept
    }

    void stopRecordsInterruptedAndContinueResumes() {
        settings_->setMaxTokens(400);
        settings_->setTemperature(1.0);
        bool stopped = false;
        connect(chat_.get(), &ChatController::replyText, this, [&] {
            if (!stopped) chat_->stop();
            stopped = true;
        });
        QVERIFY(chat_->send(QStringLiteral("Once upon a time")));
        QVERIFY(waitReply());
        QVERIFY(stopped);
        QCOMPARE(chat_->messages().last().status, MessageStatus::Interrupted);
        QCOMPARE(branch().last().status, MessageStatus::Interrupted);
        QVERIFY(chat_->canContinue());
        const QString partial = chat_->messages().last().content;
        settings_->setMaxTokens(10);
        chat_->continueReply();
        QVERIFY(waitReply());
        const Message resumed = branch().last();
        QCOMPARE(resumed.status, MessageStatus::Complete);
        QVERIFY(resumed.content.startsWith(partial));
        QVERIFY(resumed.content.size() > partial.size());
    }

    void reopensConversation() {
        QVERIFY(chat_->send(QStringLiteral("Once upon a time")));
        QVERIFY(waitReply());
        const qint64 id = chat_->conversationId();
        const QList<Message> before = chat_->messages();
        chat_->newChat();
        QCOMPARE(chat_->messages().size(), 0);
        QSignalSpy reset(chat_.get(), &ChatController::messagesReset);
        chat_->openConversation(id);
        QVERIFY(reset.wait(5000));
        QCOMPARE(chat_->conversationId(), id);
        QCOMPARE(chat_->messages().size(), before.size());
        QCOMPARE(chat_->messages().last().content, before.last().content);
    }

    void perChatOverridesReachEngine() {
        // Without a system prompt, then with a long one: the prompt grows by it; the chat's
        // max_tokens (3) wins over the global 40.
        chat_->setChatSettings(QString(), {{QStringLiteral("max_tokens"), 3}});
        QVERIFY(chat_->send(QStringLiteral("Once upon a time")));
        QVERIFY(waitReply());
        const GenerationStats bare = chat_->messages().last().stats;
        QVERIFY(bare.genTokens > 0 && bare.genTokens <= 3);
        QVERIFY(waitIdle());

        chat_->newChat();
        QVERIFY(chat_->samplingOverrides().isEmpty());  // a new chat starts from the global settings
        const QString prompt = QStringLiteral("You tell short stories about a cat, a dog and a little girl in the park.");
        chat_->setChatSettings(prompt, {{QStringLiteral("max_tokens"), 3}, {QStringLiteral("top_k"), QString()}});
        QVERIFY(chat_->send(QStringLiteral("Once upon a time")));
        QVERIFY(waitReply());
        const GenerationStats withPrompt = chat_->messages().last().stats;
        QVERIFY(withPrompt.genTokens <= 3);
        QVERIFY2(withPrompt.promptTokens > bare.promptTokens + 10,
                 qPrintable(QStringLiteral("%1 vs %2 prompt tokens").arg(withPrompt.promptTokens).arg(bare.promptTokens)));
        const qint64 id = chat_->conversationId();
        Conversation c = saved(id);
        QCOMPARE(c.systemPrompt, prompt);
        QCOMPARE(c.sampling.value(QStringLiteral("max_tokens")).toInt(), 3);
        QVERIFY(!c.sampling.contains(QStringLiteral("top_k")));  // empty = follow the global setting
        QVERIFY(waitIdle());

        // Reopened, the chat still uses its own settings; changing them later is saved.
        chat_->newChat();
        QSignalSpy reset(chat_.get(), &ChatController::messagesReset);
        chat_->openConversation(id);
        QVERIFY(reset.wait(5000));
        QCOMPARE(chat_->systemPrompt(), prompt);
        QCOMPARE(chat_->samplingOverrides().value(QStringLiteral("max_tokens")).toInt(), 3);
        QVERIFY(chat_->send(QStringLiteral("The end")));
        QVERIFY(waitReply());
        QVERIFY(chat_->messages().last().stats.genTokens <= 3);
        chat_->setChatSettings(QStringLiteral("Be brief."), {{QStringLiteral("temperature"), 9}});
        QTRY_COMPARE(saved(id).systemPrompt, QStringLiteral("Be brief."));
        c = saved(id);
        QCOMPARE(c.sampling.value(QStringLiteral("temperature")).toDouble(), 5.0);  // clamped
        QVERIFY(!c.sampling.contains(QStringLiteral("max_tokens")));
    }

    void autoTitleAfterFirstExchange() {
        QSignalSpy titled(chat_.get(), &ChatController::titleGenerated);
        QVERIFY(chat_->send(QStringLiteral("Tell me about the little dog who lost his ball")));
        QVERIFY(waitReply());
        QVERIFY(titled.wait(30000));
        const qint64 id = chat_->conversationId();
        QCOMPARE(titled.first().first().toLongLong(), id);
        const QString title = titled.first().at(1).toString();
        QVERIFY(!title.isEmpty() && title.size() <= 60);
        QVERIFY(!title.contains(QLatin1Char('\n')));
        QCOMPARE(chat_->title(), title);
        QCOMPARE(saved(id).title, title);
        // Only the first exchange is titled.
        QVERIFY(chat_->send(QStringLiteral("And then?")));
        QVERIFY(waitReply());
        QVERIFY(waitIdle());
        QTest::qWait(50);
        QCOMPARE(titled.count(), 1);

        // A title the user gives before the model's arrives is kept.
        chat_->newChat();
        // (Renamed as the reply starts: the title is asked for only after the reply ends.)
        connect(chat_.get(), &ChatController::messageAdded, this, [this](const Message& m) {
            if (m.role == QLatin1String("assistant")) chat_->renameConversation(chat_->conversationId(), QStringLiteral("Mine"));
        });
        QVERIFY(chat_->send(QStringLiteral("Once upon a time")));
        QVERIFY(waitReply());
        QVERIFY(waitIdle());
        QTRY_COMPARE(saved(chat_->conversationId()).title, QStringLiteral("Mine"));
        QTest::qWait(100);
        QCOMPARE(saved(chat_->conversationId()).title, QStringLiteral("Mine"));
        QCOMPARE(chat_->title(), QStringLiteral("Mine"));
        QCOMPARE(titled.count(), 1);
    }

    void modelSwitchKeepsConversationAndRecordsModel() {
        if (!QFileInfo::exists(kTiny)) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/tiny-llama31-random-f16.gguf");
        QVERIFY(chat_->send(QStringLiteral("Once upon a time")));
        QVERIFY(waitReply());
        QVERIFY(waitIdle());
        const qint64 id = chat_->conversationId();
        const QString first = engine_->modelName();
        QCOMPARE(saved(id).model, first);

        QSignalSpy loaded(engine_.get(), &EngineHost::modelLoaded);
        EngineConfig c;
        c.modelPath = kTiny;
        c.backend = QStringLiteral("cpu");
        c.contextLength = 512;
        engine_->load(c);
        QVERIFY(loaded.wait(30000));
        const QString second = engine_->modelName();
        QVERIFY(second != first);
        // The open chat continues on the new model, and says so.
        QCOMPARE(chat_->conversationId(), id);
        QCOMPARE(chat_->messages().size(), 2);
        QCOMPARE(chat_->conversationModel(), second);
        QVERIFY(chat_->notice().contains(second));
        QTRY_COMPARE(saved(id).model, second);

        settings_->setMaxTokens(4);
        QVERIFY(chat_->send(QStringLiteral("And then?")));
        QVERIFY(waitReply());
        const QList<Message> b = branch();
        QCOMPARE(b.size(), 4);
        QCOMPARE(b[1].model, first);
        QCOMPARE(b[3].model, second);
        QCOMPARE(b[3].status, MessageStatus::Complete);
        // The whole history was encoded for the new model (llama3 template), not just the question.
        QVERIFY(b[3].stats.promptTokens > 20);
    }

    void sendWithoutModelKeepsText() {
        EngineHost empty;
        ChatController chat(store_.get(), &empty, settings_.get());
        QSignalSpy errors(&chat, &ChatController::errorOccurred);
        QVERIFY(!chat.send(QStringLiteral("hello")));
        QCOMPARE(errors.count(), 1);
    }
};

QTEST_GUILESS_MAIN(TestChatController)
#include "test_chat_controller.moc"
