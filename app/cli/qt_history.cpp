// llamadesk-cli's conversation history: `generate --db` records through make_history_recorder,
// `history ...` reads, exports and imports. Both use the synchronous HistoryDatabase directly
// (the CLI has no UI thread to protect).
#include <QCoreApplication>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QStringDecoder>
#include <cstdio>
#include <iostream>

#include "app/cli/cli_hooks.h"
#include "app/cli/qt_support.h"
#include "app/history/exchange_recorder.h"
#include "app/history/history_database.h"
#include "app/history/history_export.h"

namespace ld::cli {
namespace {

using namespace ld::history;


void printErr(const QString& text) { std::cerr << text.toStdString() << '\n'; }

std::unique_ptr<HistoryDatabase> openDatabase(const QString& path, std::string* error) {
    ensure_qt_application();
    OpenReport report;
    QString openError;
    auto db = HistoryDatabase::open(path, &report, &openError);
    if (!db) {
        *error = openError.toStdString();
        return nullptr;
    }
    for (const QString& n : report.notices) printErr(QStringLiteral("note: ") + n);
    return db;
}

class DatabaseRecorder final : public GenerationRecorder {
public:
    DatabaseRecorder(std::unique_ptr<HistoryDatabase> db, std::optional<int64_t> conversationId)
        : db_(std::move(db)), recorder_(*db_, conversationId) {}

    // -1 (with the reason on stderr) when the user message could not be saved: the caller
    // should not generate a reply that cannot be recorded. The caller prints the id.
    int64_t begin(const std::string& model, const std::string& systemPrompt,
                  const std::string& userText) override {
        const Result<qint64> id = recorder_.begin(qs(model), qs(systemPrompt), qs(userText));
        if (!id) {
            printErr(QStringLiteral("error: ") + id.error());
            return -1;
        }
        return id.value();
    }

    // Token pieces may split a UTF-8 sequence; the stateful decoder holds the partial bytes.
    void append(const std::string& text) override {
        const QString decoded = decoder_(QByteArrayView(text.data(), qsizetype(text.size())));
        const Status s = recorder_.append(decoded);
        if (!s && !warned_) {
            warned_ = true;  // the reply still reaches stdout; say once that it is not saved
            printErr(QStringLiteral("warning: ") + s.error() + QStringLiteral(" Retrying."));
        }
    }

    void finish(const GenerationStats& stats, ReplyEnd end, const std::string& error) override {
        history::GenerationStats s;
        s.promptTokens = stats.prompt_tokens;
        s.genTokens = stats.gen_tokens;
        s.promptTps = stats.prompt_tps;
        s.genTps = stats.gen_tps;
        s.ttftMs = stats.ttft_ms;
        s.drafted = stats.drafted;
        s.accepted = stats.accepted;
        const Status r = end == ReplyEnd::Interrupted && recorder_.reply()
                             ? recorder_.reply()->finish(MessageStatus::Interrupted, s, QString())
                             : recorder_.finish(s, end == ReplyEnd::Complete, qs(error));
        if (!r) printErr(QStringLiteral("error: the reply was not saved: ") + r.error());
    }

private:
    std::unique_ptr<HistoryDatabase> db_;
    ExchangeRecorder recorder_;
    QStringDecoder decoder_{QStringDecoder::Utf8};
    bool warned_ = false;
};

void writeOut(const QByteArray& bytes) { std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stdout); }

void printJson(const QJsonValue& v) {
    const QJsonDocument doc = v.isArray() ? QJsonDocument(v.toArray()) : QJsonDocument(v.toObject());
    writeOut(doc.toJson(QJsonDocument::Indented));
}

int usage() {
    std::cerr << "usage: llamadesk-cli history [--db PATH] list [--limit N] [--offset N]\n"
                 "       llamadesk-cli history [--db PATH] show ID\n"
                 "       llamadesk-cli history [--db PATH] search TEXT [--limit N]\n"
                 "       llamadesk-cli history [--db PATH] export ID|all --format md|json\n"
                 "       llamadesk-cli history [--db PATH] import FILE\n"
                 "The database defaults to " << defaultDatabasePath().toStdString() << ".\n";
    return 2;
}

int fail(const QString& text) {
    printErr(QStringLiteral("error: ") + text);
    return 1;
}

std::optional<qint64> parseId(const std::string& s) {
    bool ok = false;
    const qint64 id = qs(s).toLongLong(&ok);
    return ok ? std::optional(id) : std::nullopt;
}

}  // namespace

