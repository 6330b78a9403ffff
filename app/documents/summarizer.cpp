#include "app/documents/summarizer.h"

#include <QDateTime>
#include <QRegularExpression>
#include <QThread>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "app/documents/chunker.h"

namespace ld::documents {

namespace {

const QString kSystem = QStringLiteral(
    "You write faithful summaries of documents. Use only what the text says; do not add facts. "
    "Keep the bracketed place markers such as [p. 4] or [§ Methods] next to the points they support.");

QString mapPrompt(const QString& file, const QString& where, const QString& text) {
    return QStringLiteral("This is part of the document \"%1\"%2. Summarize it in a few sentences, keeping names, "
                          "numbers, decisions and conclusions. Cite places with the bracketed markers.\n\n---\n%3")
        .arg(file, where.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(where), text);
}

QString reducePrompt(const QString& file, const QString& notes) {
    return QStringLiteral("These are notes on consecutive parts of the document \"%1\". Combine them into one shorter "
                          "set of notes, in order, keeping the bracketed citations.\n\n---\n%2")
        .arg(file, notes);
}

QString finalPrompt(const QString& file, const QString& body, bool notes) {
    return QStringLiteral("%1 the document \"%2\": first one or two sentences on what it is, then the main points "
                          "in order. Cite the places in brackets, e.g. [p. 4].\n\n---\n%3")
        .arg(notes ? QStringLiteral("These are notes on consecutive parts of a document. Write a summary of")
                   : QStringLiteral("Summarize"),
             file, body);
}

double nowSeconds() { return double(QDateTime::currentMSecsSinceEpoch()) / 1000.0; }

}  // namespace

bool hasCitation(const QString& text) {
    static const QRegularExpression re(QStringLiteral("\\[(pp?\\.|§|lines?) ?[^\\]]{0,80}\\]"));
    return re.match(text).hasMatch();
}

Document withPlaceMarkers(const Document& doc) {
    Document out = doc;
    QString previous;
    for (Segment& s : out.segments) {
        Span one;
        one.extend(s);
        const QString label = one.label();
        if (!label.isEmpty() && label != previous) s.text = QStringLiteral("[%1] ").arg(label) + s.text;
        previous = label;
    }
    return out;
}

Summarizer::Summarizer(Completion& completion, SummaryOptions options) : completion_(completion), options_(options) {}

Summarizer::Budget Summarizer::budget(const QString& fileName) const {
    Budget b;
    const QString sample = QStringLiteral("x");
    const int instructions = std::max({completion_.countTokens(mapPrompt(fileName, QStringLiteral("pp. 100–200"), sample)),
                                       completion_.countTokens(reducePrompt(fileName, sample)),
                                       completion_.countTokens(finalPrompt(fileName, sample, true))});
    // A little slack: tokens can merge differently where the instructions meet the text.
    b.overhead = completion_.templateOverhead() + completion_.countTokens(kSystem) + instructions + 8;
    const int avail = completion_.contextSize() - b.overhead;
    b.partial = options_.partialTokens > 0 ? options_.partialTokens : std::clamp(avail / 4, 24, 384);
    b.final = std::clamp(std::min(options_.maxSummaryTokens, avail / 3), 16, std::max(16, options_.maxSummaryTokens));
    b.mapInput = avail - b.partial;
    b.reduceInput = avail - b.partial;
    b.finalInput = avail - b.final;
    return b;
}

int Summarizer::estimateReduceCalls(int notes, const Budget& b) const {
    const int perNote = b.partial + 12;
    const int perGroup = std::max(2, b.reduceInput / perNote);
    const int finalCap = std::max(1, b.finalInput / perNote);
    int calls = 0;
    while (notes > finalCap) {
        notes = (notes + perGroup - 1) / perGroup;
        calls += notes;
    }
    return calls;
}

QString Summarizer::noteBlock(const QList<Note>& notes) const {
    QStringList parts;
    for (const Note& n : notes) {
        const QString c = n.span.citation();
        parts << (c.isEmpty() ? n.text : c + QLatin1Char(' ') + n.text);
    }
    return parts.join(QStringLiteral("\n\n"));
}

// Reports the stage about to run; false when cancelled.
bool Summarizer::step(const QString& stage) {
    if (cancel_ && cancel_->load()) return false;
    lastStage_ = stage;
    if (callbacks_->progress) {
        SummaryProgress p;
        p.done = done_;
        p.total = std::max(total_, done_);
        p.elapsedSeconds = nowSeconds() - double(startMs_) / 1000.0;
        p.secondsLeft = done_ > 0 ? callSeconds_ / done_ * (p.total - done_) : -1;
        p.stage = stage;
        callbacks_->progress(p);
    }
    return true;
}

void Summarizer::finishStep(bool last) {
    ++done_;
    callSeconds_ = nowSeconds() - double(startMs_) / 1000.0;
    total_ = last ? done_ : std::max(total_, done_ + 1);
    step(done_ == total_ ? QStringLiteral("Done") : lastStage_);
}

bool Summarizer::mapConcurrently(const QList<QString>& prompts, int partialTokens, QList<CompletionResult>* results) {
    const qsizetype n = prompts.size();
    const int workers = int(std::min<qsizetype>(options_.mapConcurrency, n));
    std::vector<CompletionResult> out(static_cast<size_t>(n));
    std::mutex mutex;
    std::condition_variable changed;
    qsizetype next = 0;       // guarded by mutex: the next prompt to send
    int finishedCalls = 0;    // guarded by mutex
    int running = workers;    // guarded by mutex
    // Workers see this, not the user's flag: a failure stops the calls in flight too.
    std::atomic<bool> stop{false};
    auto work = [&]() {
        for (;;) {
            qsizetype i;
            {
                std::lock_guard<std::mutex> lock(mutex);
                if (next >= n || stop.load()) break;
                i = next++;
            }
            CompletionResult r = completion_.complete({kSystem, prompts[i], partialTokens}, {}, &stop);
            if (!r.error.isEmpty()) stop.store(true);
            std::lock_guard<std::mutex> lock(mutex);
            out[size_t(i)] = std::move(r);
            ++finishedCalls;
            changed.notify_all();
        }
        std::lock_guard<std::mutex> lock(mutex);
        --running;
        changed.notify_all();
    };
    // QThreads, not std::threads: a remote completion runs an event loop on its thread.
    std::vector<std::unique_ptr<QThread>> threads;
    for (int t = 0; t < workers; ++t) {
        threads.emplace_back(QThread::create(work));
        threads.back()->start();
    }
    bool userCancelled = false;
    int reported = 0;
    if (!step(QStringLiteral("Reading %1 parts, %2 at a time").arg(n).arg(workers))) userCancelled = true, stop.store(true);
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
        changed.wait_for(lock, std::chrono::milliseconds(50));
        const int nowFinished = finishedCalls;
        const bool allDone = running == 0;
        lock.unlock();
        for (; reported < nowFinished; ++reported) {
            lastStage_ = QStringLiteral("Reading parts (%1 of %2 done)").arg(reported + 1).arg(n);
            finishStep();
        }
        if (cancel_ && cancel_->load() && !userCancelled) userCancelled = true, stop.store(true);
        lock.lock();
        if (allDone) break;
    }
    lock.unlock();
    for (auto& t : threads) t->wait();
    results->clear();
    for (CompletionResult& r : out) results->append(std::move(r));
    // Calls stop early only on a failure (the caller reports it first) or a cancel.
    return !userCancelled;
}

