// Dropping files on the real window: the drop overlay shows while dragging, the drop starts a
// summary that streams into the chat as an assistant reply (stories260K), the document and its
// summary are stored as an attachment, a bad file among the dropped ones is reported by name
// in a stored notice row of the chat, a follow-up question gets the document's passages in the
// prompt it sends, and the paperclip opens the file dialog. Stopping a chat reply leaves a
// running summary alone, and cancelling a summary leaves a queued chat reply alone.
#include <QFileInfo>
#include <QGuiApplication>
#include <QMimeData>
#include <QPainter>
#include <QPdfWriter>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QtConcurrent>

#include "../qt_test_util.h"
#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/chat/prompt_builder.h"
#include "app/documents/document_controller.h"
#include "app/documents/engine_completion.h"
#include "app/history/history_store.h"
#include "app/settings/app_settings.h"
#include "gui/qml_warnings.h"
#include "gui/temp_paths.h"
#include "ui/app_parts.h"

using namespace ld;

namespace {

const QString kStories = QFileInfo(QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf")).absoluteFilePath();

QQuickItem* findItem(QQuickItem* root, const QString& name) {
    if (root->objectName() == name) return root;
    for (QQuickItem* child : root->childItems())
        if (QQuickItem* found = findItem(child, name)) return found;
    return nullptr;
}

// A PDF whose every page says where the red kite flew.
void writeStoryPdf(const QString& path, int pages) {
    QPdfWriter writer(path);
    QPainter painter(&writer);
    for (int p = 1; p <= pages; ++p) {
        if (p > 1) writer.newPage();
        for (int line = 0; line < 10; ++line)
            painter.drawText(QPointF(200, 300 + line * 250), QStringLiteral("Page %1: the red kite flew over the hill, line %2.").arg(p).arg(line));
    }
}

// stories260K loaded into parts with a 512-token context; false, with the test failed and why,
// when it is refused or not loaded within 30 s.
bool loadStories(ui::AppParts& parts) {
    parts.settings->setContextLength(512);
    QSignalSpy loaded(parts.engine.get(), &chat::EngineHost::modelLoaded);
    if (!parts.loadInitialModel(kStories)) {
        QTest::qFail("loadInitialModel refused stories260K", __FILE__, __LINE__);
        return false;
    }
    if (!loaded.count() && !loaded.wait(30000)) {
        QTest::qFail("stories260K did not load within 30 s", __FILE__, __LINE__);
        return false;
    }
    return true;
}

// The chat's rows, for failure messages.
QString describe(const QList<history::Message>& messages) {
    QString out;
    for (const history::Message& m : messages)
        out += QStringLiteral("\n[%1 %2 %3] %4 %5").arg(m.conversationId).arg(m.role).arg(history::statusName(m.status), m.content.left(80), m.error);
    return out;
}

}  // namespace

class TestDocumentsDrop : public QObject {
    Q_OBJECT
    std::optional<test::QmlWarnings> warnings_;  // the running test function's

private slots:
    // Every function ends without warnings, its window's teardown included.
    void init() { warnings_.emplace(); }
    void cleanup() {
        const QString seen = test::endWarnings(warnings_);
        QVERIFY2(seen.isEmpty(), qPrintable(seen));
    }

