#pragma once
// Helpers of the history tests: open a HistoryDatabase (a warning says why it failed), and reach
// the SQLite file past it on a plain connection, to build the previous releases' schemas and to
// tamper with or count rows. One copy for test_history_database, _tools and _draft_stats.
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStringList>
#include <QtGlobal>
#include <array>
#include <memory>

#include "app/history/history_database.h"

namespace ld::history::testing {

inline std::unique_ptr<HistoryDatabase> openOrFail(const QString& path, OpenReport* report = nullptr,
                                                   const OpenOptions& options = {}) {
    QString error;
    auto db = HistoryDatabase::open(path, report, &error, options);
    if (!db) qWarning("open failed: %s", qPrintable(error));
    return db;
}

// Runs `statements` (empty ones skipped) on a plain connection; with `foreignKeys` SQLite checks
// them as HistoryDatabase does. False, with a warning per failure, when any failed.
inline bool rawExec(const QString& path, const QStringList& statements, bool foreignKeys = false) {
    bool ok = true;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("raw"));
        db.setDatabaseName(path);
        if (!db.open()) return false;
        QSqlQuery q(db);
        if (foreignKeys) q.exec(QStringLiteral("PRAGMA foreign_keys=ON"));
        for (const QString& s : statements) {
            if (s.trimmed().isEmpty()) continue;
            if (!q.exec(s)) {
                qWarning("raw exec failed: %s: %s", qPrintable(s), qPrintable(q.lastError().text()));
                ok = false;
            }
        }
        q.finish();
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("raw"));
    return ok;
}

// The first column of the first row of `sqlText`, or -1.
inline qint64 rawCount(const QString& path, const QString& sqlText) {
    qint64 n = -1;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("rawcount"));
        db.setDatabaseName(path);
        if (db.open()) {
            QSqlQuery q(db);
            if (q.exec(sqlText) && q.next()) n = q.value(0).toLongLong();
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("rawcount"));
    return n;
}

// A migration's statements (history_sql.h), to build an older release's schema.
template <std::size_t N>
QStringList statementsOf(const std::array<const char*, N>& migration) {
    QStringList out;
    for (const char* s : migration) out << QString::fromUtf8(s);
    return out;
}

}  // namespace ld::history::testing
