#pragma once
// Every SQL statement of the history database, by name. Migrations are lists of single
// statements because QSqlQuery runs one statement per exec().
#include <array>

namespace ld::history::sql {

// Bump with a new migration appended to kMigrations; never edit a shipped migration.
inline constexpr int kCurrentSchemaVersion = 4;

// --- Connection setup -------------------------------------------------------------------------
// WAL lets readers (the CLI, a second window) read while the app writes; synchronous=FULL
// fsyncs the WAL at every commit so a committed message survives power loss, not only a crash.
inline constexpr const char* kJournalModeWal = "PRAGMA journal_mode=WAL";
inline constexpr const char* kSynchronousFull = "PRAGMA synchronous=FULL";
inline constexpr const char* kForeignKeysOn = "PRAGMA foreign_keys=ON";
inline constexpr const char* kQuickCheck = "PRAGMA quick_check(1)";
inline constexpr const char* kCountSchemaObjects = "SELECT count(*) FROM sqlite_master";
inline constexpr const char* kHasSchemaVersionTable =
    "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_version'";
inline constexpr const char* kCountUserTables =
    "SELECT count(*) FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'";
inline constexpr const char* kSelectSchemaVersion = "SELECT max(version) FROM schema_version";
inline constexpr const char* kBeginImmediate = "BEGIN IMMEDIATE";
inline constexpr const char* kCommit = "COMMIT";
inline constexpr const char* kRollback = "ROLLBACK";

// --- Migrations -------------------------------------------------------------------------------
// v1: the first shipped schema (tests/app/fixtures/history_v1.sql is a database of this shape).
inline constexpr std::array kMigrationV1 = {
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version(version) VALUES (1)",
    "CREATE TABLE conversations ("
    " id INTEGER PRIMARY KEY,"
    " title TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " model TEXT NOT NULL DEFAULT '',"
    " system_prompt TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE messages ("
    " id INTEGER PRIMARY KEY,"
    " conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    " role TEXT NOT NULL,"
    " content TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'complete'"
    "  CHECK (status IN ('complete','streaming','interrupted','error')))",
    "CREATE INDEX messages_by_conversation ON messages(conversation_id, id)",
};

// v2: branches (parent links), generation stats, sampling settings, attachments, full-text search.
inline constexpr std::array kMigrationV2 = {
    "ALTER TABLE conversations ADD COLUMN sampling TEXT NOT NULL DEFAULT '{}'",
    // No foreign key: it would make conversations and messages reference each other.
    "ALTER TABLE conversations ADD COLUMN current_leaf_id INTEGER",
    "ALTER TABLE messages ADD COLUMN parent_id INTEGER REFERENCES messages(id) ON DELETE SET NULL",
    "ALTER TABLE messages ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN model TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE messages ADD COLUMN prompt_tokens INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN gen_tokens INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN prompt_tps REAL NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN gen_tps REAL NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN ttft_ms REAL NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN error TEXT NOT NULL DEFAULT ''",
    "UPDATE messages SET updated_at = created_at",
    // v1 chats were linear: each message follows the previous one of its conversation.
    "UPDATE messages SET parent_id = (SELECT max(p.id) FROM messages p"
    " WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id)",
    "UPDATE conversations SET current_leaf_id ="
    " (SELECT max(m.id) FROM messages m WHERE m.conversation_id = conversations.id)",
    "CREATE INDEX messages_by_parent ON messages(parent_id)",
    "CREATE INDEX messages_by_status ON messages(status) WHERE status = 'streaming'",
    "CREATE INDEX conversations_by_updated ON conversations(updated_at DESC, id DESC)",
    "CREATE TABLE attachments ("
    " id INTEGER PRIMARY KEY,"
    " conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    " message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,"
    " file_name TEXT NOT NULL,"
    " sha256 TEXT NOT NULL DEFAULT '',"
    " size_bytes INTEGER NOT NULL DEFAULT 0,"
    " mime_type TEXT NOT NULL DEFAULT '',"
    " extracted_text TEXT NOT NULL DEFAULT '',"
    " summary TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL)",
    "CREATE INDEX attachments_by_conversation ON attachments(conversation_id)",
    "CREATE INDEX attachments_by_message ON attachments(message_id)",
    "CREATE INDEX attachments_by_hash ON attachments(sha256)",
    // External-content FTS: the text is stored once, in messages/conversations. A reply is
    // indexed when it stops streaming, so its ~4 checkpoints a second do not churn the index.
    // Prefix indexes keep search-as-you-type ("ste" -> stew, steak, ...) fast on a big history.
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3 4')",
    "CREATE VIRTUAL TABLE conversations_fts USING fts5(title, content='conversations',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3 4')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages"
    " WHEN new.status <> 'streaming' BEGIN"
    " INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages"
    " WHEN old.status <> 'streaming' BEGIN"
    " INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);"
    " END",
    // One trigger, two statements: the old row must leave the index before the new one enters.
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages BEGIN"
    " INSERT INTO messages_fts(messages_fts, rowid, content)"
    "  SELECT 'delete', old.id, old.content WHERE old.status <> 'streaming';"
    " INSERT INTO messages_fts(rowid, content)"
    "  SELECT new.id, new.content WHERE new.status <> 'streaming';"
    " END",
    "CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN"
    " INSERT INTO conversations_fts(rowid, title) VALUES (new.id, new.title); END",
    "CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN"
    " INSERT INTO conversations_fts(conversations_fts, rowid, title)"
    "  VALUES ('delete', old.id, old.title); END",
    "CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN"
    " INSERT INTO conversations_fts(conversations_fts, rowid, title)"
    "  VALUES ('delete', old.id, old.title);"
    " INSERT INTO conversations_fts(rowid, title) VALUES (new.id, new.title);"
    " END",
    "INSERT INTO messages_fts(rowid, content) SELECT id, content FROM messages"
    " WHERE status <> 'streaming'",
    "INSERT INTO conversations_fts(rowid, title) SELECT id, title FROM conversations",
    "UPDATE schema_version SET version = 2",
};

// v3: tool calls and their results (issue 18). Tables keyed by message rather than JSON in a
// messages column: a message holds a list of calls whose decisions change after it is written,
// and a result must name a call that exists, which a foreign key states and enforces. The
// result's text stays in messages.content, so branches, status and export treat it like any
// message; tool_results holds only what is particular to it (one row per tool message).
// Search skips tool results: tool output (file dumps, JSON) would bury the user's own words and
// the replies (which quote what mattered) under noise, and can be large.
inline constexpr std::array kMigrationV3 = {
    "CREATE TABLE tool_calls ("
    " id INTEGER PRIMARY KEY,"
    " message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    " position INTEGER NOT NULL,"
    " call_id TEXT NOT NULL CHECK (call_id <> ''),"
    " server TEXT NOT NULL DEFAULT '',"
    " name TEXT NOT NULL CHECK (name <> ''),"
    " arguments TEXT NOT NULL DEFAULT '{}',"
    " decision TEXT NOT NULL DEFAULT 'pending'"
    "  CHECK (decision IN ('pending','allowed_once','always_allowed','denied')),"
    " UNIQUE (message_id, call_id),"
    " UNIQUE (message_id, position))",
    // No ON DELETE action on tool_call_id: a call cannot go while a result answers it (deleting
    // a whole conversation removes both in one statement, which the check allows).
    "CREATE TABLE tool_results ("
    " message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,"
    " tool_call_id INTEGER NOT NULL REFERENCES tool_calls(id),"
    " is_error INTEGER NOT NULL DEFAULT 0 CHECK (is_error IN (0, 1)),"
    " truncated INTEGER NOT NULL DEFAULT 0 CHECK (truncated IN (0, 1)))",
    "CREATE INDEX tool_results_by_call ON tool_results(tool_call_id)",
    // Rows with role 'tool' leave the index (a v2 database may hold some as plain messages),
    // then the triggers are re-made to skip them; each trigger must test the same condition as
    // the one that indexed the row, or an FTS5 'delete' would name text that was never indexed.
    "INSERT INTO messages_fts(messages_fts, rowid, content)"
    " SELECT 'delete', id, content FROM messages WHERE role = 'tool' AND status <> 'streaming'",
    "DROP TRIGGER messages_fts_insert",
    "DROP TRIGGER messages_fts_delete",
    "DROP TRIGGER messages_fts_update",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages"
    " WHEN new.status <> 'streaming' AND new.role <> 'tool' BEGIN"
    " INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages"
    " WHEN old.status <> 'streaming' AND old.role <> 'tool' BEGIN"
    " INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);"
    " END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status, role ON messages BEGIN"
    " INSERT INTO messages_fts(messages_fts, rowid, content)"
    "  SELECT 'delete', old.id, old.content WHERE old.status <> 'streaming' AND old.role <> 'tool';"
    " INSERT INTO messages_fts(rowid, content)"
    "  SELECT new.id, new.content WHERE new.status <> 'streaming' AND new.role <> 'tool';"
    " END",
    "UPDATE schema_version SET version = 3",
};

// v4: speculative decoding's numbers in a reply's stats ("Speed up replies": tokens drafted and
// accepted); 0 for replies written before, which were not sped up.
inline constexpr std::array kMigrationV4 = {
    "ALTER TABLE messages ADD COLUMN drafted INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN accepted INTEGER NOT NULL DEFAULT 0",
    "UPDATE schema_version SET version = 4",
};

// --- Conversations ----------------------------------------------------------------------------
inline constexpr const char* kInsertConversation =
    "INSERT INTO conversations(title, created_at, updated_at, model, system_prompt, sampling,"
    " current_leaf_id) VALUES (?, ?, ?, ?, ?, ?, NULL)";
inline constexpr const char* kListConversations =
    "SELECT c.id, c.title, c.created_at, c.updated_at, c.model, c.system_prompt, c.sampling,"
    " c.current_leaf_id, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
    " FROM conversations c ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?";
inline constexpr const char* kSelectConversation =
    "SELECT c.id, c.title, c.created_at, c.updated_at, c.model, c.system_prompt, c.sampling,"
    " c.current_leaf_id, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
    " FROM conversations c WHERE c.id = ?";
inline constexpr const char* kCountConversations = "SELECT count(*) FROM conversations";
inline constexpr const char* kSelectAllConversationIds =
    "SELECT id FROM conversations ORDER BY updated_at DESC, id DESC";
inline constexpr const char* kRenameConversation = "UPDATE conversations SET title = ? WHERE id = ?";
// An automatic title never replaces one the user (or an earlier auto-title) already set.
inline constexpr const char* kSetTitleIfEmpty =
    "UPDATE conversations SET title = ? WHERE id = ? AND title = ''";
inline constexpr const char* kDeleteConversation = "DELETE FROM conversations WHERE id = ?";
inline constexpr const char* kTouchConversation =
    "UPDATE conversations SET updated_at = ?, current_leaf_id = ? WHERE id = ?";
inline constexpr const char* kSetCurrentLeaf =
    "UPDATE conversations SET current_leaf_id = ? WHERE id = ?";
inline constexpr const char* kUpdateConversationSettings =
    "UPDATE conversations SET model = ?, system_prompt = ?, sampling = ? WHERE id = ?";
inline constexpr const char* kInsertConversationFull =
    "INSERT INTO conversations(title, created_at, updated_at, model, system_prompt, sampling,"
    " current_leaf_id) VALUES (?, ?, ?, ?, ?, ?, ?)";

// --- Messages ---------------------------------------------------------------------------------
inline constexpr const char* kInsertMessage =
    "INSERT INTO messages(conversation_id, parent_id, role, content, created_at, updated_at,"
    " status, model, prompt_tokens, gen_tokens, prompt_tps, gen_tps, ttft_ms, error, drafted, accepted)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
inline constexpr const char* kSelectMessages =
    "SELECT id, conversation_id, parent_id, role, content, created_at, updated_at, status, model,"
    " prompt_tokens, gen_tokens, prompt_tps, gen_tps, ttft_ms, error, drafted, accepted"
    " FROM messages WHERE conversation_id = ? ORDER BY id";
inline constexpr const char* kSelectMessage =
    "SELECT id, conversation_id, parent_id, role, content, created_at, updated_at, status, model,"
    " prompt_tokens, gen_tokens, prompt_tps, gen_tps, ttft_ms, error, drafted, accepted"
    " FROM messages WHERE id = ?";
// A checkpoint touches only a reply that is still streaming: a late checkpoint can never
// overwrite a finished message.
inline constexpr const char* kCheckpointMessage =
    "UPDATE messages SET content = ?, updated_at = ? WHERE id = ? AND status = 'streaming'";
inline constexpr const char* kFinishMessage =
    "UPDATE messages SET content = ?, updated_at = ?, status = ?, prompt_tokens = ?,"
    " gen_tokens = ?, prompt_tps = ?, gen_tps = ?, ttft_ms = ?, error = ?, drafted = ?, accepted = ? WHERE id = ?";
inline constexpr const char* kSetMessageUpdated = "UPDATE messages SET updated_at = ? WHERE id = ?";
inline constexpr const char* kUpdateMessageParent = "UPDATE messages SET parent_id = ? WHERE id = ?";
inline constexpr const char* kRecoverStreaming =
    "UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'";
inline constexpr const char* kSelectLatestMessageId =
    "SELECT max(id) FROM messages WHERE conversation_id = ?";
inline constexpr const char* kSelectFirstExchange =
    "SELECT role, content FROM messages WHERE conversation_id = ? AND role IN ('user','assistant')"
    " ORDER BY id LIMIT 2";

// --- Tool calls and results -------------------------------------------------------------------
inline constexpr const char* kInsertToolCall =
    "INSERT INTO tool_calls(message_id, position, call_id, server, name, arguments, decision)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)";
inline constexpr const char* kDeleteToolCalls = "DELETE FROM tool_calls WHERE message_id = ?";
inline constexpr const char* kCountAnsweredCalls =
    "SELECT count(*) FROM tool_results r JOIN tool_calls c ON c.id = r.tool_call_id WHERE c.message_id = ?";
inline constexpr const char* kSetToolDecision =
    "UPDATE tool_calls SET decision = ? WHERE message_id = ? AND call_id = ?";
inline constexpr const char* kSelectToolCallsOfConversation =
    "SELECT message_id, call_id, server, name, arguments, decision FROM tool_calls"
    " WHERE message_id IN (SELECT id FROM messages WHERE conversation_id = ?)"
    " ORDER BY message_id, position";
inline constexpr const char* kSelectToolCallsOfMessage =
    "SELECT message_id, call_id, server, name, arguments, decision FROM tool_calls"
    " WHERE message_id = ? ORDER BY position";
inline constexpr const char* kSelectToolResultsOfConversation =
    "SELECT r.message_id, c.call_id, r.is_error, r.truncated FROM tool_results r"
    " JOIN tool_calls c ON c.id = r.tool_call_id"
    " WHERE r.message_id IN (SELECT id FROM messages WHERE conversation_id = ?)";
inline constexpr const char* kSelectToolResultOfMessage =
    "SELECT r.message_id, c.call_id, r.is_error, r.truncated FROM tool_results r"
    " JOIN tool_calls c ON c.id = r.tool_call_id WHERE r.message_id = ?";
// The call a result answers: walk up from the result's parent, nearest call with that id first.
inline constexpr const char* kFindCallOnBranch =
    "WITH RECURSIVE up(id, depth) AS (SELECT ?, 0"
    " UNION ALL SELECT m.parent_id, up.depth + 1 FROM messages m JOIN up ON m.id = up.id"
    "  WHERE m.parent_id IS NOT NULL AND up.depth < 1000000)"
    " SELECT c.id FROM up JOIN tool_calls c ON c.message_id = up.id WHERE c.call_id = ?"
    " ORDER BY up.depth LIMIT 1";
inline constexpr const char* kInsertToolResult =
    "INSERT INTO tool_results(message_id, tool_call_id, is_error, truncated) VALUES (?, ?, ?, ?)";

// --- Attachments ------------------------------------------------------------------------------
inline constexpr const char* kInsertAttachment =
    "INSERT INTO attachments(conversation_id, message_id, file_name, sha256, size_bytes, mime_type,"
    " extracted_text, summary, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
inline constexpr const char* kSelectAttachments =
    "SELECT id, conversation_id, message_id, file_name, sha256, size_bytes, mime_type,"
    " extracted_text, summary, created_at FROM attachments WHERE conversation_id = ? ORDER BY id";
inline constexpr const char* kUpdateAttachmentSummary =
    "UPDATE attachments SET summary = ? WHERE id = ?";
inline constexpr const char* kSelectAttachmentConversation =
    "SELECT conversation_id FROM attachments WHERE id = ?";

// --- Search -----------------------------------------------------------------------------------
// Newest first: FTS5 walks its index in rowid order and stops at LIMIT, which keeps a common
// word fast on a large history (bm25 ranking would score every match first).
inline constexpr const char* kSearchMessages =
    "SELECT m.id, m.conversation_id, c.title, m.role, m.created_at,"
    " snippet(messages_fts, 0, ?, ?, '…', 16)"
    " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
    " JOIN conversations c ON c.id = m.conversation_id"
    " WHERE messages_fts MATCH ? ORDER BY messages_fts.rowid DESC LIMIT ?";
inline constexpr const char* kSearchTitles =
    "SELECT c.id, c.title, c.updated_at, highlight(conversations_fts, 0, ?, ?)"
    " FROM conversations_fts JOIN conversations c ON c.id = conversations_fts.rowid"
    " WHERE conversations_fts MATCH ? ORDER BY conversations_fts.rowid DESC LIMIT ?";

}  // namespace ld::history::sql
