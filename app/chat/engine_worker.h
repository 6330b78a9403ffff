#pragma once
// The engine's side of the app: owns the model, tokenizer, backend and session, and lives on
// its own thread (EngineHost moves it there). Requests arrive as queued slot calls; text and
// results leave as signals carrying values, so nothing here is shared with the UI thread
// except the stop flags.
//
// Two ways to run requests, chosen by the loaded backend:
// - A backend with sequences (Backend::supports_sequences(), a paged KV cache) runs every
//   request through one BatchScheduler: generate() only submits, and a zero-timer runs one
//   scheduler step per turn of this thread's event loop, so new requests, stops and loads are
//   taken between steps. Requests stream at once (a title beside the reply, a summary's map
//   steps N at a time), in the scheduler's priority order; a stop ends only its request.
// - Otherwise one request at a time on a Session, as queued.
// Model loads and unloads wait until the running requests have finished (as they did behind a
// running generate()), and requests queued after a load run on the new model.
//
// "Speed up replies" (EngineConfig::speculation, setSpeculation()): a drafter built with the
// model (prompt lookup, or a draft model on its own backend), handed to the requests that ask
// for it (GenerationRequest::speculate). A draft model that cannot be used is reported
// (speculationFailed) and replies go on without it. Changing it waits for running requests,
// as a load does, since they hold the drafter.
#include <QObject>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "app/chat/chat_types.h"

namespace ld {
struct Model;
class Tokenizer;
class Backend;
class Session;
class BatchScheduler;
class Drafter;
struct BackendOptions;
struct GenerateOptions;
}  // namespace ld

class QTimer;

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
    // Builds the drafter the setting asks for (now for the loaded model, or with the next load).
    void setSpeculation(const ld::chat::SpeculationConfig& config);

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
    // What speeds replies up now: "prompt lookup", "draft model NAME (BACKEND)", or empty.
    void speculationChanged(const QString& description);
    // The draft model cannot be used (another vocabulary, no such file, not enough memory):
    // one readable sentence; replies go on without speculation.
    void speculationFailed(const QString& error);

private:
    // A request ready to run: its prompt and the engine's options for it.
    struct Prepared;
    // A request in the batch scheduler, for its signals and its prompt progress.
    struct Live;
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
    Prepared prepare(const GenerationRequest& request) const;  // throws ld::Error
    void generateAlone(const GenerationRequest& request);       // the Session path
    void submitBatched(const GenerationRequest& request);       // the scheduler path
    void pumpStep();              // one scheduler step (the zero-timer's slot)
    void sizePromptBudget(int64_t tokens, double ms);  // keeps steps near 50 ms (engine_worker.cpp)
    void reportPromptProgress(const std::vector<std::shared_ptr<Live>>& reading, int64_t tokensRun, int64_t reused,
                              int decodingBefore);
    bool busy() const;            // the scheduler holds requests
    void runDeferred();           // what waited for the scheduler to be idle, in order
    void doLoad(const EngineConfig& config);
    void doUnload();
    void doSpeculation(const SpeculationConfig& config);
    void buildDrafter();     // for the loaded model and speculation_ (reports failures)
    void releaseDrafter();
    // The backend options of `config` for `model` (the main model's; the draft's start from them).
    BackendOptions backendOptions(const EngineConfig& config, const Model& model) const;
    // Builds the backend with room for several sequences when it has them; sets slots_.
    std::unique_ptr<Backend> createBackend(const EngineConfig& config, const Model& model, BackendOptions o);

    std::atomic<bool>* shutdown_;
    int batch_ = 256;       // the backend's n_batch: the largest chunk worth running at once
    std::unique_ptr<Model> model_;
    std::shared_ptr<const Tokenizer> tokenizer_;  // also in info_, for token counts off this thread
    std::unique_ptr<Backend> backend_;
    std::unique_ptr<Session> session_;              // one request at a time (no sequences)
    std::unique_ptr<BatchScheduler> scheduler_;     // or many (declared after backend_: goes first)
    QTimer* pump_ = nullptr;
    std::map<uint64_t, std::shared_ptr<Live>> live_;  // by scheduler id
    // Calls that arrived while a load waits for the running requests (run in arrival order).
    std::deque<std::function<void()>> deferred_;
    bool loadWaiting_ = false;
    int slots_ = 1;          // contexts the KV cache holds
    ModelInfo info_;
    std::optional<EngineConfig> current_;  // what the loaded model was built from
    // Speculation: what the setting asks for, and the drafter built for the loaded model (its
    // draft model and backend, if any; the drafter goes first, then its backend, then its model).
    SpeculationConfig speculation_;
    std::unique_ptr<Model> draftModel_;
    std::unique_ptr<Backend> draftBackend_;
    std::unique_ptr<Drafter> drafter_;
};

}  // namespace ld::chat
