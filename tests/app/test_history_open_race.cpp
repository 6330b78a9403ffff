// Rows stored while a chat is being opened (the reported race: "a chat opened right after two
// notices were saved sometimes showed only the first"). A caller that stores a row in the
// conversation being opened shows it itself only when the chat is open by the time its future
// answers; otherwise it relies on the load having read it. That is enough only if the store runs
// calls in the order they were made and answers them in that order, and if rows stored one after
// another without a parent chain on the active branch (not siblings). Each order of the open's
// two reads (loadConversation, then activeBranch) against the insert is forced by holding the
// store's thread; a loop with varying event-loop turns covers the timing in between.
#include <QSemaphore>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "../qt_test_util.h"
#include "app/chat/chat_controller.h"
#include "app/chat/chat_types.h"
#include "app/chat/engine_host.h"
#include "app/history/history_store.h"
#include "app/settings/app_settings.h"

using namespace ld::history;
using ld::chat::ChatController;

namespace {

using ld::test::await;

// Holds the store's thread (a continuation without a context runs on the thread that answered)
// until release(), so the calls made meanwhile queue up behind it in a known order.
class StoreGate {
public:
    explicit StoreGate(HistoryStore& store) {
        store.conversationCount().then([this](const Result<int>&) {
            entered_.release();
            release_.acquire();
        });
    }
    ~StoreGate() { release(); }
    // The gate's call reaches the store from the next event-loop turn (HistoryStore::post).
    bool waitHeld() { return QTest::qWaitFor([this] { return entered_.tryAcquire(); }, 10000); }
    // For a gate already in the store's queue: blocks without running the event loop, so
    // nothing the test queued on this thread moves meanwhile.
    bool waitHeldQuietly() { return entered_.tryAcquire(1, 10000); }
    void release() {
        if (!released_) release_.release();
        released_ = true;
    }

private:
    QSemaphore entered_, release_;
    bool released_ = false;
};

QString describe(const QList<Message>& rows) {
    QString out;
    for (const Message& m : rows) out += QStringLiteral("\n[%1 parent %2] %3").arg(m.id).arg(m.parentId.value_or(0)).arg(m.content);
    return out;
}

}  // namespace

class TestHistoryOpenRace : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::unique_ptr<HistoryStore> store_;
    std::unique_ptr<ld::chat::EngineHost> engine_;
    std::unique_ptr<ld::settings::AppSettings> settings_;
    std::unique_ptr<ChatController> chat_;
    int n_ = 0;

    qint64 newConversation() {
        NewConversation c;
        c.title = QStringLiteral("notices");
        const Result<Conversation> r = await(store_->createConversation(c));
        if (!r) qFatal("%s", qPrintable(r.error()));
        return r->id;
    }

    static NewMessage notice(qint64 conversation, const QString& text) {
        NewMessage m;
        m.conversationId = conversation;
        m.role = QString::fromLatin1(ld::chat::kNoticeRole);
        m.content = text;
        return m;
    }

    // Stores a notice the way DocumentController did before its workaround: shown at once when
    // the chat is open on its conversation when the answer comes, else left to the load.
    QFuture<Result<Message>> addShown(const NewMessage& m) {
        return store_->addMessage(m).then(this, [this](const Result<Message>& r) {
            if (r && chat_->conversationId() == r->conversationId) chat_->showAddedMessage(r.value());
            return r;
        });
    }

    // The chat ends up on `conversation` with exactly `expected`, in order.
    void verifyShown(qint64 conversation, const QStringList& expected) {
        QVERIFY(QTest::qWaitFor([&] { return chat_->conversationId() == conversation; }, 10000));
        QStringList shown;
        for (const Message& m : chat_->messages()) shown << m.content;
        QVERIFY2(shown == expected, qPrintable(describe(chat_->messages())));
        // A reload (a restart) shows the same rows: they are one chain, not siblings.
        const Result<QList<Message>> branch = await(store_->activeBranch(conversation));
        QVERIFY2(branch, qPrintable(branch.error()));
        QStringList stored;
        for (const Message& m : branch.value()) stored << m.content;
        QCOMPARE(stored, expected);
    }

