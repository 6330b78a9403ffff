// Dropping files on the real window: the drop overlay shows while dragging, the drop starts a
// summary that streams into the chat as an assistant reply (stories260K), the document and its
// summary are stored as an attachment, a bad file among the dropped ones is reported by name,
// and a follow-up question gets the document's passages in its prompt context.
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

#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/documents/document_controller.h"
#include "app/history/history_store.h"
#include "app/settings/app_settings.h"
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

}  // namespace

class TestDocumentsDrop : public QObject {
    Q_OBJECT
private slots:
    void dropStartsSummary() {
        if (!QFileInfo::exists(kStories)) QSKIP("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        QTemporaryDir dir;
        const QString pdf = dir.filePath(QStringLiteral("story.pdf"));
        writeStoryPdf(pdf, 4);
        const QString bad = dir.filePath(QStringLiteral("photo.png"));
        {
            QFile f(bad);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("\x89PNG\r\n");
        }

        ui::AppPaths paths;
        paths.database = dir.filePath(QStringLiteral("history.db"));
        paths.settingsIni = dir.filePath(QStringLiteral("settings.ini"));
        paths.modelsFolder = dir.filePath(QStringLiteral("models"));
        ui::AppParts parts(paths);
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
        QCOMPARE(finished.at(0).at(0).toString(), QStringLiteral("story.pdf"));
        QVERIFY(finished.at(0).at(1).toBool());
        QCOMPARE(finished.at(1).at(0).toString(), QStringLiteral("photo.png"));
        QVERIFY(!finished.at(1).at(1).toBool());
        QCOMPARE(errors.count(), 1);
        QVERIFY2(errors.at(0).at(0).toString().startsWith(QStringLiteral("photo.png: ")), qPrintable(errors.at(0).at(0).toString()));
        QTRY_VERIFY(!docs->busy());
        QVERIFY(streamed.count() > 0);

        // The new conversation holds the request and the streamed summary, with citations.
        QTRY_COMPARE(parts.chat->messages().size(), 2);
        const auto& msgs = parts.chat->messages();
        QVERIFY(msgs[0].content.contains(QStringLiteral("story.pdf")));
        QCOMPARE(msgs[1].role, QStringLiteral("assistant"));
        QVERIFY2(msgs[1].content.contains(QStringLiteral("[p")), qPrintable(msgs[1].content));
        auto* list = findItem(window->contentItem(), QStringLiteral("messageList"));
        QVERIFY(list);
        QTRY_COMPARE(list->property("count").toInt(), 2);

        // Stored as an attachment, and a follow-up question gets the passages it is about.
        auto atts = parts.store->attachments(parts.chat->conversationId());
        // Wait with the event loop running: the store starts work from the caller's next turn.
        QVERIFY(QTest::qWaitFor([&] { return atts.isFinished(); }, 10000));
        QVERIFY(atts.result().ok());
        QCOMPARE(atts.result()->size(), 1);
        QCOMPARE(atts.result()->front().fileName, QStringLiteral("story.pdf"));
        QVERIFY(atts.result()->front().extractedText.contains(QStringLiteral("[p. 3]")));
        QCOMPARE(atts.result()->front().summary, msgs[1].content);
        const QString context = docs->contextFor(parts.chat->conversationId(), QStringLiteral("What did the kite fly over?"));
        QVERIFY2(context.contains(QStringLiteral("red kite flew over the hill")), qPrintable(context));
    }

    // The document's text is stored when it has been read, not when its summary is done: a
    // cancelled summary still leaves it (without a summary) for follow-up questions.
    void cancelledSummaryKeepsTheDocument() {
        if (!QFileInfo::exists(kStories)) QSKIP("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        QTemporaryDir dir;
        const QString pdf = dir.filePath(QStringLiteral("story.pdf"));
        writeStoryPdf(pdf, 8);

        ui::AppPaths paths;
        paths.database = dir.filePath(QStringLiteral("history.db"));
        paths.settingsIni = dir.filePath(QStringLiteral("settings.ini"));
        paths.modelsFolder = dir.filePath(QStringLiteral("models"));
        ui::AppParts parts(paths);
        parts.settings->setContextLength(512);
        QSignalSpy loaded(parts.engine.get(), &chat::EngineHost::modelLoaded);
        QVERIFY(parts.loadInitialModel(kStories));
        QVERIFY(loaded.count() || loaded.wait(30000));

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
                                     .contains(QStringLiteral("red kite flew over the hill")), 20000);
        QVERIFY(!docs->contextFor(conversation, QStringLiteral("kite")).contains(QStringLiteral("Summary of")));
    }
};

QTEST_MAIN(TestDocumentsDrop)
#include "test_documents_drop.moc"
