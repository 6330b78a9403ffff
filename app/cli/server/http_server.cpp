#include "app/cli/server/http_server.h"

#include <atomic>
#include <chrono>
#include <ctime>
#include <random>

#include <httplib.h>
#include <sys/socket.h>
#include <nlohmann/json.hpp>

#include "app/cli/server/api_format.h"
#include "app/cli/server/api_request.h"
#include "app/cli/server/api_tools.h"
#include "app/cli/server/chat_log.h"
#include "app/cli/server/generation_service.h"
#include "app/cli/server/http_listener.h"
#include "app/cli/server/peer_watch.h"
#include "inference/core/error.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::server {

namespace {

constexpr size_t kSpareThreads = 8;  // beyond parallel + queue: /health, refusals, idle keep-alives

ApiError make_error(int status, std::string message, std::string type, std::string code = "", std::string param = "") {
    ApiError e;
    e.status = status;
    e.message = std::move(message);
    e.type = std::move(type);
    e.code = std::move(code);
    e.param = std::move(param);
    return e;
}

void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    res.set_content(error_json(e), "application/json");
}

// Comparison whose time does not depend on where the strings differ.
bool same_secret(const std::string& a, const std::string& b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
    return diff == 0 && !b.empty();
}

const char* finish_reason(StopReason r) {
    return r == StopReason::MaxTokens || r == StopReason::ContextFull ? "length" : "stop";
}

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

