#pragma once
// The engine's side of the app: owns the model, tokenizer, backend and session, and lives on
// its own thread (EngineHost moves it there). Requests arrive as queued slot calls; text and
// results leave as signals carrying values, so nothing here is shared with the UI thread
// except the stop flags.
#include <QObject>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

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
    // `shutdown` belongs to the host and stops whatever runs; a request's own flag
    // (GenerationRequest::cancel) stops only it. Either lands before the next token, or
    // between prompt chunks while the prompt is being read.
    explicit EngineWorker(std::atomic<bool>* shutdown, QObject* parent = nullptr);
    ~EngineWorker() override;

public slots:
    // Checks the new file while the current model runs, then frees the current model and builds
    // the new one (two large models rarely fit side by side). If building fails, the previous
    // model is loaded again, so a failed switch leaves the app as it was.
    void loadModel(const ld::chat::EngineConfig& config);
    void generate(const ld::chat::GenerationRequest& request);
    void unloadModel();

signals:
    void loadProgress(double fraction);
    void modelLoaded(const ld::chat::ModelInfo& info);
    void modelLoadFailed(const QString& path, const QString& error);
    // A failed switch could not bring the previous model back either: none is loaded now.
    void modelUnloaded();
    // While a long prompt is evaluated: prompt tokens in the cache so far, of `total`.
    void promptProgress(quint64 requestId, int done, int total);
    void text(quint64 requestId, const QString& piece);
    // Emitted once per request, after its last text().
    void finished(const ld::chat::GenerationOutcome& outcome);
    void failed(quint64 requestId, const QString& error);

private:
    struct PromptRun {
        int evaluated = 0;   // tokens run before generate() takes over
        double ms = 0;
        bool cancelled = false;
    };
    // Runs all but the last prompt token in chunks sized to take ~50 ms each, checking the
    // cancel flag between chunks: a stop lands quickly even while a long prompt is read.
    // Builds the backend and session for a checked model and makes them current (throws on failure).
    void install(const EngineConfig& config, std::unique_ptr<Model> model, std::unique_ptr<Tokenizer> tokenizer,
                 bool reportProgress);
    PromptRun evaluatePrompt(quint64 requestId, const std::vector<int32_t>& prompt, const std::atomic<bool>* cancel);

    std::atomic<bool>* shutdown_;
    int batch_ = 256;       // the backend's n_batch: the largest chunk worth running at once
    std::unique_ptr<Model> model_;
    std::shared_ptr<const Tokenizer> tokenizer_;  // also in info_, for token counts off this thread
    std::unique_ptr<Backend> backend_;
    std::unique_ptr<Session> session_;
    ModelInfo info_;
    std::optional<EngineConfig> current_;  // what the loaded model was built from
};

}  // namespace ld::chat
