#pragma once
// One generation request on the app's engine thread, made and waited for from a worker thread:
// the tool loop's replies (EngineToolCompletion) and a document summary's calls
// (documents::EngineCompletion). The request is queued on the UI thread's EngineHost, its text
// streamed back to the calling thread piece by piece, and the call returns when the request
// finishes or fails, or as soon as the caller's stop flag is set. Never call it on the UI thread:
// it waits for the UI thread to start the request.
#include <QString>
#include <atomic>
#include <functional>

#include "app/chat/chat_types.h"

namespace ld::chat {

class EngineHost;

struct EngineCallResult {
    // finished(): the outcome as the engine reported it. Stopped by the caller: the text streamed
    // so far, cancelled set (the engine is told to stop this request only and is not waited for:
    // the UI thread may itself be waiting for the caller, when closing).
    GenerationOutcome outcome;
    QString failure;  // failed(), or no model loaded: why (outcome then empty)
};

// `onText` (optional) gets each piece on the calling thread; `onFinished` (optional) gets the
// outcome on the UI thread before the call returns (the numbers for a reply's stats).
EngineCallResult runOnEngine(EngineHost* engine, const GenerationRequest& request,
                             const std::function<void(const QString&)>& onText, const std::atomic<bool>* cancel,
                             const std::function<void(const GenerationOutcome&)>& onFinished = {});

}  // namespace ld::chat
