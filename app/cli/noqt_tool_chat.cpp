// Engine-only builds (no Qt): tools come from MCP servers through the app core's client.
#include <iostream>

#include "app/cli/commands.h"

namespace ld::cli {

int run_tool_chat(const ArgList&) {
    std::cerr << "error: this llamadesk-cli was built without Qt, so it cannot use MCP tools (--mcp-config); "
                 "build it with Qt, or run generate --chat without --mcp-config\n";
    return 1;
}

}  // namespace ld::cli
