#include "app/history/reply_writer.h"

#include "app/history/history_database.h"

namespace ld::history {

ReplyWriter::ReplyWriter(HistoryDatabase& db, qint64 messageId, std::chrono::milliseconds interval)
    : db_(db), messageId_(messageId), interval_(interval), lastWrite_(Clock::now()) {}

bool ReplyWriter::checkpointDue() const {
    return hasPending() && Clock::now() - lastWrite_ >= interval_;
}

Status ReplyWriter::append(const QString& text) {
    if (finished_) return Status::failure(QStringLiteral("The reply was already finished."));
    content_ += text;
    if (!checkpointDue()) return ok();
    return flush();
}

Status ReplyWriter::flush() {
    if (finished_ || !hasPending()) return ok();
    // The clock restarts on failure too, so a full disk is retried once per interval rather
    // than on every token.
    lastWrite_ = Clock::now();
    const Status s = db_.checkpointReply(messageId_, content_);
    if (!s) {
        lastError_ = s.error();
        return s;
    }
    lastError_.clear();
    savedLength_ = content_.size();
    ++checkpoints_;
    if (onCheckpoint_) onCheckpoint_(savedLength_);
    return s;
}

Status ReplyWriter::finish(MessageStatus status, const GenerationStats& stats, const QString& error) {
    if (finished_) return ok();
    const Status s = db_.finishMessage(messageId_, content_, status, stats, error);
    if (!s) {
        lastError_ = s.error();
        return s;
    }
    lastError_.clear();
    savedLength_ = content_.size();
    finished_ = true;
    return s;
}

}  // namespace ld::history