    void dropStartsSummary() {
        LD_QREQUIRE_FILE(kStories);
        QTemporaryDir dir;
        const QString pdf = dir.filePath(QStringLiteral("story.pdf"));
        writeStoryPdf(pdf, 4);
        const QString bad = dir.filePath(QStringLiteral("photo.png"));
        {
            QFile f(bad);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("\x89PNG\r\n");
        }

        ui::AppParts parts(test::tempPaths(dir));
        parts.settings->setContextLength(512);
        QSignalSpy loaded(parts.engine.get(), &chat::EngineHost::modelLoaded);
        QVERIFY(parts.loadInitialModel(kStories));
        QQmlApplicationEngine qml;
        QVERIFY(parts.loadQml(qml));
        auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
        QVERIFY(window);
        QVERIFY(QTest::qWaitForWindowExposed(window));
        QVERIFY(loaded.count() || loaded.wait(30000));

        auto* dropArea = findItem(window->contentItem(), QStringLiteral("documentDropArea"));
        auto* progress = findItem(window->contentItem(), QStringLiteral("summaryProgress"));
        QVERIFY(dropArea && progress);
        QVERIFY(!progress->isVisible());

        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(pdf), QUrl::fromLocalFile(bad)});
        const QPoint at(window->width() / 2, window->height() / 2);
        QDragEnterEvent enter(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(window, &enter);
        QDragMoveEvent move(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(window, &move);
        QTRY_VERIFY(dropArea->property("containsDrag").toBool());  // the overlay is shown

        documents::DocumentController* docs = parts.documents.get();
        QSignalSpy finished(docs, &documents::DocumentController::summaryFinished);
        QSignalSpy errors(docs, &documents::DocumentController::errorOccurred);
        QSignalSpy streamed(parts.chat.get(), &chat::ChatController::replyText);
        QDropEvent drop(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(window, &drop);
        QVERIFY(!dropArea->property("containsDrag").toBool());
        QTRY_VERIFY(docs->busy());
        QTRY_VERIFY(progress->isVisible());

        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 2, 120000);
        QVERIFY(!dropArea->property("fileDialogOpen").toBool());
        QCOMPARE(finished.at(0).at(0).toString(), QStringLiteral("story.pdf"));
        QVERIFY(finished.at(0).at(1).toBool());
        QCOMPARE(finished.at(1).at(0).toString(), QStringLiteral("photo.png"));
        QVERIFY(!finished.at(1).at(1).toBool());
        QCOMPARE(errors.count(), 1);
        QVERIFY2(errors.at(0).at(0).toString().startsWith(QStringLiteral("photo.png: ")), qPrintable(errors.at(0).at(0).toString()));
        QTRY_VERIFY(!docs->busy());
        QVERIFY(streamed.count() > 0);

        // The new conversation holds the request, the streamed summary with citations, and a
        // notice naming the file that could not be read and why.
        QTRY_COMPARE(parts.chat->messages().size(), 3);
        const QList<history::Message> msgs = parts.chat->messages();
        QVERIFY(msgs[0].content.contains(QStringLiteral("story.pdf")));
        QCOMPARE(msgs[1].role, QStringLiteral("assistant"));
        QVERIFY2(msgs[1].content.contains(QStringLiteral("[p")), qPrintable(msgs[1].content));
        QCOMPARE(msgs[2].role, QString::fromLatin1(chat::kNoticeRole));
        QCOMPARE(msgs[2].content, errors.at(0).at(0).toString());
        auto* list = findItem(window->contentItem(), QStringLiteral("messageList"));
        QVERIFY(list);
        QTRY_COMPARE(list->property("count").toInt(), 3);
        // The notice is stored: a restart shows it in the same place.
        auto branch = parts.store->activeBranch(parts.chat->conversationId());
        QVERIFY(QTest::qWaitFor([&] { return branch.isFinished(); }, 10000));
        QVERIFY2(branch.result().ok(), qPrintable(branch.result().error()));
        QCOMPARE(branch.result()->size(), 3);
        QCOMPARE(branch.result()->at(2).role, QString::fromLatin1(chat::kNoticeRole));
        QVERIFY(branch.result()->at(2).content.startsWith(QStringLiteral("photo.png: ")));

        // Stored as an attachment, and a follow-up question gets the passages it is about.
        auto atts = parts.store->attachments(parts.chat->conversationId());
        // Wait with the event loop running: the store starts work from the caller's next turn.
        QVERIFY(QTest::qWaitFor([&] { return atts.isFinished(); }, 10000));
        QVERIFY(atts.result().ok());
        QCOMPARE(atts.result()->size(), 1);
        QCOMPARE(atts.result()->front().fileName, QStringLiteral("story.pdf"));
        QVERIFY(atts.result()->front().extractedText.contains(QStringLiteral("[p. 3]")));
        QCOMPARE(atts.result()->front().summary, msgs[1].content);
        const documents::DocumentContext context = docs->contextFor(parts.chat->conversationId(), QStringLiteral("What did the kite fly over?"));
        QVERIFY2(context.passages.contains(QStringLiteral("red kite flew over the hill")), qPrintable(context.passages));
        QVERIFY2(context.overview.contains(QStringLiteral("Summary of story.pdf")), qPrintable(context.overview));

        // The follow-up really sends them: the request the engine gets has the passages (with
        // their page) in the question's own turn, ahead of the question, and the summary in the
        // system message (both stay the same every turn, so the prefix cache keeps them); the
        // notice is not part of the prompt. The stored and shown message is what the user typed.
        QSignalSpy requests(parts.engine.get(), &chat::EngineHost::requestGenerate);
        QSignalSpy replied(parts.chat.get(), &chat::ChatController::replyFinished);
        QTRY_VERIFY(!parts.chat->busy());
        QVERIFY(parts.chat->send(QStringLiteral("What did the kite fly over?")));
        QTRY_VERIFY_WITH_TIMEOUT(requests.count() >= 1, 20000);
        const auto request = requests.at(0).at(0).value<chat::GenerationRequest>();
        QVERIFY(!request.messages.isEmpty());
        const chat::PromptMessage& question = request.messages.back();
        QCOMPARE(question.role, QStringLiteral("user"));
        QCOMPARE(question.content, QStringLiteral("What did the kite fly over?"));
        QVERIFY2(question.context.contains(QStringLiteral("red kite flew over the hill")), qPrintable(question.context));
        QVERIFY2(question.context.contains(QStringLiteral("[p. ")), qPrintable(question.context));
        const QString sent = chat::promptText(question);
        QVERIFY2(sent.indexOf(QStringLiteral("red kite flew over the hill")) < sent.indexOf(question.content), qPrintable(sent));
        QVERIFY(sent.endsWith(question.content));
        QCOMPARE(request.messages.front().role, QStringLiteral("system"));
        QVERIFY(request.messages.front().content.contains(QStringLiteral("Summary of story.pdf:\n") + msgs[1].content.left(100)));
        for (const chat::PromptMessage& m : request.messages) {
            QVERIFY(m.role != QString::fromLatin1(chat::kNoticeRole));
            QVERIFY(!m.content.contains(QStringLiteral("photo.png: ")));
            QVERIFY2(!m.content.contains(QStringLiteral("red kite flew over the hill")), qPrintable(m.content));
            if (&m != &question) QVERIFY(m.context.isEmpty());
        }
        QTRY_VERIFY(parts.chat->messages().size() >= 4);
        QCOMPARE(parts.chat->messages().at(3).content, QStringLiteral("What did the kite fly over?"));
        QTRY_VERIFY_WITH_TIMEOUT(replied.count() == 1, 60000);
        // Passages that do not fit next to the question (context 512) are shortened, not refused.
        QVERIFY2(parts.chat->messages().back().status == history::MessageStatus::Complete, qPrintable(describe(parts.chat->messages())));

        // The paperclip next to the message box opens the file dialog (as Ctrl+O does).
        auto* attach = findItem(window->contentItem(), QStringLiteral("attachButton"));
        QVERIFY(attach);
        QVERIFY(attach->isVisible());
        const QPointF centre = attach->mapToScene(QPointF(attach->width() / 2, attach->height() / 2));
        QTest::mouseClick(window, Qt::LeftButton, Qt::NoModifier, centre.toPoint());
        QTRY_VERIFY(dropArea->property("fileDialogOpen").toBool());
    }

    // A bad file dropped on a new chat still gets its notice: the notice starts the chat.
    void badFileAloneStartsAChatWithItsNotice() {
        LD_QREQUIRE_FILE(kStories);
        QTemporaryDir dir;
        const QString empty = dir.filePath(QStringLiteral("empty.txt"));
        {
            QFile f(empty);
            QVERIFY(f.open(QIODevice::WriteOnly));
        }
        ui::AppParts parts(test::tempPaths(dir));
        QVERIFY(loadStories(parts));

        documents::DocumentController* docs = parts.documents.get();
        QSignalSpy finished(docs, &documents::DocumentController::summaryFinished);
        docs->addPaths({empty, dir.filePath(QStringLiteral("missing.pdf"))});
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 2, 20000);
        QTRY_VERIFY2(parts.chat->messages().size() == 2, qPrintable(describe(parts.chat->messages())));  // both in one new chat
        const QList<history::Message> msgs = parts.chat->messages();
        QCOMPARE(msgs[0].role, QString::fromLatin1(chat::kNoticeRole));
        QVERIFY2(msgs[0].content.startsWith(QStringLiteral("empty.txt: ")) && msgs[0].content.contains(QStringLiteral("empty")),
                 qPrintable(msgs[0].content));
        QVERIFY2(msgs[1].content.startsWith(QStringLiteral("missing.pdf: ")), qPrintable(msgs[1].content));
        QCOMPARE(msgs[1].conversationId, msgs[0].conversationId);
    }