std::unique_ptr<GenerationRecorder> make_history_recorder(const std::string& db_path,
                                                          std::optional<int64_t> conversation_id,
                                                          std::string* error) {
    auto db = openDatabase(qs(db_path), error);
    if (!db) return nullptr;
    if (db->isReadOnly()) {
        *error = "the history database " + db_path + " is read-only, so the conversation cannot be recorded";
        return nullptr;
    }
    return std::make_unique<DatabaseRecorder>(std::move(db), conversation_id);
}

int run_history_command(const std::vector<std::string>& args) {
    QString dbPath;
    QString format;
    int limit = 50;
    int offset = 0;
    std::vector<std::string> positional;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= args.size()) return std::nullopt;
            return args[++i];
        };
        if (a == "--db" || a == "--format" || a == "--limit" || a == "--offset") {
            const auto v = value();
            if (!v) return fail(QStringLiteral("%1 needs a value.").arg(qs(a)));
            if (a == "--db") dbPath = qs(*v);
            else if (a == "--format") format = qs(*v);
            else if (a == "--limit") limit = qs(*v).toInt();
            else offset = qs(*v).toInt();
        } else if (a == "-h" || a == "--help") {
            usage();
            return 0;
        } else {
            positional.push_back(a);
        }
    }
    if (positional.empty()) return usage();
    if (dbPath.isEmpty()) dbPath = defaultDatabasePath();
    const std::string command = positional[0];

    std::string openError;
    auto db = openDatabase(dbPath, &openError);
    if (!db) return fail(qs(openError));

    if (command == "list") {
        const auto list = db->listConversations(offset, limit > 0 ? limit : 50);
        if (!list) return fail(list.error());
        QJsonArray out;
        for (const Conversation& c : list.value()) out.append(toJson(c));
        printJson(out);
        return 0;
    }
    if (command == "show") {
        const auto id = positional.size() == 2 ? parseId(positional[1]) : std::nullopt;
        if (!id) return usage();
        const auto bundle = db->bundle(*id);
        if (!bundle) return fail(bundle.error());
        printJson(toJson(bundle.value()));
        return 0;
    }
    if (command == "search") {
        if (positional.size() < 2) return usage();
        QStringList words;
        for (size_t i = 1; i < positional.size(); ++i) words << qs(positional[i]);
        SearchOptions options;
        options.limit = limit > 0 ? limit : 50;
        const auto hits = db->search(words.join(QLatin1Char(' ')), options);
        if (!hits) return fail(hits.error());
        QJsonArray out;
        for (const SearchHit& h : hits.value()) out.append(toJson(h));
        printJson(out);
        return 0;
    }
    if (command == "export") {
        if (positional.size() != 2) return usage();
        if (format != QLatin1String("md") && format != QLatin1String("json"))
            return fail(QStringLiteral("export needs --format md or --format json."));
        QList<qint64> ids;
        if (positional[1] == "all") {
            const auto all = db->allConversationIds();
            if (!all) return fail(all.error());
            ids = all.value();
        } else {
            const auto id = parseId(positional[1]);
            if (!id) return usage();
            ids << *id;
        }
        QList<ConversationBundle> bundles;
        for (qint64 id : ids) {
            const auto b = db->bundle(id);
            if (!b) return fail(b.error());
            bundles << b.value();
        }
        writeOut(format == QLatin1String("json") ? exportJson(bundles) : exportMarkdown(bundles).toUtf8());
        return 0;
    }
    if (command == "import") {
        if (positional.size() != 2) return usage();
        QFile file(qs(positional[1]));
        if (!file.open(QIODevice::ReadOnly))
            return fail(QStringLiteral("Cannot read %1: %2").arg(file.fileName(), file.errorString()));
        const auto parsed = parseExportJson(file.readAll());
        if (!parsed) return fail(parsed.error());
        // All conversations of the file in one transaction: on an error nothing is imported.
        const auto imported = db->importBundles(parsed.value());
        if (!imported) return fail(imported.error());
        QJsonArray ids;
        for (qint64 id : imported.value()) ids.append(double(id));
        printJson(ids);
        return 0;
    }
    printErr(QStringLiteral("error: unknown history command '%1'.").arg(qs(command)));
    return usage();
}

}  // namespace ld::cli
