#pragma once
// The HTTP layer of `llamadesk-cli serve` (cpp-httplib): access checks (API key, Host header,
// CORS), the OpenAI routes, and streaming a job's output. Requests are parsed and tokenized on
// the HTTP threads; generation happens on the GenerationQueue's worker.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "inference/chat/chat_format.h"
#include "inference/chat/tool_format.h"

namespace ld {
class Tokenizer;
}

namespace ld::server {

class GenerationQueue;

struct ServerConfig {
    std::string host = "127.0.0.1";
    int port = 8080;                        // 0: any free port
    std::string api_key;                    // empty: no key
    std::vector<std::string> cors_origins;  // empty: no CORS headers
    size_t slots = 1;                       // --parallel: admitted beside the queue, run one at a time
    size_t queue = 8;                       // waiting requests beyond the slots
    size_t max_body_bytes = 4u << 20;
    int io_timeout_s = 30;                  // socket read/write timeout (slow clients)
    std::string model_id;
    int n_ctx = 0;                          // the backend's context
};

struct ServeEngine {
    const Tokenizer* tokenizer = nullptr;
    ChatTemplate chat_template = ChatTemplate::Llama3;
    GenerationQueue* queue = nullptr;
    ToolCallFormat tool_format = ToolCallFormat::Json;  // how the model calls tools (requests with tools)
};

class ApiServer {
public:
    ApiServer(ServerConfig config, ServeEngine engine);
    ~ApiServer();
    // Binds the socket; returns the port (the chosen one for port 0). Throws ld::Error.
    int bind();
    // Serves until stop() (from another thread).
    void listen();
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

bool is_loopback_host(const std::string& host);

}  // namespace ld::server
