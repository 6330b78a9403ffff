#pragma once
// The app's built-in API server runs its jobs on the model the app has loaded: each job becomes
// a GenerationRequest to the EngineHost, queued behind (and before) the GUI's own requests on the
// one engine thread. HTTP threads call submit()/cancel() and never touch the EngineHost: those
// calls are posted to the UI thread, which never waits for an HTTP thread.
#include <QHash>
#include <QObject>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app/chat/chat_types.h"
#include "app/cli/server/generation_service.h"

namespace ld::chat {
class EngineHost;
}

namespace ld::server {

class EngineHostService final : public QObject, public GenerationService {
    Q_OBJECT
public:
    // capacity: requests admitted at once, running and waiting (more get 503).
    EngineHostService(chat::EngineHost* engine, size_t capacity, QObject* parent = nullptr);
    ~EngineHostService() override;

    ServedModel model() const override;
    // The app's engine takes chat turns only (GenerationRequest).
    // Completions and tools run on prompts the HTTP layer renders (GenerationRequest::promptTokens);
    // the app's engine reports no per-token logits and takes no penalties.
    ServiceFeatures features() const override { return {true, true, false, false}; }
    bool submit(const std::shared_ptr<GenJob>& job) override;
    void cancel(const std::shared_ptr<GenJob>& job) override;

    // UI thread. Ends every job (queued ones at once, running ones are stopped) and refuses new
    // ones until resume(): a server being switched off has nothing left to wait for.
    void shutdown();
    void resume();

    // The model id the API uses for `info`: its file name without ".gguf", as `serve` names it.
    static std::string modelId(const chat::ModelInfo& info);

private:
    struct Run;
    void startWaiting();                        // UI thread
    void updateModel(const chat::ModelInfo& info);
    void onText(quint64 id, const QString& piece);
    void onFinished(const chat::GenerationOutcome& outcome);
    void onFailed(quint64 id, const QString& error);
    void release();  // a job handed to the engine has ended

    chat::EngineHost* engine_;
    const size_t capacity_;
    mutable std::mutex mu_;  // guards the fields below
    ServedModel served_;
    std::deque<std::shared_ptr<GenJob>> waiting_;  // submitted, not handed to the engine yet
    size_t admitted_ = 0;                          // waiting, or running in the engine
    bool stopped_ = false;
    // UI thread only: the jobs handed to the engine, by request id.
    QHash<quint64, std::shared_ptr<Run>> runs_;
};

}  // namespace ld::server