    // The summary and the chat share the engine thread, each with its own stop: the chat's Stop
    // leaves a running summary alone, and a cancelled summary call leaves the chat reply queued
    // behind it alone.
    void summaryAndChatStopSeparately() {
        LD_QREQUIRE_FILE(kStories);
        QTemporaryDir dir;
        const QString pdf = dir.filePath(QStringLiteral("story.pdf"));
        writeStoryPdf(pdf, 8);
        ui::AppParts parts(test::tempPaths(dir));
        QVERIFY(loadStories(parts));
        chat::EngineHost* engine = parts.engine.get();

        // 1. Stop the chat reply while the summary runs: the summary completes.
        documents::DocumentController* docs = parts.documents.get();
        QSignalSpy finished(docs, &documents::DocumentController::summaryFinished);
        QSignalSpy replied(parts.chat.get(), &chat::ChatController::replyFinished);
        docs->addPaths({pdf});
        QTRY_VERIFY_WITH_TIMEOUT(docs->progress() >= 0 && engine->generating() && parts.chat->conversationId(), 30000);
        const int before = int(parts.chat->messages().size());
        QVERIFY(parts.chat->send(QStringLiteral("Tell me a story about a kite.")));
        QTRY_VERIFY_WITH_TIMEOUT(parts.chat->messages().size() == before + 2, 20000);  // its reply row: the request is queued
        QVERIFY2(finished.isEmpty(), "the summary must still be running for this check");
        parts.chat->stop();
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
        QVERIFY2(finished.at(0).at(1).toBool(), "the chat's Stop cancelled the summary");
        QTRY_VERIFY_WITH_TIMEOUT(replied.count() == 1, 20000);
        QVERIFY2(parts.chat->messages().back().status == history::MessageStatus::Interrupted, qPrintable(describe(parts.chat->messages())));

        // 2. Cancel a summary call while a chat request waits behind it: the chat reply runs.
        QTRY_VERIFY(!engine->generating());
        documents::EngineCompletion completion(engine, engine->modelInfo().tokenizer, engine->contextSize());
        std::atomic<bool> cancel{false};
        chat::GenerationRequest chatRequest;
        chatRequest.messages = {{QStringLiteral("user"), QStringLiteral("Once upon a time")}};
        chatRequest.sampling.maxTokens = 32;
        chatRequest.sampling.seed = 7;
        quint64 chatId = 0;
        QSignalSpy outcomes(engine, &chat::EngineHost::finished);
        // On the summary's first text, queue the chat request behind it, then cancel the summary.
        auto once = connect(engine, &chat::EngineHost::text, this, [&](quint64, const QString&) {
            if (chatId) return;
            chatId = engine->generate(chatRequest);
            cancel.store(true);
        });
        QFuture<documents::CompletionResult> summaryCall = QtConcurrent::run([&] {
            return completion.complete({QString(), QStringLiteral("Summarize: the red kite flew over the hill."), 400}, {}, &cancel);
        });
        QVERIFY(QTest::qWaitFor([&] { return summaryCall.isFinished(); }, 30000));
        QVERIFY(summaryCall.result().cancelled);
        QVERIFY(chatId);
        QTRY_VERIFY_WITH_TIMEOUT(std::any_of(outcomes.begin(), outcomes.end(), [&](const QList<QVariant>& args) {
            return args.at(0).value<chat::GenerationOutcome>().id == chatId;
        }), 30000);
        disconnect(once);
        for (const QList<QVariant>& args : std::as_const(outcomes)) {
            const auto out = args.at(0).value<chat::GenerationOutcome>();
            if (out.id != chatId) continue;
            QVERIFY2(!out.cancelled, "cancelling the summary cancelled the chat reply");
            QVERIFY(out.genTokens > 0);
        }
    }

