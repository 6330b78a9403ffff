#pragma once
// Blocking wrappers over McpClient for the command line, which has no event loop of its own:
// each runs a local event loop until the answer (or its own deadline). Not for the UI thread.
#include <QJsonObject>
#include <QString>

#include "app/mcp/mcp_client.h"

namespace ld::mcp {

// Starts the server and waits until it is ready (true) or failed / timed out (false, *error).
bool startAndWait(McpClient& client, int timeoutMs, QString* error);

// Why a server that startAllAndWait left out is not ready: its failure, or that it did not get
// ready in time ("MCP server \"name\": ...").
QString notReadyReason(const McpClient& client);

// Calls a tool and waits for its result; timeoutMs is the call's own timeout (with cancellation).
CallResult callToolAndWait(McpClient& client, const QString& name, const QJsonObject& arguments, int timeoutMs);

// Stops the server and waits until its process group is gone (at most timeoutMs).
bool stopAndWait(McpClient& client, int timeoutMs);

}  // namespace ld::mcp
