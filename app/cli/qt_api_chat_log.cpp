// `serve --db`: each API chat saved in the history database like a chat of the app. A chat API
// is stateless (a client sends the whole conversation with each turn), so requests are joined
// into conversations by their turns: a request whose turns start with an earlier request's turns
// and reply goes on in that conversation, one that repeats earlier turns (a regeneration)
// branches there. What was saved is remembered for the life of the server only.
//
// One thread owns the database (a Qt SQL connection belongs to the thread that opened it): the
// HTTP and generation threads only queue work for it, so a slow disk never stalls a reply.
#include <QStringDecoder>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "app/cli/cli_hooks.h"
#include "app/cli/qt_support.h"
#include "app/cli/server/chat_log.h"
#include "app/history/history_database.h"
#include "app/history/reply_writer.h"

namespace ld::cli {
namespace {

using namespace ld::history;

void warn(const QString& text) { std::cerr << "warning: --db: " << text.toStdString() << '\n'; }

// The turns so far as one key: role and content of each, in order.
class TurnKeys {
public:
    void add(const std::string& role, const std::string& content) {
        text_ += role;
        text_ += '\x1f';
        text_ += content;
        text_ += '\x1e';
    }
    size_t key() const { return std::hash<std::string>{}(text_); }

private:
    std::string text_;
};

// Where a saved turn is: its conversation and message.
struct Saved {
    qint64 conversation = 0;
    qint64 message = 0;
};

// What the database thread owns.
struct Store {
    std::unique_ptr<HistoryDatabase> db;
    std::unordered_map<size_t, Saved> turns;  // key of the turns up to a message -> that message
};

// One request's turns and reply; used on the database thread only.
struct Exchange {
    std::string model;
    std::vector<ChatMessage> messages;
    std::unique_ptr<ReplyWriter> reply;  // null when the turns could not be saved
    TurnKeys keys;                       // of every turn saved, for the reply's key
    Saved at;
    QStringDecoder decoder{QStringDecoder::Utf8};  // pieces may split a UTF-8 character
};

void start(Store& s, Exchange& ex);
void finish(Store& s, Exchange& ex, const GenerateResult& result, const std::string& error);

class HistoryChatLog final : public server::ChatLog {
public:
    ~HistoryChatLog() override {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();  // runs what was queued: every reply is finished first
    }

    // Opens the database on its thread; false with *error when it cannot be written.
    bool open(const std::string& path, std::string* error) {
        std::promise<std::string> opened;
        thread_ = std::thread([this, path, &opened] {
            OpenReport report;
            QString openError;
            store_.db = HistoryDatabase::open(qs(path), &report, &openError);
            if (!store_.db) return opened.set_value(openError.toStdString());
            if (store_.db->isReadOnly()) {
                store_.db.reset();
                return opened.set_value("the history database " + path + " is read-only, so chats cannot be saved");
            }
            for (const QString& n : report.notices) std::cerr << "note: " << n.toStdString() << '\n';
            opened.set_value({});
            run();
        });
        *error = opened.get_future().get();
        if (error->empty()) return true;
        thread_.join();
        return false;
    }

    std::shared_ptr<server::ChatRecord> begin(const std::string& model, const std::vector<ChatMessage>& messages) override;

    void post(std::function<void(Store&)> task) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            tasks_.push_back(std::move(task));
        }
        cv_.notify_all();
    }

private:
    void run() {
        for (;;) {
            std::function<void(Store&)> task;
            {
                std::unique_lock<std::mutex> lock(mu_);
                cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
                if (tasks_.empty()) break;
                task = std::move(tasks_.front());
                tasks_.pop_front();
            }
            task(store_);
        }
        store_.db.reset();  // closed on the thread that opened it
    }

    Store store_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void(Store&)>> tasks_;
    bool stop_ = false;
    std::thread thread_;
};

// The reply's pieces and end, queued for the database thread.
class HistoryChatRecord final : public server::ChatRecord {
public:
    HistoryChatRecord(HistoryChatLog& log, std::shared_ptr<Exchange> ex) : log_(log), ex_(std::move(ex)) {}
    void append(std::string_view text) override {
        log_.post([ex = ex_, piece = std::string(text)](Store&) {
            if (!ex->reply) return;
            const QString decoded = ex->decoder(QByteArrayView(piece.data(), qsizetype(piece.size())));
            if (const Status st = ex->reply->append(decoded); !st) warn(st.error());
        });
    }
    void finish(const GenerateResult& result, const std::string& error) override {
        GenerateResult r;  // the counts only: the text is what append() saw
        r.stop = result.stop;
        r.prompt_tokens = result.prompt_tokens;
        r.tokens.resize(result.tokens.size());
        r.evaluated_tokens = result.evaluated_tokens;
        r.prompt_ms = result.prompt_ms;
        r.ttft_ms = result.ttft_ms;
        r.decode_steps = result.decode_steps;
        r.decode_ms = result.decode_ms;
        log_.post([ex = ex_, r = std::move(r), error](Store& s) { cli::finish(s, *ex, r, error); });
    }

private:
    HistoryChatLog& log_;
    std::shared_ptr<Exchange> ex_;
};

