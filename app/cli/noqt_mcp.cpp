// Engine-only builds (no Qt): the MCP client lives in the app core, so there is no mcp command.
#include <iostream>

#include "app/cli/commands.h"

namespace ld::cli {

int run_mcp_command(const ArgList&) {
    std::cerr << "error: this llamadesk-cli was built without Qt, so it has no mcp command\n";
    return 1;
}

}  // namespace ld::cli
