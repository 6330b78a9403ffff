#pragma once
// Shared by the MCP tests: where node, the fake server and the official servers (npm ci of
// tests/mcp/package-lock.json into LLAMADESK_MCP_SERVERS_DIR, done by scripts/test.sh) are, and a
// check that a server's whole process group is gone.
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>
#include <QString>
#include <QTest>

#include <cerrno>
#include <csignal>

#include "../qt_test_util.h"
#include "app/mcp/mcp_config.h"

namespace ld::test {

inline QString nodeExecutable() { return QStandardPaths::findExecutable(QStringLiteral("node")); }

inline QString fakeServerScript() { return QStringLiteral(LLAMADESK_SOURCE_DIR "/tests/mcp/fake_server.js"); }

inline QString officialServer(const QString& package) {
    return QStringLiteral(LLAMADESK_MCP_SERVERS_DIR "/node_modules/@modelcontextprotocol/") + package +
           QStringLiteral("/dist/index.js");
}

inline mcp::ServerConfig fakeServer(const QString& mode) {
    mcp::ServerConfig c;
    c.name = QStringLiteral("fake-") + mode;
    c.command = nodeExecutable();
    c.args = {fakeServerScript(), mode};
    return c;
}

// True once no process of the group exists any more (kill(-pgid, 0) fails with ESRCH). An
// orphaned child that exited stays a zombie (still "in" the group) until init reaps it, which
// some container inits do only every second or two, hence the wait.
inline bool processGroupGone(pid_t pgid, int waitMs = 8000) {
    if (pgid <= 0) return false;
    return QTest::qWaitFor([pgid] { return ::kill(-pgid, 0) != 0 && errno == ESRCH; }, waitMs);
}

}  // namespace ld::test

#define LD_REQUIRE_NODE()                                                             \
    do {                                                                              \
        if (::ld::test::nodeExecutable().isEmpty())                                   \
            LD_QSKIP_OR_FAIL_IN_CI("needs node (Debian: nodejs) for the MCP servers"); \
    } while (0)

#define LD_REQUIRE_OFFICIAL_SERVERS()                                                                      \
    do {                                                                                                   \
        LD_REQUIRE_NODE();                                                                                 \
        if (!QFileInfo::exists(::ld::test::officialServer(QStringLiteral("server-everything"))) ||          \
            !QFileInfo::exists(::ld::test::officialServer(QStringLiteral("server-filesystem"))))            \
            LD_QSKIP_OR_FAIL_IN_CI("needs the MCP servers from npm in " LLAMADESK_MCP_SERVERS_DIR            \
                                   " (scripts/test.sh runs npm ci with tests/mcp/package-lock.json)");     \
    } while (0)
