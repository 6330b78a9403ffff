#pragma once
// Summaries of documents of any length. A document that fits the context is summarized in one
// pass; a longer one by map-reduce: every chunk is summarized on its own (its pages or
// sections noted), then the partial summaries are combined, in groups and recursively while
// they still do not fit, into one final summary that cites "[p. 4]"-style places. Synchronous:
// run it on a worker thread (DocumentController does) or in the CLI.
#include <QList>
#include <QString>
#include <atomic>
#include <functional>

#include "app/documents/completion.h"
#include "app/documents/document_types.h"

namespace ld::documents {

struct SummaryOptions {
    int maxSummaryTokens = 512;   // the final summary's length limit
    int partialTokens = 0;        // per-chunk summary limit; 0 = from the context size
    // Map calls sent at once. Above 1 the Completion must be thread-safe: RemoteCompletion (a
    // remote server batches the requests), EngineCompletion (the app's engine batches them when
    // its backend runs sequences) and a BatchCompletion (the CLI's scheduler) are; a
    // SessionCompletion generates one at a time, so 1.
    int mapConcurrency = 1;
};

struct SummaryProgress {
    int done = 0;                 // model calls finished
    int total = 0;                // calls expected (grows only if the estimate was low)
    double elapsedSeconds = 0;
    double secondsLeft = -1;      // -1 until one call has been timed
    QString stage;                // "Reading part 3 of 12", "Combining notes", "Writing the summary"
};

struct SummaryResult {
    QString summary;              // what was streamed, complete
    bool cancelled = false;
    QString error;                // non-empty on failure (text names the reason)
    int documentTokens = 0;
    int chunks = 0;               // 1 for a single pass
    int calls = 0;                // model calls made
    int levels = 0;               // reduce levels above the map step (0 for a single pass)
    qint64 promptTokens = 0;      // all calls together, as the completion reported them
    qint64 generatedTokens = 0;
    double seconds = 0;
    bool ok() const { return error.isEmpty() && !cancelled; }
};

struct SummaryCallbacks {
    std::function<void(const SummaryProgress&)> progress;
    std::function<void(const QString&)> text;   // the final summary as it is written
};

class Summarizer {
public:
    explicit Summarizer(Completion& completion, SummaryOptions options = {});
    SummaryResult summarize(const Document& doc, const SummaryCallbacks& callbacks, const std::atomic<bool>* cancel);

    // A partial summary with the place it covers; what reduce passes combine.
    struct Note {
        Span span;
        QString text;
    };

private:
    struct Budget {
        int overhead = 0;         // system prompt + instructions + template markers
        int partial = 0;          // tokens of one partial summary
        int final = 0;            // tokens of the final summary
        int mapInput = 0;         // document tokens per map call
        int reduceInput = 0;      // note tokens per reduce call
        int finalInput = 0;       // note (or document) tokens for the final call
    };
    Budget budget(const QString& fileName) const;
    int estimateReduceCalls(int notes, const Budget& b) const;
    QString noteBlock(const QList<Note>& notes) const;
    bool step(const QString& stage);
    // The map step with options_.mapConcurrency calls in flight; results in chunk order.
    // False when the user cancelled.
    bool mapConcurrently(const QList<QString>& prompts, int partialTokens, QList<CompletionResult>* results);
    void finishStep(bool last = false);

    Completion& completion_;
    SummaryOptions options_;
    // The current run's state, for progress reports.
    const SummaryCallbacks* callbacks_ = nullptr;
    const std::atomic<bool>* cancel_ = nullptr;
    qint64 startMs_ = 0;
    double callSeconds_ = 0;
    int done_ = 0, total_ = 0;
    QString lastStage_;
};

// Document text with a "[p. 4]" (or "[§ Methods]", "[lines 1–60]") marker wherever the place
// changes, so the model can cite what it reads.
Document withPlaceMarkers(const Document& doc);

// Whether text contains a citation marker like "[p. 4]", "[pp. 3–5]", "[§ ...]", "[lines ...]".
bool hasCitation(const QString& text);

}  // namespace ld::documents
