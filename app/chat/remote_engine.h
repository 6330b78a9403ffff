#pragma once
// The engine's stand-in for a model on a remote OpenAI-compatible server (vLLM, SGLang,
// llama.cpp's server, Ollama, LlamaDesk's own): EngineHost hands it the loads and requests of a
// remote model and relays its signals exactly as the EngineWorker's, so the chat, titles and
// everything else work unchanged. Requests run one at a time, in order, on its own thread —
// never the UI thread, and not the local engine's thread either: an HTTP exchange runs a local
// event loop, which on the engine thread would start the next queued request inside this one.
// A request is sent as chat messages (a remote model has no local tokenizer or template),
// trimmed to the server's context by its /tokenize where it has one, else by a conservative
// estimate. Errors end the request in words; a stream cut half-way keeps its text and ends
// "interrupted".
#include <QObject>
#include <QThread>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "app/chat/chat_types.h"

namespace ld::remote {
class RemoteCompletion;
}

namespace ld::chat {

class RemoteEngine : public QObject {
    Q_OBJECT
public:
    explicit RemoteEngine(QObject* parent = nullptr);
    ~RemoteEngine() override;  // drops what is queued, cancels what runs, joins the thread

    // Queues a check of config's model (listed by the engine, its context, whether the server
    // counts tokens): modelLoaded or modelLoadFailed follows.
    void load(const EngineConfig& config);
    // Queues a request for `model` (a remote ModelInfo from modelLoaded).
    void generate(const GenerationRequest& request, const ModelInfo& model);

signals:
    void modelLoaded(const ld::chat::ModelInfo& info);
    void modelLoadFailed(const QString& path, const QString& error);
    void text(quint64 requestId, const QString& piece);
    void finished(const ld::chat::GenerationOutcome& outcome);
    void failed(quint64 requestId, const QString& error);

private:
    struct Job {
        std::optional<EngineConfig> load;
        GenerationRequest request;
        ModelInfo model;
    };
    void enqueue(Job job);
    void run();
    void runLoad(const EngineConfig& config);
    void runGenerate(const GenerationRequest& request, const ModelInfo& model);
    // The opened model for `info` (opened again when another one was used last).
    remote::RemoteCompletion* modelFor(const ModelInfo& info, QString* error);

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> jobs_;
    std::atomic<bool> quit_{false};
    std::shared_ptr<std::atomic<bool>> running_;  // the running request's stop flag
    std::unique_ptr<QThread> thread_;
    // Used on the thread only: the model last opened, and which it is.
    std::unique_ptr<remote::RemoteCompletion> opened_;
    QString openedKey_;
    QString openedUrl_;
};

// The conversation cut to fit `budget` tokens by the same rules as the local prompt builder
// (chat/prompt_builder.h): the oldest whole exchanges go first; the newest turn always stays,
// and the system message too unless even the two alone do not fit, when the newest turn's
// passages are shortened first (PromptMessage::context), then the system message from its end.
// `count` gives a message's tokens (its promptText plus the template's markers).
struct FittedMessages : PromptFit {  // what was left out
    QList<PromptMessage> messages;   // empty: even the newest turn alone does not fit
    int tokens = 0;
};
FittedMessages fitMessages(const QList<PromptMessage>& messages, const std::function<int(const PromptMessage&)>& count,
                           int budget);

}  // namespace ld::chat