    // The document's text is stored when it has been read, not when its summary is done: a
    // cancelled summary still leaves it (without a summary) for follow-up questions.
    void cancelledSummaryKeepsTheDocument() {
        LD_QREQUIRE_FILE(kStories);
        QTemporaryDir dir;
        const QString pdf = dir.filePath(QStringLiteral("story.pdf"));
        writeStoryPdf(pdf, 8);

        ui::AppParts parts(test::tempPaths(dir));
        QVERIFY(loadStories(parts));

        documents::DocumentController* docs = parts.documents.get();
        QSignalSpy finished(docs, &documents::DocumentController::summaryFinished);
        // Cancel the moment the summary starts (progress leaves "reading", -1), before any of it
        // can complete.
        connect(docs, &documents::DocumentController::progressChanged, docs, [docs] {
            if (docs->busy() && docs->progress() >= 0) docs->cancel();
        });
        docs->addPaths({pdf});
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
        QCOMPARE(finished.at(0).at(0).toString(), QStringLiteral("story.pdf"));
        QVERIFY(!finished.at(0).at(1).toBool());
        QTRY_VERIFY(!docs->busy());

        const qint64 conversation = parts.chat->conversationId();
        QVERIFY(conversation);
        auto atts = parts.store->attachments(conversation);
        QVERIFY(QTest::qWaitFor([&] { return atts.isFinished(); }, 10000));
        QVERIFY2(atts.result().ok(), qPrintable(atts.result().error()));
        QCOMPARE(atts.result()->size(), 1);
        QCOMPARE(atts.result()->front().fileName, QStringLiteral("story.pdf"));
        QVERIFY(atts.result()->front().extractedText.contains(QStringLiteral("[p. 7]")));
        QVERIFY(atts.result()->front().summary.isEmpty());
        // Retrieval works without a summary.
        QTRY_VERIFY_WITH_TIMEOUT(docs->contextFor(conversation, QStringLiteral("What did the kite fly over?"))
                                     .passages.contains(QStringLiteral("red kite flew over the hill")), 20000);
        QVERIFY(!docs->contextFor(conversation, QStringLiteral("kite")).overview.contains(QStringLiteral("Summary of")));
    }
};

QTEST_MAIN(TestDocumentsDrop)
#include "test_documents_drop.moc"
