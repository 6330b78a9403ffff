#pragma once
// An OpenAI-compatible engine the app talks to (vLLM, SGLang, llama.cpp's llama-server,
// Ollama's /v1, LlamaDesk's own `serve`): where it is, how to authenticate, how long to wait.
#include <QString>
#include <QUrl>

namespace ld::remote {

struct RemoteEndpoint {
    QUrl baseUrl;                    // as OpenAI clients take it: http://HOST:PORT/v1
    QString apiKey;                  // sent as "Authorization: Bearer KEY" when not empty
    QString caFile;                  // PEM file of extra trusted CAs; certificates are always verified
    int connectTimeoutMs = 10000;    // until the request is on the wire
    int firstByteTimeoutMs = 120000; // until the response starts: a busy server queues and prefills
    int idleTimeoutMs = 60000;       // between two pieces of a streamed response
    int maxRetries = 2;              // 429 / 503 answers with Retry-After, retried this often
    int maxRetryAfterMs = 30000;     // ... when the wait asked for is at most this long

    // base + "/chat/completions" etc.
    QUrl url(const QString& path) const;
    // The server's root (the base URL without a trailing /v1): where /tokenize lives.
    QUrl rootUrl(const QString& path) const;
};

// Checks and normalizes a base URL given by a user; empty with *error set when it is not an
// http(s) URL with a host. A trailing slash is dropped.
QUrl parseBaseUrl(const QString& text, QString* error);

}  // namespace ld::remote
