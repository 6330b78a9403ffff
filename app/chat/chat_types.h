#pragma once
// Values that travel between the UI thread and the engine thread (queued signals copy them).
#include <QList>
#include <QMetaType>
#include <QString>
#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "app/history/history_types.h"
#include "app/remote/endpoint.h"

namespace ld {
class Tokenizer;
}

namespace ld::chat {

// "Speed up replies" (speculative decoding, inference/session/speculative.h): what drafts tokens
// for the local engine's chat replies, which the model then checks several at a time. Greedy
// replies are the same with or without it; only their speed changes.
struct SpeculationConfig {
    QString mode = QStringLiteral("off");  // "off" | "lookup" (prompt lookup) | "draft" (a draft model)
    QString draftModelPath;                // the draft model's file (mode "draft")
    bool operator==(const SpeculationConfig&) const = default;
};

// What the user chose in the settings panel (or on the command line) for loading a model.
struct EngineConfig {
    QString modelPath;
    QString backend = QStringLiteral("auto");  // "auto" | "cpu" | "vulkan" | "cuda"
    int threads = 0;                           // 0 = one per core
    int contextLength = 4096;                  // clamped to the model's trained context
    QString device;                            // GPU index or name substring; empty = best
    int batchSize = 0;                         // prompt tokens per forward call; 0 = the backend's
    // Full contexts the paged KV cache holds for requests that run at once (a backend with
    // sequences); 0 = chosen from the backend and free memory (EngineWorker), 1 = one context.
    int parallelSequences = 0;
    SpeculationConfig speculation;             // built with the model (EngineWorker)
    // A model on a remote engine (Settings → Engines) instead of a local file: no weights are
    // loaded here; the engine's endpoint (with its key, read on the UI thread) is where
    // requests go. modelPath is then remoteModelKey(engine id, model id).
    QString remoteEngineId;
    QString remoteEngineName;                  // shown as "engine / model"
    QString remoteModel;                       // an id from the engine's /v1/models
    remote::RemoteEndpoint remoteEndpoint;
    bool isRemote() const { return !remoteEngineId.isEmpty(); }
};

// The model picker's and the settings' name for a remote model: "remote:<engine id>/<model
// id>" (engine ids are UUIDs, model ids may hold slashes). Never a file path: those are absolute.
inline QString remoteModelKey(const QString& engineId, const QString& model) {
    return QStringLiteral("remote:") + engineId + QLatin1Char('/') + model;
}
inline bool isRemoteModelKey(const QString& path) { return path.startsWith(QLatin1String("remote:")); }
// Splits a remote key; false when `key` is not one.
inline bool parseRemoteModelKey(const QString& key, QString* engineId, QString* model) {
    if (!isRemoteModelKey(key)) return false;
    const QString rest = key.mid(7);
    const qsizetype slash = rest.indexOf(QLatin1Char('/'));
    if (slash <= 0 || slash + 1 >= rest.size()) return false;
    *engineId = rest.left(slash);
    *model = rest.mid(slash + 1);
    return true;
}

struct SamplingConfig {
    double temperature = 0.8;
    int topK = 40;
    double topP = 0.95;
    double minP = 0.05;
    double repeatPenalty = 1.0;
    int maxTokens = 1024;
    quint64 seed = 0;                          // 0 = a fresh random seed per reply
};

// History rows about the chat itself (history::kNoticeRole): stored and shown, never sent to the model.
inline constexpr const char* kNoticeRole = history::kNoticeRole;

struct PromptMessage {
    PromptMessage() = default;
    // {role, content} as before the context was added; built by brace lists all over.
    PromptMessage(QString role, QString content, QString context = {})
        : role(std::move(role)), content(std::move(content)), context(std::move(context)) {}
    QString role;      // "system" | "user" | "assistant"
    QString content;
    // The passages of the conversation's documents that this turn's question is about (only
    // the newest user turn has them, ChatController::buildRequest): sent in the same message,
    // ahead of `content` (chat::promptText), and shortened from its end, least relevant first,
    // when the prompt does not fit; `content`, the user's own words, never is.
    QString context;
};

// Which request a local engine that runs several sequences at once serves first (the batch
// scheduler's priorities, inference/session/batch_scheduler.h): the chat the user waits for,
// then API requests in arrival order, then background work (a document summary's calls).
// Engines that run one request at a time take them in arrival order whatever they say.
enum class GenerationPriority { Interactive = 0, Api = 1, Background = 2 };

struct GenerationRequest {
    quint64 id = 0;                            // echoed in every signal about this request
    QList<PromptMessage> messages;             // system prompt first (if any), then the turns
    // Continue an interrupted reply: the model picks up after this text (the last message is
    // the user turn the reply answers).
    QString replyPrefix;
    SamplingConfig sampling;
    // This request's own stop flag (EngineHost::generate makes it, stop(id) sets it): a
    // document summary and a chat reply share the engine thread, and stopping one must not
    // stop the other.
    std::shared_ptr<std::atomic<bool>> cancel;
    // A prompt already rendered to tokens (a chat with tools, inference/chat/tool_format.h): used
    // as it is instead of `messages` (never shortened: one too long for the context fails).
    // Local models only.
    std::vector<int32_t> promptTokens;
    // The reply continues raw text (the API's /v1/completions): streamed exactly, its leading
    // whitespace kept ("The cat" goes on with " and"). Chat replies drop it.
    bool rawText = false;
    GenerationPriority priority = GenerationPriority::Interactive;
    // A reply the user waits for (a chat's): it may use the engine's drafter when "Speed up
    // replies" is on. Titles and document summaries leave it off; the app's API server sets it,
    // and EngineWorker lets API requests draft only by prompt lookup.
    bool speculate = false;
};

// What a loaded model is, for the status line and the model list.
struct ModelInfo {
    QString path;
    QString name;
    qint64 parameters = 0;
    QString quantType;      // most common matrix type, e.g. "Q4_K"
    qint64 sizeBytes = 0;
    int contextLength = 0;  // trained context
    QString chatTemplate;   // "llama3" | "llama2" | "chatml"
    QString backend;        // backend description once loaded
    int contextSize = 0;    // KV positions one request may use
    // Requests of a full context each that the local engine runs at once (its paged KV cache
    // holds this many contexts; EngineWorker chooses it from the backend and free memory). 1 for
    // an engine that runs one request at a time and for a remote model (its server decides).
    int parallelSequences = 1;
    // Set for a remote model (path is then its remoteModelKey, name "engine / model"): no
    // tokenizer, chat goes to the endpoint as messages.
    QString remoteEngineId;
    QString remoteEngineName;
    QString remoteModel;
    remote::RemoteEndpoint remoteEndpoint;
    bool isRemote() const { return !remoteEngineId.isEmpty(); }
    // The loaded model's tokenizer (null when none is loaded): its methods are const and
    // thread-safe, so a summary counts tokens with it on a worker thread; shared, so it stays
    // valid while the engine switches models.
    std::shared_ptr<const ld::Tokenizer> tokenizer;
};

// What fitting a prompt into the context window left out, for the chat's notice
// (prompt_builder.h: buildPrompt, fitToolPrompt, fittedNotice).
struct PromptFit {
    int droppedMessages = 0;         // oldest messages left out (system messages not counted)
    int shortenedResults = 0;        // this turn's tool results cut to fit
    bool passagesShortened = false;  // this turn's documents' passages cut from their end
    bool systemShortened = false;    // the system message cut from its end
    bool any() const { return droppedMessages > 0 || shortenedResults > 0 || passagesShortened || systemShortened; }
};

struct GenerationOutcome {
    quint64 id = 0;
    QString text;           // everything generated by this request (without replyPrefix)
    // "end", "max_tokens", "stop_string", "cancelled", "context_full", or "interrupted": a remote
    // stream stopped half-way (connection lost, server gone); cancelled is then also set, so the
    // reply is kept and marked interrupted (continuable), and error says why.
    QString stopReason;
    bool cancelled = false;
    QString error;          // why an "interrupted" reply stopped (empty otherwise)
    int promptTokens = 0;
    // Prompt tokens a local engine took from its cache instead of running them (the chat's
    // earlier turns, kept from its last reply); 0 for a remote model (its server does not say).
    int promptReused = 0;
    int genTokens = 0;
    double promptTps = 0;
    double genTps = 0;
    double ttftMs = 0;
    PromptFit fit;  // what was left out of the prompt to fit the context window
    // Speculative decoding ("Speed up replies"): tokens drafted, and of them the ones the model
    // accepted (both 0 when the reply was not sped up).
    int drafted = 0;
    int accepted = 0;
    bool speculated = false;  // a drafter served this request (drafted may still be 0: nothing to propose)
};

// A choice for the settings panel's device list.
struct DeviceChoice {
    QString value;          // what EngineConfig::device gets ("" = best available)
    QString text;           // "0: NVIDIA H100 (discrete, 80.0 GiB)"
    bool usable = true;
};

}  // namespace ld::chat

Q_DECLARE_METATYPE(ld::chat::SpeculationConfig)
Q_DECLARE_METATYPE(ld::chat::EngineConfig)
Q_DECLARE_METATYPE(ld::chat::GenerationRequest)
Q_DECLARE_METATYPE(ld::chat::ModelInfo)
Q_DECLARE_METATYPE(ld::chat::GenerationOutcome)
