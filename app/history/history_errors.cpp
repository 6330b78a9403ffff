#include "app/history/history_errors.h"

namespace ld::history {

SqlFailure classify(const QSqlError& error) {
    bool ok = false;
    // Extended result codes carry the primary code in their low byte.
    const int code = error.nativeErrorCode().toInt(&ok) & 0xff;
    if (!ok) return SqlFailure::Other;
    switch (code) {
    case 5: case 6: return SqlFailure::Busy;          // SQLITE_BUSY, SQLITE_LOCKED
    case 8: return SqlFailure::ReadOnly;              // SQLITE_READONLY
    case 10: return SqlFailure::IoError;              // SQLITE_IOERR
    case 11: return SqlFailure::Corrupt;              // SQLITE_CORRUPT
    case 13: return SqlFailure::DiskFull;             // SQLITE_FULL
    case 14: return SqlFailure::CantOpen;             // SQLITE_CANTOPEN
    case 26: return SqlFailure::NotADatabase;         // SQLITE_NOTADB
    default: return SqlFailure::Other;
    }
}

QString describe(const QSqlError& error, const QString& action) {
    QString why;
    switch (classify(error)) {
    case SqlFailure::Busy:
        why = QStringLiteral("the history is locked by another LlamaDesk process; try again");
        break;
    case SqlFailure::ReadOnly:
        why = QStringLiteral("the history database is read-only (check the file's permissions)");
        break;
    case SqlFailure::DiskFull:
        why = QStringLiteral("the disk is full; free some space and try again");
        break;
    case SqlFailure::IoError:
        why = QStringLiteral("the disk reported an input/output error");
        break;
    case SqlFailure::Corrupt:
    case SqlFailure::NotADatabase:
        why = QStringLiteral("the history database is damaged");
        break;
    case SqlFailure::CantOpen:
        why = QStringLiteral("the history database file cannot be opened");
        break;
    case SqlFailure::Other:
        why = QStringLiteral("a database error occurred");
        break;
    }
    const QString detail = error.databaseText().isEmpty() ? error.text() : error.databaseText();
    return QStringLiteral("Could not %1: %2 (%3).").arg(action, why, detail.trimmed());
}

}  // namespace ld::history
