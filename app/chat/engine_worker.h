#pragma once
// The engine's side of the app: owns the model, tokenizer, backend and session, and lives on
// its own thread (EngineHost moves it there). Requests arrive as queued slot calls; text and
// results leave as signals carrying values, so nothing here is shared with the UI thread
// except the cancel flag.
#include <QObject>
#include <atomic>
#include <memory>

#include "app/chat/chat_types.h"

namespace ld {
struct Model;
class Tokenizer;
class Backend;
class Session;
}  // namespace ld

namespace ld::chat {

class EngineWorker : public QObject {
    Q_OBJECT
public:
    // `cancel` belongs to the host; setting it stops the running generation before its next token.
    explicit EngineWorker(std::atomic<bool>* cancel, QObject* parent = nullptr);
    ~EngineWorker() override;

public slots:
    // Loads into fresh objects and swaps them in only on success: a failed load keeps the
    // previous model usable.
    void loadModel(const ld::chat::EngineConfig& config);
    void generate(const ld::chat::GenerationRequest& request);
    void unloadModel();

signals:
    void loadProgress(double fraction);
    void modelLoaded(const ld::chat::ModelInfo& info);
    void modelLoadFailed(const QString& path, const QString& error);
    void text(quint64 requestId, const QString& piece);
    // Emitted once per request, after its last text().
    void finished(const ld::chat::GenerationOutcome& outcome);
    void failed(quint64 requestId, const QString& error);

private:
    std::atomic<bool>* cancel_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<Tokenizer> tokenizer_;
    std::unique_ptr<Backend> backend_;
    std::unique_ptr<Session> session_;
    ModelInfo info_;
};

}  // namespace ld::chat
