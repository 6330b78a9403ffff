#pragma once
// The JSON of the OpenAI API as a client reads and writes it: request bodies, one streamed
// chunk (a content delta, a finish, a usage chunk with empty choices, an error object), a
// whole non-streamed reply, the model list, and the message inside an error body (OpenAI,
// vLLM, llama.cpp and Ollama each shape it a little differently).
#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>
#include <optional>

namespace ld::remote {

struct RemoteMessage {
    QString role;     // system | user | assistant
    QString content;
};

struct GenerationRequest {
    enum class Kind { Chat, Completion };  // /chat/completions or /completions (raw text)
    Kind kind = Kind::Chat;
    QString model;
    QList<RemoteMessage> messages;  // Chat
    QString prompt;                 // Completion
    int maxTokens = 256;            // <= 0: the server's default
    std::optional<double> temperature;
    std::optional<double> topP;
    std::optional<qint64> seed;
    QStringList stop;
};

QByteArray requestBody(const GenerationRequest& r, bool stream);

// One streamed event's meaning.
struct StreamEvent {
    enum class Type { Delta, Done, Error, Ignored };
    Type type = Type::Ignored;
    QString text;            // Delta: new text (may be empty: a role-only first delta)
    QString finishReason;    // set on the chunk that ends the choice
    int promptTokens = -1;   // from a usage object, where one came
    int completionTokens = -1;
    QString error;           // Error: the server's message
};
StreamEvent parseStreamEvent(const QByteArray& data, GenerationRequest::Kind kind);

// A non-streamed reply (a server that ignored "stream": true answers with one JSON body).
// Returns nullopt when the body is not a completion.
std::optional<StreamEvent> parseWholeReply(const QByteArray& body, GenerationRequest::Kind kind);

struct RemoteModel {
    QString id;
    int maxModelLen = 0;   // the context the server reports (vLLM, LlamaDesk); 0 when not told
    QString ownedBy;
};
// nullopt with *error when the body is not a model list.
std::optional<QList<RemoteModel>> parseModelList(const QByteArray& body, QString* error);

// The human message in an error body: {"error": {"message"}}, {"error": "text"},
// {"message"} (vLLM), {"detail"} (FastAPI); else the body's text, shortened. Empty for none.
QString errorMessage(const QByteArray& body);

}  // namespace ld::remote
