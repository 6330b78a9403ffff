// Engine-only builds (no Qt): the model manager's commands are not available.
#include <iostream>

#include "app/cli/cli_hooks.h"

namespace ld::cli {

int run_models_command(const std::vector<std::string>&) {
    std::cerr << "error: this llamadesk-cli was built without Qt, so it has no models command\n";
    return 1;
}

}  // namespace ld::cli