std::shared_ptr<server::ChatRecord> HistoryChatLog::begin(const std::string& model, const std::vector<ChatMessage>& messages) {
    auto ex = std::make_shared<Exchange>();
    ex->model = model;
    ex->messages = messages;
    post([ex](Store& s) { start(s, *ex); });
    return std::make_shared<HistoryChatRecord>(*this, ex);
}

void start(Store& s, Exchange& ex) {
    HistoryDatabase& db = *s.db;
    const QString model = qs(ex.model);
    const std::vector<ChatMessage>& msgs = ex.messages;
    // The longest run of leading turns saved before: the conversation goes on after it.
    std::optional<Saved> at;
    size_t i = 0;
    {
        TurnKeys keys;
        for (size_t k = 0; k < msgs.size(); ++k) {
            keys.add(msgs[k].role, msgs[k].content);
            if (const auto it = s.turns.find(keys.key()); it != s.turns.end()) {
                i = k + 1;
                at = it->second;
            }
        }
    }
    for (size_t k = 0; k < i; ++k) ex.keys.add(msgs[k].role, msgs[k].content);
    if (!at) {
        // A new conversation: its leading system messages are its system prompt.
        QStringList system;
        for (; i < msgs.size() && msgs[i].role == "system"; ++i) {
            system << qs(msgs[i].content);
            ex.keys.add(msgs[i].role, msgs[i].content);
        }
        NewConversation n;
        n.model = model;
        n.systemPrompt = system.join(QStringLiteral("\n\n"));
        const Result<Conversation> c = db.createConversation(n);
        if (!c) return warn(c.error());
        at = Saved{c->id, 0};
    }
    ex.at = *at;
    auto parent = [&ex] { return ex.at.message ? std::optional<qint64>(ex.at.message) : std::nullopt; };
    // The turns not saved yet, each under the one before: a branch where they part from earlier turns.
    for (; i < msgs.size(); ++i) {
        const ChatMessage& m = msgs[i];
        ex.keys.add(m.role, m.content);
        if (m.role != "user" && m.role != "assistant") continue;  // later system and tool turns: no chat has them
        NewMessage msg;
        msg.conversationId = ex.at.conversation;
        msg.parentId = parent();
        msg.explicitParent = true;
        msg.role = qs(m.role);
        msg.content = qs(m.content);
        if (m.role == "assistant") msg.model = model;
        const Result<Message> saved = db.addMessage(msg);
        if (!saved) return warn(saved.error());
        if (m.role == "user") db.applyAutoTitle(ex.at.conversation, heuristicTitle(msg.content));
        ex.at.message = saved->id;
        s.turns[ex.keys.key()] = ex.at;
    }
    const Result<Message> reply = db.beginReply(ex.at.conversation, parent(), model);
    if (!reply) return warn(reply.error());
    ex.reply = std::make_unique<ReplyWriter>(db, reply->id);
}

void finish(Store& s, Exchange& ex, const GenerateResult& r, const std::string& error) {
    if (!ex.reply) return;
    const QString rest = ex.decoder(QByteArrayView());  // a character cut off at the end
    if (!rest.isEmpty()) ex.reply->append(rest);
    history::GenerationStats stats;
    stats.promptTokens = r.prompt_tokens;
    stats.genTokens = int(r.tokens.size());
    stats.promptTps = r.prompt_tps();
    stats.genTps = r.gen_tps();
    stats.ttftMs = r.ttft_ms;
    const MessageStatus status = !error.empty() ? MessageStatus::Error
                                 : r.stop == StopReason::Cancelled ? MessageStatus::Interrupted
                                                                   : MessageStatus::Complete;
    if (const Status st = ex.reply->finish(status, stats, qs(error)); !st) return warn(st.error());
    if (status != MessageStatus::Complete) return;
    // The client sends this reply back with its next turn: that request goes on from here.
    ex.keys.add("assistant", ex.reply->content().toStdString());
    s.turns[ex.keys.key()] = Saved{ex.at.conversation, ex.reply->messageId()};
}

}  // namespace

std::unique_ptr<server::ChatLog> make_api_chat_log(const std::string& db_path, std::string* error) {
    ensure_qt_application();
    auto log = std::make_unique<HistoryChatLog>();
    if (!log->open(db_path, error)) return nullptr;
    return log;
}

}  // namespace ld::cli
