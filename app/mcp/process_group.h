#pragma once
// A stdio MCP server runs in its own process group (its leader started with setsid()), so that
// stopping it also stops what it started (npx -> node, a shell -> its children).
#include <sys/types.h>

namespace ld::mcp {

// True while some process of group `pgid` is still running. Zombies do not count: an orphaned
// child that has exited waits for init to reap it, which some containers' init does late.
bool processGroupAlive(pid_t pgid);

// Sends `sig` to every process of the group; false when the group is gone.
bool signalProcessGroup(pid_t pgid, int sig);

}  // namespace ld::mcp
