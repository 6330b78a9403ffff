#include "app/cli/history_recording.h"

#include <cstdint>
#include <iostream>
#include <optional>

#include "app/cli/args.h"
#include "inference/core/error.h"

namespace ld::cli {

std::unique_ptr<GenerationRecorder> start_history_recording(const Args& args, const std::string& model_label,
                                                            const std::string& system_prompt,
                                                            const std::string& user_text) {
    if (args.has("--conversation") && !args.has("--db")) throw UsageError("--conversation needs --db");
    if (!args.has("--db")) return nullptr;
    std::optional<int64_t> conv;
    if (args.has("--conversation")) conv = args.get_int("--conversation", 0, 1, INT64_MAX);
    std::string err;
    std::unique_ptr<GenerationRecorder> recorder = make_history_recorder(args.get("--db"), conv, &err);
    if (!recorder) fail(err);
    const int64_t id = recorder->begin(model_label, system_prompt, user_text);
    if (id < 0) fail("the prompt could not be saved to ", args.get("--db"), ", so nothing was generated");
    std::cerr << "conversation: " << id << "\n";
    return recorder;
}

}  // namespace ld::cli
