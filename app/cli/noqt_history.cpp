// Engine-only builds (no Qt): the history commands are not available.
#include <iostream>

#include "app/cli/cli_hooks.h"

namespace ld::cli {

std::unique_ptr<GenerationRecorder> make_history_recorder(const std::string&, std::optional<int64_t>,
                                                          std::string* error) {
    *error = "this llamadesk-cli was built without Qt, so it has no conversation history (--db)";
    return nullptr;
}

int run_history_command(const std::vector<std::string>&) {
    std::cerr << "error: this llamadesk-cli was built without Qt, so it has no history command\n";
    return 1;
}

}  // namespace ld::cli