private slots:
    void init() {
        store_ = std::make_unique<HistoryStore>(dir_.filePath(QStringLiteral("race-%1.db").arg(++n_)));
        QVERIFY(await(store_->opened()).ok());
        engine_ = std::make_unique<ld::chat::EngineHost>();  // no model: nothing here generates
        settings_ = std::make_unique<ld::settings::AppSettings>(dir_.filePath(QStringLiteral("s%1.ini").arg(n_)));
        chat_ = std::make_unique<ChatController>(store_.get(), engine_.get(), settings_.get());
        chat_->newChat();
    }

    void cleanup() {
        chat_.reset();
        engine_.reset();
        store_.reset();
        settings_.reset();
    }

    // The report's words: both notices committed, then the chat opened.
    void twoNoticesSavedThenOpened() {
        const qint64 c = newConversation();
        StoreGate gate(*store_);
        QVERIFY(gate.waitHeld());
        auto first = addShown(notice(c, QStringLiteral("a.txt: empty")));
        auto second = addShown(notice(c, QStringLiteral("b.pdf: missing")));
        chat_->openConversation(c);
        QTest::qWait(20);  // every call reaches the store's queue, behind the gate
        gate.release();
        QVERIFY(await(first) && await(second));
        verifyShown(c, {QStringLiteral("a.txt: empty"), QStringLiteral("b.pdf: missing")});
        QCOMPARE(await(second)->parentId, std::optional<qint64>(await(first)->id));
    }

    // Opening starts first; the second notice is stored before, between and after the open's
    // two reads (each forced by holding the store's thread at that point).
    void secondNoticeAgainstEachStepOfTheOpen_data() {
        QTest::addColumn<int>("step");
        QTest::newRow("before the first read") << 0;
        QTest::newRow("between the reads, before the second is asked") << 1;
        QTest::newRow("after the second read is asked") << 2;
    }
    void secondNoticeAgainstEachStepOfTheOpen() {
        QFETCH(int, step);
        const qint64 c = newConversation();
        QVERIFY(await(addShown(notice(c, QStringLiteral("first")))));
        QFuture<Result<Message>> second;
        QSignalSpy reset(chat_.get(), &ChatController::messagesReset);
        {
            StoreGate held(*store_);
            QVERIFY(held.waitHeld());
            chat_->openConversation(c);
            QTest::qWait(20);  // loadConversation waits in the store's queue
            if (step == 0) {
                second = addShown(notice(c, QStringLiteral("second")));
                QTest::qWait(20);
            } else {
                StoreGate afterLoad(*store_);  // queued behind loadConversation
                QTest::qWait(20);
                held.release();
                QVERIFY(afterLoad.waitHeldQuietly());  // loadConversation answered; its continuation waits
                if (step == 1) second = addShown(notice(c, QStringLiteral("second")));
                QTest::qWait(20);  // the continuation asks for activeBranch (queued behind afterLoad)
                if (step == 2) second = addShown(notice(c, QStringLiteral("second")));
                QTest::qWait(20);
            }
        }  // gates released
        QVERIFY(await(second));
        verifyShown(c, {QStringLiteral("first"), QStringLiteral("second")});
        // The gates forced the order claimed: only the last step's load misses the second row
        // (shown from its own answer, which comes after the open's).
        QVERIFY(reset.count() > 0);
        QCOMPARE(reset.last().at(0).value<QList<Message>>().size(), step == 2 ? 1 : 2);
    }

    // The timing in between, unforced: the second notice after 0..7 event-loop turns, with the
    // store's thread running freely.
    void secondNoticeWhileOpeningLoop() {
        for (int i = 0; i < 300; ++i) {
            chat_->newChat();
            const qint64 c = newConversation();
            QVERIFY(await(addShown(notice(c, QStringLiteral("first %1").arg(i)))));
            chat_->openConversation(c);
            for (int turn = 0; turn < i % 8; ++turn) QCoreApplication::processEvents();
            if (i % 3 == 0) QThread::usleep(50);
            QVERIFY(await(addShown(notice(c, QStringLiteral("second %1").arg(i)))));
            verifyShown(c, {QStringLiteral("first %1").arg(i), QStringLiteral("second %1").arg(i)});
            if (QTest::currentTestFailed()) {
                qWarning("iteration %d", i);
                return;
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestHistoryOpenRace)
#include "test_history_open_race.moc"