bool is_loopback_host(const std::string& host) {
    return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

// The first feature of the request that `f` lacks (a parameter name for the error), or null.
const char* missing_feature(const ApiRequest& r, const ServiceFeatures& f) {
    if (!f.raw_prompts && r.endpoint == Endpoint::Completion) return "prompt";
    if (!f.tools && uses_tools(r)) return r.tools.empty() ? "messages" : "tools";
    if (!f.logprobs && r.logprobs) return "logprobs";
    if (!f.penalties && r.frequency_penalty != 0) return "frequency_penalty";
    if (!f.penalties && r.presence_penalty != 0) return "presence_penalty";
    return nullptr;
}

struct ApiServer::Impl {
    ServerConfig cfg;
    GenerationService& gen;
    ChatLog* log;
    // Every admitted request may hold a thread (waiting or streaming); spare threads keep /health,
    // 503 answers and new connections going meanwhile.
    HttpListener http{cfg.parallel + cfg.queue + kSpareThreads};
    int port = 0;
    int64_t started = std::time(nullptr);
    std::atomic<bool> stopping{false};

    Impl(ServerConfig c, GenerationService& g, ChatLog* l) : cfg(std::move(c)), gen(g), log(l) {}

    // DNS rebinding: a page on evil.example that resolves its name to 127.0.0.1 sends its own
    // Host header, so a loopback server answers only requests addressed to a loopback name.
    bool host_allowed(const httplib::Request& req) const {
        if (!is_loopback_host(cfg.host)) return true;
        const std::string host = lower(req.get_header_value("Host"));
        const std::string p = ":" + std::to_string(port);
        if (host.size() <= p.size() || host.compare(host.size() - p.size(), p.size(), p) != 0) return false;
        const std::string name = host.substr(0, host.size() - p.size());
        return name == "localhost" || name == "127.0.0.1" || name == "[::1]";
    }

    bool origin_allowed(const std::string& origin) const {
        for (const std::string& o : cfg.cors_origins)
            if (o == "*" || o == origin) return true;
        return false;
    }

    void add_cors(const httplib::Request& req, httplib::Response& res) const {
        const std::string origin = req.get_header_value("Origin");
        if (origin.empty() || !origin_allowed(origin)) return;
        res.set_header("Access-Control-Allow-Origin", origin);
        res.set_header("Vary", "Origin");
    }

    httplib::Server::HandlerResponse pre_route(const httplib::Request& req, httplib::Response& res) {
        // Stopped: httplib still answers a connection that was kept alive when the listening
        // socket closed (the app restarts its server with a new key or port this way).
        if (stopping.load()) {
            send_error(res, make_error(503, "the server is stopping", "server_error", "server_stopping"));
            res.set_header("Connection", "close");
            return httplib::Server::HandlerResponse::Handled;
        }
        if (!host_allowed(req)) {
            send_error(res, make_error(403, "the Host header must name this loopback server (localhost:" +
                                                std::to_string(port) + ", 127.0.0.1:" + std::to_string(port) + " or [::1]:" +
                                                std::to_string(port) + ")", "invalid_request_error", "invalid_host"));
            return httplib::Server::HandlerResponse::Handled;
        }
        add_cors(req, res);
        if (req.method == "OPTIONS") {  // CORS preflight
            const std::string origin = req.get_header_value("Origin");
            if (origin.empty() || !origin_allowed(origin)) {
                send_error(res, make_error(403, "cross-origin requests from this origin are not allowed (see --cors-origin)",
                                           "invalid_request_error", "cors_forbidden"));
            } else {
                res.status = 204;
                res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
                res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
                res.set_header("Access-Control-Max-Age", "600");
            }
            return httplib::Server::HandlerResponse::Handled;
        }
        if (!cfg.api_key.empty() && req.path != "/health") {
            const std::string auth = req.get_header_value("Authorization");
            const std::string prefix = "Bearer ";
            const bool ok = auth.size() > prefix.size() && auth.compare(0, prefix.size(), prefix) == 0 &&
                            same_secret(auth.substr(prefix.size()), cfg.api_key);
            if (!ok) {
                send_error(res, make_error(401, auth.empty() ? "missing API key: send 'Authorization: Bearer KEY'"
                                                             : "incorrect API key provided",
                                           "invalid_request_error", "invalid_api_key"));
                res.set_header("WWW-Authenticate", "Bearer");
                return httplib::Server::HandlerResponse::Handled;
            }
        }
        return httplib::Server::HandlerResponse::Unhandled;
    }

    // Request -> prompt tokens and generation options for `served`, or an error.
    bool prepare(const ApiRequest& r, const ServedModel& served, GenJob& job, ApiError* err) const {
        if (served.id.empty() || !served.tokenizer) {
            *err = make_error(503, served.unavailable.empty() ? "no model is loaded: load one in LlamaDesk first" : served.unavailable,
                              "server_error", "model_not_loaded");
            return false;
        }
        if (r.model != served.id && r.model != served.id + ".gguf") {
            *err = make_error(400, "the model '" + r.model + "' does not exist; this server serves '" + served.id + "'",
                              "invalid_request_error", "model_not_found", "model");
            return false;
        }
        if (const char* param = missing_feature(r, gen.features())) {
            *err = make_error(400, std::string("'") + param + "' is not supported by LlamaDesk's built-in server, which answers "
                                       "requests through the app's engine; run `llamadesk-cli serve` for logprobs and penalties",
                              "invalid_request_error", "unsupported_value", param);
            return false;
        }
        const Tokenizer& tok = *served.tokenizer;
        const int n_ctx = served.n_ctx - served.reply_reserve;
        GenerateOptions& o = job.options;
        o.stop_strings = r.stop;
        if (r.endpoint == Endpoint::Chat && uses_tools(r)) {
            // Tools, tool calls or tool results: the Llama 3 tool prompt, as the app renders it.
            if (served.chat_template != ChatTemplate::Llama3) {
                *err = make_error(400, std::string("tool calling needs a model with the Llama 3 chat format; this one uses ") +
                                           chat_template_name(served.chat_template),
                                  "invalid_request_error", "unsupported_value", r.tools.empty() ? "messages" : "tools");
                return false;
            }
            try {
                job.prompt = apply_tool_chat_template(tok, chat_messages(r), tool_prompt_options(r, served.tool_format), true);
            } catch (const Error& e) {  // a call's arguments or a tool's parameters the formatter refuses
                *err = make_error(400, e.what(), "invalid_request_error", "", r.tools.empty() ? "messages" : "tools");
                return false;
            }
        } else if (r.endpoint == Endpoint::Chat) {
            for (const ApiMessage& m : r.messages) job.messages.push_back({m.role, m.content});
            job.prompt = apply_chat_template(served.chat_template, tok, job.messages, true);
        } else if (!r.prompt_tokens.empty()) {
            for (int32_t id : r.prompt_tokens)
                if (id >= tok.n_vocab()) {
                    *err = make_error(400, "token id " + std::to_string(id) + " is outside the vocabulary (" +
                                               std::to_string(tok.n_vocab()) + " tokens)", "invalid_request_error", "", "prompt");
                    return false;
                }
            job.prompt = r.prompt_tokens;
        } else {
            job.prompt = tokenize_prompt(tok, r.prompt);
        }
        if (r.endpoint == Endpoint::Chat) {
            // A chat reply drops its leading whitespace, as `generate --chat` and the app show it
            // (a SentencePiece model starts it with the space that follows "[/INST]"); a
            // completion keeps every byte.
            o.trim_leading_space = true;
            for (const std::string& s : chat_stop_strings(served.chat_template)) o.stop_strings.push_back(s);
        }
        if (job.prompt.empty()) {
            *err = make_error(400, "the prompt is empty", "invalid_request_error", "", "prompt");
            return false;
        }
        const int n_prompt = int(job.prompt.size());
        const int room = n_ctx - n_prompt;
        if (room < 1 || (r.max_tokens && *r.max_tokens > room)) {
            const int asked = r.max_tokens ? *r.max_tokens : 1;
            *err = make_error(400, "This model's maximum context length is " + std::to_string(n_ctx) +
                                       " tokens. However, you requested " + std::to_string(n_prompt + asked) + " tokens (" +
                                       std::to_string(n_prompt) + " in the prompt, " + std::to_string(asked) +
                                       " in the completion). Please reduce the prompt or the completion length.",
                              "invalid_request_error", "context_length_exceeded",
                              r.max_tokens && n_prompt < n_ctx ? "max_tokens" : "messages");
            return false;
        }
        o.max_tokens = r.max_tokens ? *r.max_tokens : room;
        SamplerParams& sp = o.sampling;
        sp.temperature = float(r.temperature);
        sp.top_p = r.top_p > 0 ? float(r.top_p) : 1e-6f;  // top_p 0: only the most likely token
        sp.top_k = 0;
        sp.min_p = 0;
        sp.repeat_penalty = 1;
        sp.frequency_penalty = float(r.frequency_penalty);
        sp.presence_penalty = float(r.presence_penalty);
        sp.penalty_last_n = -1;  // OpenAI's penalties count the whole text
        sp.seed = r.seed ? uint64_t(*r.seed) : uint64_t(std::random_device{}()) ^ uint64_t(std::time(nullptr));
        job.logprobs_top = r.logprobs ? r.top_logprobs : -1;
        return true;
    }

    void handle_generate(Endpoint ep, const httplib::Request& req, httplib::Response& res) {
        ApiRequest r;
        ApiError err;
        if (!parse_api_request(ep, req.body, &r, &err)) return send_error(res, err);
        auto job = std::make_shared<GenJob>();
        const ServedModel served = gen.model();
        if (!prepare(r, served, *job, &err)) return send_error(res, err);
        // `serve --db`: the turns are saved before the reply starts, as the app saves a chat.
        if (log && ep == Endpoint::Chat) job->record = log->begin(served.id, chat_messages(r));
        if (!gen.submit(job)) {
            if (job->record) job->end({}, "the server was busy");  // the saved turns get their (error) reply

            res.set_header("Retry-After", "1");
            return send_error(res, make_error(503, "the server is busy: " + std::to_string(cfg.parallel + cfg.queue) +
                                                       " requests are already running or waiting; retry later",
                                              "server_error", "server_busy"));
        }
        ResponseMeta meta;
        meta.endpoint = ep;
        meta.id = random_id(ep == Endpoint::Chat ? "chatcmpl-" : "cmpl-");
        meta.created = std::time(nullptr);
        meta.model = r.model;
        meta.include_usage = r.include_usage;
        meta.logprobs = r.logprobs;
        const PeerWatch peer(req.remote_port, req.local_port);
        const bool calls = offers_tools(r);  // the reply is read for tool calls
        if (r.stream) stream(job, meta, peer, calls, res);
        else respond(job, meta, peer, calls, res);
    }

    // Non-streaming: wait for the whole reply, looking every 50 ms whether the client hung up
    // (then its job leaves the queue or stops at the next token, and nobody is answered).
    void respond(const std::shared_ptr<GenJob>& job, const ResponseMeta& meta, const PeerWatch& peer, bool calls,
                 httplib::Response& res) {
        std::unique_lock<std::mutex> lock(job->mu);
        while (!job->cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return job->finished; })) {
            if (!peer.gone()) continue;
            lock.unlock();
            gen.cancel(job);
            lock.lock();
            job->cv.wait(lock, [&] { return job->finished; });
            // Nobody reads this, unless the client only shut down its sending side.
            return send_error(res, make_error(400, "the client closed its connection before the reply", "invalid_request_error",
                                              "client_closed"));
        }
        const GenerateResult& g = job->result;
        if (!job->error.empty() || g.stop == StopReason::Cancelled)
            return send_error(res, make_error(500, job->error.empty() ? "the server stopped before the reply was finished" : "the engine failed: " + job->error,
                                              "server_error"));
        std::string text;
        std::vector<TokenLogprob> lps;
        for (GenJob::Piece& p : job->pieces) {
            text += p.text;
            for (TokenLogprob& t : p.logprobs) lps.push_back(std::move(t));
        }
        if (calls) {
            // A reply that is a call goes out as tool_calls; a malformed one stays text (the
            // client sees what the model wrote rather than nothing).
            const std::vector<ApiToolCall> tc = reply_tool_calls(parse_tool_calls(text));
            if (!tc.empty())
                return res.set_content(full_tool_calls_response(meta, tc, job_usage(*job)),
                                       "application/json");
        }
        res.set_content(full_response(meta, text, finish_reason(g.stop), job_usage(*job), lps),
                        "application/json");
    }

    // Streaming: events as the worker produces text. A client that hung up is noticed by a failed
    // write or, between events (also while the job waits in the queue), by the PeerWatch; an SSE
    // comment goes out every second of waiting, which clients ignore.
    // With `calls`, text is held back while the reply may still become a tool call (OpenAI's
    // clients expect either content deltas or tool_calls deltas); once it cannot, what was held
    // goes out and the rest streams as usual.
    void stream(const std::shared_ptr<GenJob>& job, const ResponseMeta& meta, PeerWatch peer, bool calls,
                httplib::Response& res) {
        res.set_header("Cache-Control", "no-cache");
        GenerationService* queue = &gen;
        res.set_chunked_content_provider(
            "text/event-stream",
            [job, meta, queue, peer, calls](size_t, httplib::DataSink& sink) {
                auto write = [&](const std::string& s) {
                    if (sink.write(s.data(), s.size())) return true;
                    queue->cancel(job);  // the client is gone: stop within one token
                    return false;
                };
                size_t offset = 0;  // bytes of token text streamed so far
                ToolCallStream tool_stream;  // with `calls`: text held back while it may become a call
                // The role chunk right away, as OpenAI sends it: the client has its headers (and knows
                // it was admitted) while the request waits in the queue. Written before taking the
                // job's lock, as every write is: a slow client must not stall the worker's next piece.
                if (meta.endpoint == Endpoint::Chat && !write(sse_role_chunk(meta))) return false;
                std::unique_lock<std::mutex> lock(job->mu);
                auto waited = std::chrono::steady_clock::now();
                for (;;) {
                    const bool ready = job->cv.wait_for(lock, std::chrono::milliseconds(50), [&] {
                        return job->finished || !job->pieces.empty();
                    });
                    if (!job->finished && peer.gone()) {
                        lock.unlock();
                        queue->cancel(job);  // the client is gone: stop within one token
                        return false;
                    }
                    if (!ready) {
                        if (std::chrono::steady_clock::now() - waited < std::chrono::seconds(1)) continue;
                        waited = std::chrono::steady_clock::now();
                        lock.unlock();
                        if (!write(": waiting\n\n")) return false;
                        lock.lock();
                        continue;
                    }
                    std::deque<GenJob::Piece> pieces;
                    pieces.swap(job->pieces);
                    const bool finished = job->finished;
                    lock.unlock();
                    for (const GenJob::Piece& p : pieces) {
                        if (calls) {  // no logprobs with tools (the parser refuses them)
                            const std::string text = tool_stream.feed(p.text);
                            if (!text.empty() && !write(sse_text_chunk(meta, text, {}, 0))) return false;
                            continue;
                        }
                        if (!p.text.empty() || !p.logprobs.empty())
                            if (!write(sse_text_chunk(meta, p.text, p.logprobs, offset))) return false;
                        for (const TokenLogprob& t : p.logprobs) offset += t.bytes.size();
                    }
                    if (finished) {
                        const GenerateResult& g = job->result;  // final once finished is set
                        if (!job->error.empty() || g.stop == StopReason::Cancelled) {
                            write(sse_error(make_error(500, job->error.empty() ? "the server stopped before the reply was finished"
                                                                               : "the engine failed: " + job->error,
                                                       "server_error")));
                            return false;
                        }
                        const char* reason = finish_reason(g.stop);
                        if (calls) {  // what is still held: calls, or text after all
                            const ToolCallStream::End end = tool_stream.finish();
                            if (!end.calls.empty()) {
                                if (!write(sse_tool_call_chunks(meta, end.calls))) return false;
                                reason = "tool_calls";
                            } else if (!end.text.empty() && !write(sse_text_chunk(meta, end.text, {}, 0))) {
                                return false;
                            }
                        }
                        if (!write(sse_finish_chunk(meta, reason))) return false;
                        if (meta.include_usage && !write(sse_usage_chunk(meta, job_usage(*job))))
                            return false;
                        if (!write(sse_done())) return false;
                        sink.done();
                        return true;
                    }
                    lock.lock();
                }
            },
            [job, queue](bool) { queue->cancel(job); });  // released early: same as a disconnect
    }

    void routes() {
        http.set_pre_routing_handler([this](const httplib::Request& q, httplib::Response& s) { return pre_route(q, s); });
        http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
            res.set_content("{\"status\":\"ok\"}", "application/json");
        });
        http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
            const ServedModel served = gen.model();
            res.set_content(models_json(served.id, started, served.n_ctx), "application/json");
        });
        // At the server root as vLLM and llama.cpp have it: remote clients count tokens here to
        // keep what they send within the context ({"prompt"} or {"content"}: raw text, BOS as
        // the model adds it).
        http.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
            const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
            const nlohmann::json* text = nullptr;
            if (body.is_object())
                for (const char* key : {"prompt", "content"})
                    if (auto it = body.find(key); !text && it != body.end() && it->is_string()) text = &*it;
            if (!text)
                return send_error(res, make_error(400, "the body must be a JSON object with a string \"prompt\" (or \"content\")",
                                                  "invalid_request_error", "", "prompt"));
            const ServedModel served = gen.model();
            if (!served.tokenizer)
                return send_error(res, make_error(503, "no model is loaded: load one in LlamaDesk first", "server_error",
                                                  "model_not_loaded"));
            res.set_content(tokenize_json(tokenize_prompt(*served.tokenizer, text->get<std::string>()), served.n_ctx),
                            "application/json");
        });
        http.Post("/v1/chat/completions", [this](const httplib::Request& q, httplib::Response& s) { handle_generate(Endpoint::Chat, q, s); });
        http.Post("/v1/completions", [this](const httplib::Request& q, httplib::Response& s) { handle_generate(Endpoint::Completion, q, s); });
        // httplib's own refusals (unknown path 404, body over the limit 413, a bad request line
        // 400) get an OpenAI-shaped body too.
        http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return;
            std::string msg;
            if (res.status == 404) msg = "unknown endpoint " + req.method + " " + req.path;
            else if (res.status == 413 && lower(req.get_header_value("Content-Type")).rfind("application/x-www-form-urlencoded", 0) == 0)
                msg = "a form-encoded body is limited to 8 KiB: send the JSON with 'Content-Type: application/json'";  // curl -d's default
            else if (res.status == 413) msg = "the request body is larger than the " + std::to_string(cfg.max_body_bytes >> 20) + " MiB limit (--max-body-mb)";
            else if (res.status == 400) msg = "the request could not be read: malformed, incomplete or too slow (--timeout)";
            else msg = "the request was refused (HTTP " + std::to_string(res.status) + ")";
            res.set_content(error_json(make_error(res.status, msg, "invalid_request_error")), "application/json");
        });
        http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            std::string msg = "internal error";
            try {
                if (ep) std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                msg = e.what();
            } catch (...) {
            }
            send_error(res, make_error(500, msg, "server_error"));
        });
    }
};

