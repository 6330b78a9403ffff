// Opening the history database: bad files moved aside, newer versions refused untouched,
// forward migrations, and recovery of replies whose writer died.
#include <QAtomicInteger>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSqlError>
#include <QStandardPaths>

#include "app/history/history_database.h"
#include "app/history/history_errors.h"
#include "app/history/history_sql.h"

namespace ld::history {
namespace {

QString uniqueConnectionName() {
    static QAtomicInteger<quint64> counter;
    return QStringLiteral("ld-history-%1").arg(counter.fetchAndAddRelaxed(1));
}

enum class Probe { Ok, Corrupt, Failed };

// A file that is not SQLite at all is caught by its header before SQLite sees it.
bool hasSqliteHeader(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) return true;  // unreadable: let SQLite report why
    if (file.size() == 0) return true;                 // an empty file is a new database
    const QByteArray header = file.read(16);
    return header == QByteArray("SQLite format 3\0", 16);
}

// Renames the damaged file (and its WAL/SHM companions) so nothing is lost; returns the new
// name of the main file, or empty when it could not be moved.
QString moveAside(const QString& path) {
    const QString stamp = QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd-HHmmss"));
    QString target = path + QStringLiteral(".corrupt-") + stamp;
    for (int n = 2; QFileInfo::exists(target); ++n)
        target = path + QStringLiteral(".corrupt-%1-%2").arg(stamp).arg(n);
    if (!QFile::rename(path, target)) return {};
    for (const char* suffix : {"-wal", "-shm"}) {
        const QString companion = path + QLatin1String(suffix);
        if (QFileInfo::exists(companion)) QFile::rename(companion, target + QLatin1String(suffix));
    }
    return target;
}

bool scalar(QSqlDatabase& db, const char* sql, QVariant* value, QSqlError* error) {
    QSqlQuery q(db);
    if (!q.exec(QString::fromUtf8(sql)) || !q.next()) {
        *error = q.lastError();
        return false;
    }
    *value = q.value(0);
    return true;
}

bool isCorruption(const QSqlError& error) {
    const SqlFailure f = classify(error);
    return f == SqlFailure::Corrupt || f == SqlFailure::NotADatabase;
}

// Reads enough of the file to trust it: the schema, then a quick structural check.
Probe probe(QSqlDatabase& db, QString* detail) {
    QVariant v;
    QSqlError err;
    if (!scalar(db, sql::kCountSchemaObjects, &v, &err)) {
        *detail = err.text();
        return isCorruption(err) ? Probe::Corrupt : Probe::Failed;
    }
    if (!scalar(db, sql::kQuickCheck, &v, &err)) {
        *detail = err.text();
        return isCorruption(err) ? Probe::Corrupt : Probe::Failed;
    }
    if (v.toString() != QLatin1String("ok")) {
        *detail = v.toString();
        return Probe::Corrupt;
    }
    return Probe::Ok;
}

template <std::size_t N>
bool runMigration(QSqlDatabase& db, const std::array<const char*, N>& statements, QString* error) {
    for (const char* statement : statements) {
        QSqlQuery q(db);
        if (!q.exec(QString::fromUtf8(statement))) {
            *error = describe(q.lastError(), QStringLiteral("upgrade the history database"));
            return false;
        }
    }
    return true;
}

// Each step in its own transaction: a crash mid-upgrade leaves the previous version intact.
bool migrate(QSqlDatabase& db, int from, QString* error) {
    for (int version = from; version < sql::kCurrentSchemaVersion; ++version) {
        QSqlQuery begin(db);
        if (!begin.exec(QString::fromUtf8(sql::kBeginImmediate))) {
            *error = describe(begin.lastError(), QStringLiteral("upgrade the history database"));
            return false;
        }
        bool ok = false;
        switch (version) {
        case 0: ok = runMigration(db, sql::kMigrationV1, error); break;
        case 1: ok = runMigration(db, sql::kMigrationV2, error); break;
        case 2: ok = runMigration(db, sql::kMigrationV3, error); break;
        case 3: ok = runMigration(db, sql::kMigrationV4, error); break;
        default: *error = QStringLiteral("No migration from history schema version %1.").arg(version);
        }
        QSqlQuery end(db);
        if (!ok) {
            end.exec(QString::fromUtf8(sql::kRollback));
            return false;
        }
        if (!end.exec(QString::fromUtf8(sql::kCommit))) {
            *error = describe(end.lastError(), QStringLiteral("upgrade the history database"));
            QSqlQuery(db).exec(QString::fromUtf8(sql::kRollback));
            return false;
        }
    }
    return true;
}

}  // namespace

