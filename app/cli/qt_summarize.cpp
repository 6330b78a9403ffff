// `llamadesk-cli summarize -m MODEL FILE...`: reads each file, summarizes it (map-reduce when it
// is longer than the context) and prints the summary; progress goes to stderr. A file that
// cannot be read is reported (naming the file and the reason) and the others still proceed;
// the exit code is 1 only when no file was summarized. With --db the documents and summaries
// are stored in the history as a conversation with attachments.
#include <QCoreApplication>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <unistd.h>

#include "app/cli/args.h"
#include "app/cli/qt_remote.h"
#include "app/cli/qt_support.h"
#include "app/cli/commands.h"
#include "app/cli/engine_setup.h"
#include "app/documents/document_attachment.h"
#include "app/documents/document_reader.h"
#include "app/documents/session_completion.h"
#include "app/documents/summarizer.h"
#include "app/history/history_database.h"

namespace ld::cli {

namespace {

std::atomic<bool> g_cancel{false};
extern "C" void on_summarize_signal(int) { g_cancel.store(true); }


std::string timeText(double seconds) {
    const int s = int(seconds + 0.5);
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%d:%02d", s / 60, s % 60);
    return buf;
}

// The history for --db; nullptr (after printing why) when it cannot be opened.
std::unique_ptr<history::HistoryDatabase> openHistory(const std::string& path) {
    ensure_qt_application();  // Qt's SQL plugins load only with an application object
    history::OpenReport report;
    QString error;
    auto db = history::HistoryDatabase::open(qs(path), &report, &error);
    if (!db) std::cerr << "error: " << error.toStdString() << "\n";
    return db;
}

}  // namespace

int run_summarize_command(const ArgList& argv) {
    std::vector<OptionSpec> specs = engine_option_specs();
    specs.insert(specs.end(), {{"--max-size-mb", true}, {"-n|--max-tokens", true}, {"--seed", true},
                               {"--db", true}, {"--conversation", true}, {"-q|--quiet", false},
                               {"--concurrency", true}, {"--parallel", true}});
    const std::vector<OptionSpec> remoteSpecs = remote_option_specs();
    specs.insert(specs.end(), remoteSpecs.begin(), remoteSpecs.end());
    const Args args(argv, specs);
    const bool remote = args.has("--remote");
    if (remote && args.has("--model"))
        throw UsageError("-m names a local GGUF; with --remote give the server's model as --remote-model NAME");
    if (!remote && args.has("--concurrency")) throw UsageError("--concurrency applies to --remote (a local model takes --parallel N)");
    if (remote && args.has("--parallel")) throw UsageError("--parallel applies to a local model (a remote one takes --concurrency N)");
    if (args.positional().empty()) throw UsageError("give at least one FILE to summarize");
    if (args.has("--conversation") && !args.has("--db")) throw UsageError("--conversation needs --db");
    documents::ReadOptions readOptions;
    readOptions.maxBytes = args.get_int("--max-size-mb", 50, 1, 1 << 20) * 1024 * 1024;
    documents::SummaryOptions summaryOptions;
    summaryOptions.maxSummaryTokens = int(args.get_int("--max-tokens", 512, 16, 1 << 16));
    // A remote server batches concurrent requests: map steps go out together.
    if (remote) summaryOptions.mapConcurrency = int(args.get_int("--concurrency", 4, 1, 64));
    // A local model runs map steps together as sequences of one batch (the batch scheduler).
    const int parallel = remote ? 1 : int(args.get_int("--parallel", 1, 1, 64));
    const bool quiet = args.has("--quiet");

    // Read first: a bad file is reported without waiting for the model to load.
    std::vector<documents::Document> docs;
    int failed = 0;
    for (const std::string& path : args.positional()) {
        auto doc = documents::readDocument(qs(path), readOptions);
        if (!doc) {
            std::cerr << "error: " << doc.error().toStdString() << "\n";
            ++failed;
            continue;
        }
        docs.push_back(std::move(doc).value());
    }
    if (docs.empty()) return 1;

    std::unique_ptr<history::HistoryDatabase> db;
    std::optional<qint64> conversation;
    if (args.has("--db")) {
        db = openHistory(args.get("--db"));
        if (!db) return 1;
        if (args.has("--conversation")) conversation = args.get_int("--conversation", 0, 1, INT64_MAX);
    }

    std::unique_ptr<documents::Completion> completion;
    if (remote) {
        if (args.has("--seed")) throw UsageError("--seed is not supported with --remote");
        completion = open_remote_completion(args);
    } else {
        BackendOptions bo = backend_options(args);
        if (!args.has("--ctx")) bo.n_ctx = 4096;  // summaries gain little from more; memory does
        auto local = documents::SessionCompletion::open(args.require("--model"), bo, parallel);
        if (args.has("--seed")) local->sampling().seed = uint64_t(args.get_int("--seed", 0, 0, INT64_MAX));
        if (parallel > 1 && local->parallel() == 1)
            std::cerr << "note: this backend runs one sequence at a time: map steps run one after another\n";
        summaryOptions.mapConcurrency = local->parallel();
        completion = std::move(local);
    }
    std::signal(SIGINT, on_summarize_signal);
    std::signal(SIGTERM, on_summarize_signal);

    const bool tty = isatty(fileno(stderr));
    int summarized = 0;
    for (const documents::Document& doc : docs) {
        if (g_cancel.load()) break;
        if (docs.size() > 1) std::printf("== %s ==\n", doc.fileName.toStdString().c_str());
        std::fflush(stdout);
        documents::Summarizer summarizer(*completion, summaryOptions);
        documents::SummaryCallbacks cb;
        cb.text = [](const QString& piece) {
            const QByteArray u = piece.toUtf8();
            std::fwrite(u.constData(), 1, size_t(u.size()), stdout);
            std::fflush(stdout);
        };
        cb.progress = [&](const documents::SummaryProgress& p) {
            if (quiet) return;
            std::string left = p.secondsLeft >= 0 ? ", " + timeText(p.secondsLeft) + " left" : "";
            std::fprintf(stderr, "%s[%d/%d] %s: %s%s%s", tty ? "\r\x1b[K" : "", p.done, p.total,
                         doc.fileName.toStdString().c_str(), p.stage.toStdString().c_str(), left.c_str(), tty ? "" : "\n");
            std::fflush(stderr);
        };
        const documents::SummaryResult r = summarizer.summarize(doc, cb, &g_cancel);
        std::printf("\n");
        std::fflush(stdout);
        if (tty && !quiet) std::fprintf(stderr, "\n");
        if (!r.error.isEmpty()) {
            std::cerr << "error: " << doc.fileName.toStdString() << ": " << r.error.toStdString() << "\n";
            ++failed;
            continue;
        }
        if (r.cancelled) {
            std::cerr << "error: " << doc.fileName.toStdString() << ": cancelled\n";
            ++failed;
            continue;
        }
        ++summarized;
        std::fprintf(stderr, "%s: %d tokens, %d part%s, %d model call%s (%d reduce level%s), %.1f s (%.0f document tokens/s); "
                     "prompts %lld tokens, generated %lld tokens\n",
                     doc.fileName.toStdString().c_str(), r.documentTokens, r.chunks, r.chunks == 1 ? "" : "s",
                     r.calls, r.calls == 1 ? "" : "s", r.levels, r.levels == 1 ? "" : "s", r.seconds,
                     r.seconds > 0 ? r.documentTokens / r.seconds : 0.0, static_cast<long long>(r.promptTokens),
                     static_cast<long long>(r.generatedTokens));
        if (db) {
            if (!conversation) {
                history::NewConversation nc;
                nc.title = QStringLiteral("Summary of %1").arg(doc.fileName);
                // A remote model is named with its engine: the history says who wrote the summary.
                nc.model = remote ? qs(args.get("--remote-model") + " @ " + args.get("--remote")) : qs(args.get("--model"));
                auto c = db->createConversation(nc);
                if (!c) {
                    std::cerr << "error: " << c.error().toStdString() << "\n";
                    return 1;
                }
                conversation = c->id;
                std::cerr << "conversation: " << *conversation << "\n";
            }
            history::NewMessage user;
            user.conversationId = *conversation;
            user.role = QStringLiteral("user");
            user.content = documents::summaryRequestText(doc);
            auto um = db->addMessage(user);
            history::NewMessage reply = user;
            reply.role = QStringLiteral("assistant");
            reply.content = r.summary;
            auto rm = um ? db->addMessage(reply) : um;
            auto att = rm ? db->addAttachment(documents::toAttachment(doc, r.summary, *conversation, um->id))
                          : history::Result<history::Attachment>::failure(rm.error());
            if (!att) std::cerr << "error: " << doc.fileName.toStdString() << ": not saved: " << att.error().toStdString() << "\n";
        }
    }
    return summarized > 0 ? 0 : 1;
}

}  // namespace ld::cli
