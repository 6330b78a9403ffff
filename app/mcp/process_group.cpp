#include "app/mcp/process_group.h"

#include <QByteArray>
#include <QDir>
#include <QFile>

#include <cerrno>
#include <csignal>

namespace ld::mcp {
namespace {

// Linux: true when /proc/PID/stat says the process is in group `pgid` and not a zombie.
bool liveMember(const QString& pid, pid_t pgid) {
    QFile f(QStringLiteral("/proc/") + pid + QStringLiteral("/stat"));
    if (!f.open(QIODevice::ReadOnly)) return false;
    const QByteArray stat = f.readAll();
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after
    // the last ')'.
    const int close = stat.lastIndexOf(')');
    if (close < 0) return false;
    const QList<QByteArray> fields = stat.mid(close + 2).split(' ');
    if (fields.size() < 3) return false;
    return fields[2].toLongLong() == pgid && fields[0] != "Z" && fields[0] != "X";
}

}  // namespace

bool processGroupAlive(pid_t pgid) {
    if (pgid <= 0) return false;
    if (::kill(-pgid, 0) != 0 && errno == ESRCH) return false;
    if (!QFile::exists(QStringLiteral("/proc/self/stat"))) return true;  // no /proc: trust kill()
    const QStringList pids = QDir(QStringLiteral("/proc")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString& pid : pids) {
        bool numeric = false;
        pid.toLongLong(&numeric);
        if (numeric && liveMember(pid, pgid)) return true;
    }
    return false;
}

bool signalProcessGroup(pid_t pgid, int sig) {
    if (pgid <= 0) return false;
    return ::kill(-pgid, sig) == 0;
}

}  // namespace ld::mcp