QString defaultDatabasePath() {
    QString base = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation);
    if (base.isEmpty()) base = QDir::homePath() + QStringLiteral("/.local/share");
    return base + QStringLiteral("/llamadesk/history.db");
}

HistoryDatabase::HistoryDatabase(QString path, QString connectionName, bool readOnly)
    : path_(std::move(path)), connectionName_(std::move(connectionName)), readOnly_(readOnly) {}

HistoryDatabase::~HistoryDatabase() {
    statements_.clear();  // queries must die before their connection is removed
    if (db_.isValid()) db_.close();
    db_ = QSqlDatabase();
    QSqlDatabase::removeDatabase(connectionName_);
}

std::unique_ptr<HistoryDatabase> HistoryDatabase::open(const QString& path, OpenReport* report,
                                                       QString* error, const OpenOptions& options) {
    OpenReport local;
    OpenReport& r = report ? *report : local;
    r = OpenReport{};
    r.path = path;
    QString localError;
    QString& err = error ? *error : localError;

    const QFileInfo info(path);
    if (!QDir().mkpath(info.absolutePath())) {
        err = QStringLiteral("Could not open the history: cannot create the folder %1.")
                  .arg(info.absolutePath());
        return nullptr;
    }
    const bool exists = info.exists();
    bool readOnly = options.readOnly || (exists && !info.isWritable());
    if (!exists && readOnly) {
        err = QStringLiteral("Could not open the history: %1 does not exist.").arg(path);
        return nullptr;
    }

    auto moveAsideOrFail = [&](const QString& why) -> bool {
        if (readOnly) {
            err = QStringLiteral("The history database %1 is damaged (%2) and read-only, so it "
                                 "cannot be replaced. Move it away and restart.").arg(path, why);
            return false;
        }
        const QString moved = moveAside(path);
        if (moved.isEmpty()) {
            err = QStringLiteral("The history database %1 is damaged (%2) and could not be moved "
                                 "aside.").arg(path, why);
            return false;
        }
        r.movedAsidePath = moved;
        r.notices << QStringLiteral("The history database was damaged (%1) and could not be read. "
                                    "It was moved aside to %2 and a new, empty history was "
                                    "started; nothing was deleted.").arg(why, moved);
        return true;
    };

    if (exists && !hasSqliteHeader(path) &&
        !moveAsideOrFail(QStringLiteral("it is not an SQLite database")))
        return nullptr;

    for (int attempt = 0;; ++attempt) {
        std::unique_ptr<HistoryDatabase> self(
            new HistoryDatabase(path, uniqueConnectionName(), readOnly));
        self->db_ = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), self->connectionName_);
        if (!self->db_.isValid()) {
            err = QStringLiteral("Could not open the history: Qt's SQLite driver is not available "
                                 "(install libqt6sql6-sqlite).");
            return nullptr;
        }
        self->db_.setDatabaseName(path);
        // Readers and writers in other processes (the CLI) wait for each other briefly instead
        // of failing with "database is locked".
        QString connectOptions = QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000");
        if (readOnly) connectOptions += QStringLiteral(";QSQLITE_OPEN_READONLY");
        self->db_.setConnectOptions(connectOptions);
        if (!self->db_.open()) {
            err = describe(self->db_.lastError(), QStringLiteral("open the history at ") + path);
            return nullptr;
        }

        QString detail;
        const Probe p = probe(self->db_, &detail);
        if (p == Probe::Corrupt && attempt == 0) {
            self.reset();  // close before renaming
            if (!moveAsideOrFail(detail)) return nullptr;
            continue;
        }
        if (p != Probe::Ok) {
            err = QStringLiteral("Could not read the history database %1: %2").arg(path, detail);
            return nullptr;
        }

        // Read the version before anything writes: a newer database must stay byte-identical.
        QVariant v;
        QSqlError sqlErr;
        int version = 0;
        if (!scalar(self->db_, sql::kHasSchemaVersionTable, &v, &sqlErr)) {
            err = describe(sqlErr, QStringLiteral("read the history database"));
            return nullptr;
        }
        if (v.toInt() == 1) {
            if (!scalar(self->db_, sql::kSelectSchemaVersion, &v, &sqlErr)) {
                err = describe(sqlErr, QStringLiteral("read the history database version"));
                return nullptr;
            }
            version = v.toInt();
        } else {
            if (!scalar(self->db_, sql::kCountUserTables, &v, &sqlErr)) {
                err = describe(sqlErr, QStringLiteral("read the history database"));
                return nullptr;
            }
            if (v.toInt() > 0) {
                err = QStringLiteral("%1 is an SQLite database but not a LlamaDesk history; it "
                                     "was left unchanged. Choose another file.").arg(path);
                return nullptr;
            }
        }
        if (version > sql::kCurrentSchemaVersion) {
            err = QStringLiteral("The history database %1 was written by a newer LlamaDesk (schema "
                                 "version %2; this version understands up to %3). It was not "
                                 "modified: update LlamaDesk to open it.")
                      .arg(path).arg(version).arg(sql::kCurrentSchemaVersion);
            return nullptr;
        }

        QSqlQuery pragma(self->db_);
        pragma.exec(QString::fromUtf8(sql::kForeignKeysOn));
        if (readOnly) {
            if (version < sql::kCurrentSchemaVersion) {
                err = QStringLiteral("The history database %1 is from an older LlamaDesk and needs "
                                     "an upgrade, but it is read-only.").arg(path);
                return nullptr;
            }
            r.readOnly = true;
            r.notices << QStringLiteral("The history database %1 is read-only: conversations can "
                                        "be read, but nothing new will be saved.").arg(path);
        } else {
            if (!pragma.exec(QString::fromUtf8(sql::kJournalModeWal)) || !pragma.next() ||
                pragma.value(0).toString().compare(QLatin1String("wal"), Qt::CaseInsensitive) != 0) {
                err = describe(pragma.lastError(), QStringLiteral("enable crash-safe (WAL) mode on ") + path);
                return nullptr;
            }
            pragma.finish();
            if (!pragma.exec(QString::fromUtf8(sql::kSynchronousFull))) {
                err = describe(pragma.lastError(), QStringLiteral("enable durable writes on ") + path);
                return nullptr;
            }
            if (version < sql::kCurrentSchemaVersion) {
                if (!migrate(self->db_, version, &err)) return nullptr;
                if (version > 0) {
                    r.migratedFrom = version;
                    r.notices << QStringLiteral("The history database was upgraded from version "
                                                "%1 to %2.").arg(version).arg(sql::kCurrentSchemaVersion);
                }
            }
            bool noOtherWriter = false;
            self->writerLock_ = WriterLock::acquire(path, &noOtherWriter);
            if (options.recoverStreaming && noOtherWriter) {
                const Result<int> recovered = self->recoverInterrupted();
                if (!recovered) {
                    err = recovered.error();
                    return nullptr;
                }
                r.recoveredInterrupted = recovered.value();
                if (recovered.value() > 0)
                    r.notices << QStringLiteral("%1 reply(s) were cut off when LlamaDesk last stopped; "
                                                "they are kept as interrupted and can be continued or "
                                                "regenerated.").arg(recovered.value());
            }
            if (self->writerLock_) self->writerLock_->share();
        }
        r.schemaVersion = sql::kCurrentSchemaVersion;
        return self;
    }
}

}  // namespace ld::history
