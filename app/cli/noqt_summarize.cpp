// Engine-only builds (no Qt): the document readers live in the app core, so no summarize.
#include <iostream>

#include "app/cli/commands.h"

namespace ld::cli {

int run_summarize_command(const ArgList&) {
    std::cerr << "error: this llamadesk-cli was built without Qt, so it cannot read documents (summarize)\n";
    return 1;
}

}  // namespace ld::cli
