#pragma once
// `generate --db PATH [--conversation ID]`, local or --remote: one place that opens the history
// recorder from the arguments and commits the user message before anything is generated.
#include <memory>
#include <string>

#include "app/cli/cli_hooks.h"

namespace ld::cli {

class Args;

// nullptr without --db. Otherwise the recorder with the user message committed (the conversation
// id printed to stderr); throws ld::Error when the database cannot be opened or the message not
// saved (nothing is generated then), UsageError for --conversation without --db.
std::unique_ptr<GenerationRecorder> start_history_recording(const Args& args, const std::string& model_label,
                                                            const std::string& system_prompt,
                                                            const std::string& user_text);

}  // namespace ld::cli
