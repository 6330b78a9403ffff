#include "app/mcp/mcp_types.h"

namespace ld::mcp {

QString stateName(ServerState s) {
    switch (s) {
    case ServerState::Stopped: return QStringLiteral("stopped");
    case ServerState::Starting: return QStringLiteral("starting");
    case ServerState::Ready: return QStringLiteral("ready");
    case ServerState::Failed: return QStringLiteral("failed");
    }
    return {};
}

const QStringList& supportedProtocolVersions() {
    static const QStringList versions{QStringLiteral("2025-06-18"), QStringLiteral("2025-03-26"),
                                      QStringLiteral("2024-11-05")};
    return versions;
}

}  // namespace ld::mcp