SummaryResult Summarizer::summarize(const Document& doc, const SummaryCallbacks& callbacks, const std::atomic<bool>* cancel) {
    SummaryResult res;
    callbacks_ = &callbacks;
    cancel_ = cancel;
    startMs_ = QDateTime::currentMSecsSinceEpoch();
    done_ = 0;
    total_ = 1;
    callSeconds_ = 0;
    auto finish = [&]() {
        res.calls = done_;
        res.seconds = nowSeconds() - double(startMs_) / 1000.0;
        return res;
    };
    auto emitText = [&](const QString& piece) {
        res.summary += piece;
        if (callbacks.text) callbacks.text(piece);
    };
    const TokenCounter count = [this](const QString& t) { return completion_.countTokens(t); };
    // Every model call goes through here so the totals cover the whole plan.
    auto complete = [&](const CompletionRequest& req, const std::function<void(const QString&)>& onText) {
        CompletionResult r = completion_.complete(req, onText, cancel);
        res.promptTokens += r.promptTokens;
        res.generatedTokens += r.generatedTokens;
        return r;
    };

    const Budget b = budget(doc.fileName);
    if (b.mapInput < 32 || b.finalInput < 32) {
        res.error = QStringLiteral("the model's context window (%1 tokens) is too small to summarize documents").arg(completion_.contextSize());
        return finish();
    }
    const Document marked = withPlaceMarkers(doc);
    const QString full = marked.fullText();
    res.documentTokens = count(full);
    Span whole;
    for (const Segment& s : doc.segments) whole.extend(s);

    // One pass: the document fits next to the instructions and the summary.
    if (res.documentTokens <= b.finalInput) {
        res.chunks = 1;
        if (!step(QStringLiteral("Writing the summary"))) return res.cancelled = true, finish();
        const CompletionResult r = complete({kSystem, finalPrompt(doc.fileName, full, false), b.final}, emitText);
        if (!r.error.isEmpty()) return res.error = r.error, finish();
        if (r.cancelled) return res.cancelled = true, finish();
        if (res.summary.trimmed().isEmpty() || !hasCitation(res.summary)) {
            const QString label = whole.label();
            if (!label.isEmpty()) emitText(QStringLiteral("\n\n(Source: %1, %2)").arg(doc.fileName, label));
        }
        finishStep(true);
        return finish();
    }

    // Map: every chunk on its own.
    const QList<Chunk> chunks = chunkDocument(marked, count, b.mapInput);
    res.chunks = int(chunks.size());
    total_ = res.chunks + estimateReduceCalls(res.chunks, b) + 1;
    QList<Note> notes;
    // One chunk's note from its map reply, the same for concurrent and one-at-a-time calls.
    auto toNote = [&](const Chunk& c, const QString& reply) {
        QString text = reply.simplified();
        // A model that says nothing still leaves the part represented: its opening words.
        if (text.isEmpty()) text = c.text.simplified().left(300) + QStringLiteral("…");
        while (text.size() > 16 && count(text) > b.partial) text.chop(text.size() / 10);
        return Note{c.span, text};
    };
    if (options_.mapConcurrency > 1 && chunks.size() > 1) {
        QList<QString> prompts;
        for (const Chunk& c : chunks) prompts.append(mapPrompt(doc.fileName, c.span.label(), c.text));
        QList<CompletionResult> results;
        const bool finished = mapConcurrently(prompts, b.partial, &results);
        for (const CompletionResult& r : results) {
            res.promptTokens += r.promptTokens;
            res.generatedTokens += r.generatedTokens;
        }
        // The first failure in document order is the one reported.
        for (const CompletionResult& r : results)
            if (!r.error.isEmpty()) return res.error = r.error, finish();
        if (!finished) return res.cancelled = true, finish();
        for (qsizetype i = 0; i < chunks.size(); ++i) notes.append(toNote(chunks[i], results[i].text));
    }
    for (qsizetype i = notes.size(); i < chunks.size(); ++i) {
        const Chunk& c = chunks[i];
        const QString where = c.span.label();
        if (!step(QStringLiteral("Reading part %1 of %2%3").arg(i + 1).arg(chunks.size())
                      .arg(where.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(where))))
            return res.cancelled = true, finish();
        const CompletionResult r = complete({kSystem, mapPrompt(doc.fileName, where, c.text), b.partial}, {});
        if (!r.error.isEmpty()) return res.error = r.error, finish();
        if (r.cancelled) return res.cancelled = true, finish();
        notes.append(toNote(c, r.text));
        finishStep();
    }
    total_ = done_ + estimateReduceCalls(int(notes.size()), b) + 1;

    // Reduce: combine notes in consecutive groups until they fit the final call.
    while (count(noteBlock(notes)) > b.finalInput) {
        ++res.levels;
        QList<Note> next;
        qsizetype i = 0;
        while (i < notes.size()) {
            QList<Note> group{notes[i]};
            int tokens = count(noteBlock(group));
            qsizetype j = i + 1;
            while (j < notes.size()) {
                const int more = count(noteBlock({notes[j]})) + 2;
                if (tokens + more > b.reduceInput && group.size() >= 2) break;
                group.append(notes[j++]);
                tokens += more;
            }
            i = j;
            if (group.size() == 1) {
                next.append(group.front());
                continue;
            }
            Span span;
            for (const Note& n : group) span.extend(n.span);
            if (!step(QStringLiteral("Combining notes (%1)").arg(span.label())))
                return res.cancelled = true, finish();
            const CompletionResult r = complete({kSystem, reducePrompt(doc.fileName, noteBlock(group)), b.partial}, {});
            if (!r.error.isEmpty()) return res.error = r.error, finish();
            if (r.cancelled) return res.cancelled = true, finish();
            QString text = r.text.simplified();
            if (text.isEmpty()) text = group.front().text;
            while (text.size() > 16 && count(text) > b.partial) text.chop(text.size() / 10);
            next.append({span, text});
            finishStep();
        }
        if (next.size() >= notes.size()) {  // cannot happen with groups of two or more; never loop forever
            res.error = QStringLiteral("the notes could not be combined to fit the context window");
            return finish();
        }
        notes = next;
        total_ = done_ + estimateReduceCalls(int(notes.size()), b) + 1;  // re-estimated from what is left
    }

    if (!step(QStringLiteral("Writing the summary"))) return res.cancelled = true, finish();
    const CompletionResult r = complete({kSystem, finalPrompt(doc.fileName, noteBlock(notes), true), b.final}, emitText);
    if (!r.error.isEmpty()) return res.error = r.error, finish();
    if (r.cancelled) return res.cancelled = true, finish();
    // The citations must reach the reader even when the model drops them: then the notes the
    // summary was written from follow it, each with its place.
    if (!hasCitation(res.summary)) {
        QString tail = res.summary.trimmed().isEmpty() ? QString() : QStringLiteral("\n\n");
        tail += QStringLiteral("Notes by part:");
        for (const Note& n : notes) tail += QStringLiteral("\n- %1 %2").arg(n.span.citation(), n.text);
        emitText(tail);
    }
    finishStep(true);
    return finish();
}

}  // namespace ld::documents
