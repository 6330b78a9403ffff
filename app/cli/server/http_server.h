#pragma once
// The HTTP layer of `llamadesk-cli serve` (cpp-httplib): access checks (API key, Host header,
// CORS), the OpenAI routes, and streaming a job's output. Requests are parsed and tokenized on
// the HTTP threads; generation happens behind a GenerationService (the CLI's own Session, or
// the app's engine).
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace ld::server {

class ChatLog;
class GenerationService;

struct ServerConfig {
    std::string host = "127.0.0.1";
    int port = 8080;                        // 0: any free port
    std::string api_key;                    // empty: no key
    std::vector<std::string> cors_origins;  // empty: no CORS headers
    size_t parallel = 1;                    // --parallel: running at once (one at a time without SeqBatch)
    size_t queue = 8;                       // waiting requests beyond those
    size_t max_body_bytes = 4u << 20;
    int io_timeout_s = 30;                  // socket read/write timeout (slow clients)
};

class ApiServer {
public:
    // `generation` runs the jobs and names the model; `log` (optional) saves chats (--db). Both
    // must outlive the server.
    ApiServer(ServerConfig config, GenerationService& generation, ChatLog* log = nullptr);
    ~ApiServer();
    // Binds the socket; returns the port (the chosen one for port 0). Throws ld::Error.
    int bind();
    // Serves until stop() (from another thread); a failed accept() is logged and accepting goes
    // on (http_listener.h). Returns once every request being answered has
    // ended: end the service's jobs first so that none waits for a reply.
    void listen();
    // Closes the listening socket (listen() then returns); any thread, also before listen() runs.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

bool is_loopback_host(const std::string& host);

}  // namespace ld::server