ApiServer::ApiServer(ServerConfig config, GenerationService& generation, ChatLog* log)
    : impl_(std::make_unique<Impl>(std::move(config), generation, log)) {
    Impl& m = *impl_;
    // Read/write timeouts bound what a slow or stalled client can hold.
    m.http.set_payload_max_length(m.cfg.max_body_bytes);
    m.http.set_read_timeout(m.cfg.io_timeout_s, 0);
    m.http.set_write_timeout(m.cfg.io_timeout_s, 0);
    m.http.set_keep_alive_timeout(2);
    // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second server (another
    // `serve`, the app's) bind the same port and silently take half of its connections.
    m.http.set_socket_options([](auto sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    m.routes();
}

ApiServer::~ApiServer() = default;

int ApiServer::bind() {
    Impl& m = *impl_;
    std::string host = m.cfg.host;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    m.port = m.http.bind_socket(host, m.cfg.port);
    if (m.port <= 0) {
        if (m.cfg.port == 0) fail("cannot listen on ", m.cfg.host, " (no free port)");
        fail("cannot listen on ", m.cfg.host, ":", m.cfg.port, " (in use, or not an address of this machine)");
    }
    return m.port;
}

void ApiServer::listen() { impl_->http.serve(); }

void ApiServer::stop() {
    Impl& m = *impl_;
    m.stopping.store(true);
    m.http.stop_listening();
}

}  // namespace ld::server
