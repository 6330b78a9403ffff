#pragma once
// Token-aware chunking: cuts a document into pieces of at most `maxTokens` tokens, preferring
// paragraph, then line, then sentence, then word boundaries (characters only for a single
// "word" longer than the budget). Chunks are exact, consecutive slices of
// Document::fullText(): together they cover the whole document in order. Cuts never fall
// inside a surrogate pair, so each chunk converts to valid UTF-8 on its own.
#include <QList>
#include <functional>

#include "app/documents/document_types.h"

namespace ld::documents {

struct Chunk {
    QString text;
    qsizetype offset = 0;  // where it starts in Document::fullText()
    int tokens = 0;        // as counted by the counter
    Span span;             // pages / sections / lines it touches
};

// Token count of a piece of text (the model's tokenizer, without BOS).
using TokenCounter = std::function<int(const QString&)>;

// maxTokens >= 1. Throws nothing; an empty document gives no chunks.
QList<Chunk> chunkDocument(const Document& doc, const TokenCounter& count, int maxTokens);

// A rough counter for when no tokenizer is at hand (about 4 characters per token).
int estimateTokens(const QString& text);

}  // namespace ld::documents
