// `llamadesk-cli generate --remote URL --remote-model NAME ...`: generation on an
// OpenAI-compatible server (vLLM, SGLang, llama.cpp's server, Ollama's /v1, llamadesk-cli
// serve). With -p and no --chat the raw text goes to /completions, as a local generate
// continues raw text; with --chat, /chat/completions. Text to stdout as it streams, the
// outcome to stderr; a reply that breaks off is printed as far as it came and the exit code is 1.
#include "app/cli/qt_remote.h"

#include <QElapsedTimer>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "app/cli/cli_hooks.h"
#include "app/cli/commands.h"
#include "app/cli/history_recording.h"
#include "app/cli/qt_support.h"
#include "app/remote/remote_client.h"
#include "inference/core/error.h"

namespace ld::cli {

namespace {

std::atomic<bool> g_remote_cancel{false};
extern "C" void on_remote_signal(int) { g_remote_cancel.store(true); }

std::string read_key_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw UsageError("cannot read --api-key-file " + path);
    std::string key;
    std::getline(in, key);
    while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
    if (key.empty()) throw UsageError("--api-key-file " + path + " is empty");
    return key;
}

}  // namespace

std::vector<OptionSpec> remote_option_specs() {
    return {{"--remote", true},  {"--remote-model", true}, {"--api-key", true},      {"--api-key-file", true},
            {"--ca-file", true}, {"--timeout", true},      {"--idle-timeout", true}, {"--connect-timeout", true}};
}

remote::RemoteEndpoint remote_endpoint(const Args& args) {
    remote::RemoteEndpoint ep;
    QString error;
    ep.baseUrl = remote::parseBaseUrl(qs(args.require("--remote")), &error);
    if (ep.baseUrl.isEmpty()) throw UsageError("--remote: " + error.toStdString());
    if (!args.has("--remote-model")) throw UsageError("--remote needs --remote-model NAME (an id from the server's /v1/models)");
    if (args.has("--api-key") && args.has("--api-key-file")) throw UsageError("give --api-key or --api-key-file, not both");
    ep.apiKey = qs(args.has("--api-key-file") ? read_key_file(args.get("--api-key-file")) : args.get("--api-key"));
    if (args.has("--ca-file")) {
        ep.caFile = qs(args.get("--ca-file"));
        if (ep.baseUrl.scheme() != QLatin1String("https")) throw UsageError("--ca-file needs an https:// --remote URL");
    }
    ep.firstByteTimeoutMs = int(args.get_int("--timeout", 120, 1, 86400)) * 1000;
    ep.idleTimeoutMs = int(args.get_int("--idle-timeout", 60, 1, 86400)) * 1000;
    ep.connectTimeoutMs = int(args.get_int("--connect-timeout", 10, 1, 3600)) * 1000;
    return ep;
}

std::unique_ptr<remote::RemoteCompletion> open_remote_completion(const Args& args) {
    const remote::RemoteEndpoint ep = remote_endpoint(args);
    ensure_qt_application();
    QString error;
    auto c = remote::RemoteCompletion::open(ep, qs(args.get("--remote-model")), {}, &error);
    if (!c) fail(ep.baseUrl.toString().toStdString(), ": ", error.toStdString());
    return c;
}

