#pragma once
// Turns SQLite failures into sentences a user can act on ("the disk is full"), keeping the
// driver's own text at the end for bug reports.
#include <QSqlError>
#include <QString>

namespace ld::history {

enum class SqlFailure { Other, Busy, ReadOnly, DiskFull, Corrupt, NotADatabase, IoError, CantOpen };

// The SQLite primary result code in `error` (its native code), classified.
SqlFailure classify(const QSqlError& error);

// "Could not <action>: the disk is full (database or disk is full)."
QString describe(const QSqlError& error, const QString& action);

}  // namespace ld::history