int run_remote_generate(const ArgList& argv) {
    std::vector<OptionSpec> specs = remote_option_specs();
    specs.insert(specs.end(), {{"-p|--prompt", true}, {"-n|--n-predict", true}, {"--temp", true}, {"--top-p", true},
                               {"--seed", true}, {"--chat", false}, {"--system", true}, {"--stop", true},
                               {"-m|--model", true}, {"--db", true}, {"--conversation", true}});
    const Args args(argv, specs);
    if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    if (args.has("--model"))
        throw UsageError("-m names a local GGUF; with --remote give the server's model as --remote-model NAME");
    if (!args.has("--prompt")) throw UsageError("--remote needs -p PROMPT");
    if (args.has("--system") && !args.has("--chat")) throw UsageError("--system needs --chat");
    const remote::RemoteEndpoint ep = remote_endpoint(args);

    remote::GenerationRequest req;
    req.model = qs(args.get("--remote-model"));
    req.maxTokens = int(args.get_int("--n-predict", 256, 1, 1 << 24));
    if (args.has("--temp")) {
        req.temperature = args.get_double("--temp", 0.8);
        if (*req.temperature < 0) throw UsageError("--temp must be >= 0");
    }
    if (args.has("--top-p")) req.topP = args.get_double("--top-p", 1.0);
    if (args.has("--seed")) req.seed = args.get_int("--seed", 0, INT64_MIN, INT64_MAX);
    for (const std::string& s : args.get_all("--stop")) req.stop << qs(s);
    if (args.has("--chat")) {
        req.kind = remote::GenerationRequest::Kind::Chat;
        if (args.has("--system")) req.messages.append({QStringLiteral("system"), qs(args.get("--system"))});
        req.messages.append({QStringLiteral("user"), qs(args.get("--prompt"))});
    } else {
        req.kind = remote::GenerationRequest::Kind::Completion;
        req.prompt = qs(args.get("--prompt"));
    }

    ensure_qt_application();
    // --db: the exchange goes into the history as a local one does, the model named with the
    // engine it ran on, so the conversation records who wrote the reply.
    const std::string label = args.get("--remote-model") + " @ " + ep.baseUrl.toString().toStdString();
    std::unique_ptr<GenerationRecorder> recorder =
        start_history_recording(args, label, args.get("--system"), args.get("--prompt"));
    std::signal(SIGINT, on_remote_signal);
    std::signal(SIGTERM, on_remote_signal);
    // A chat reply is shown without its leading whitespace, as the local --chat shows it.
    bool leading = args.has("--chat");
    QElapsedTimer clock;
    clock.start();
    double firstPieceMs = -1;
    const remote::RemoteClient client(ep);
    const remote::GenerationReply r = client.generate(req, [&](const QString& piece) {
        QString p = piece;
        if (leading) {
            qsizetype i = 0;
            while (i < p.size() && p[i].isSpace()) ++i;
            p.remove(0, i);
            if (p.isEmpty()) return;
            leading = false;
        }
        if (firstPieceMs < 0) firstPieceMs = double(clock.nsecsElapsed()) / 1e6;
        const QByteArray u = p.toUtf8();
        std::fwrite(u.constData(), 1, size_t(u.size()), stdout);
        std::fflush(stdout);
        if (recorder) recorder->append(u.toStdString());
    }, &g_remote_cancel);
    if (recorder) {
        GenerationStats st;
        st.prompt_tokens = std::max(0, r.promptTokens);
        st.gen_tokens = std::max(0, r.completionTokens);
        const double s = double(clock.nsecsElapsed()) / 1e9 - std::max(0.0, firstPieceMs) / 1000.0;
        st.gen_tps = st.gen_tokens > 1 && s > 0 ? (st.gen_tokens - 1) / s : 0;  // after the first piece
        st.ttft_ms = std::max(0.0, firstPieceMs);
        // A broken-off stream is kept as interrupted (it can be continued), as a local Ctrl+C.
        recorder->finish(st, r.end == remote::ReplyEnd::Failed ? ReplyEnd::Error
                             : r.end == remote::ReplyEnd::Complete ? ReplyEnd::Complete : ReplyEnd::Interrupted,
                         r.error.toStdString());
    }
    if (!r.text.isEmpty() || r.end != remote::ReplyEnd::Failed) {
        std::printf("\n");
        std::fflush(stdout);
        const double seconds = double(clock.nsecsElapsed()) / 1e9;
        auto count = [](int n) { return n < 0 ? std::string("?") : std::to_string(n); };  // no usage chunk sent
        std::fprintf(stderr, "remote: %s at %s\nprompt: %s tokens\ngeneration: %s tokens in %.2f s\ntime to first piece: %.1f ms\nstop: %s\n",
                     req.model.toStdString().c_str(), ep.baseUrl.toString().toStdString().c_str(), count(r.promptTokens).c_str(),
                     count(r.completionTokens).c_str(), seconds, firstPieceMs,
                     r.end == remote::ReplyEnd::Cancelled ? "cancelled"
                     : r.end == remote::ReplyEnd::Interrupted ? "interrupted"
                     : r.finishReason.isEmpty() ? "-" : r.finishReason.toStdString().c_str());
    }
    if (r.end == remote::ReplyEnd::Failed || r.end == remote::ReplyEnd::Interrupted) {
        std::cerr << "error: " << r.error.toStdString() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace ld::cli
