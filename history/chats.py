"""Conversations, messages (with full-text search) and answer checks in the history database.

A mixin of `History` (see `store.py`); it runs the SQL for the chat side of the app and knows
nothing about Qt or the engine. The models and settings rows that chats and eval runs both
point at are in `models.py`. Settings and stats are stored as JSON columns, so a new sampling
field never needs a migration.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import HistoryError
from .base import Tables, from_json, now, sql, to_json, write

def fts_query(text: str) -> str:
    """Quote each word so user text (with `-`, `:`, quotes...) is never FTS syntax."""
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


class ChatStore(Tables):
    """Mixed into History; `self.db` is this thread's open sqlite_utils.Database."""

    @sql
    def new_conversation(self, title: str, model_id: int | None, settings: Any) -> int:
        stamp = now()
        with write(self):
            return self.db.execute(
                "INSERT INTO conversations (title, model_id, settings_json, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [title, model_id, to_json(settings) or "{}", stamp, stamp],
            ).lastrowid

    @sql
    def add_message(self, conversation_id: int, role: str, content: str, parent_id: int | None = None,
                    settings: Any = None, stats: Any = None, tokens: Any = None) -> int:
        with write(self):
            if self.db.execute("SELECT 1 FROM conversations WHERE id = ?", [conversation_id]).fetchone() is None:
                raise HistoryError(f"no conversation with id {conversation_id} in {self.path}")
            settings_id = self.upsert_settings(settings) if settings is not None else None
            stamp = now()
            message_id = self.db.execute(
                "INSERT INTO messages (conversation_id, parent_id, role, content, settings_id, "
                "settings_json, stats_json, tokens_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [conversation_id, parent_id, role, content, settings_id, to_json(settings),
                 to_json(stats), to_json(tokens), stamp],
            ).lastrowid
            self.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", [stamp, conversation_id])
        return message_id

    @sql
    def update_conversation(self, conversation_id: int, title: str | None = None, settings: Any = None) -> None:
        sets, args = ["updated_at = ?"], [now()]
        if title is not None:
            sets.append("title = ?")
            args.append(title)
        if settings is not None:
            sets.append("settings_json = ?")
            args.append(to_json(settings))
        with write(self):
            cur = self.db.execute(f"UPDATE conversations SET {', '.join(sets)} WHERE id = ?", [*args, conversation_id])
            if cur.rowcount == 0:
                raise HistoryError(f"no conversation with id {conversation_id} in {self.path}")

    @sql
    def conversations(self, limit: int = 200) -> list[dict]:
        """Newest first: id, title, created_at, updated_at, settings, model_id, n_messages."""
        rows = self._all(
            "SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS n_messages "
            "FROM conversations c ORDER BY c.updated_at DESC, c.id DESC LIMIT ?", [limit])
        for row in rows:
            row["settings"] = from_json(row.pop("settings_json"))
        return rows

    @sql
    def messages(self, conversation_id: int) -> list[dict]:
        """Oldest first: id, parent_id, role, content, settings, stats, tokens, created_at."""
        rows = self._all(
            "SELECT id, parent_id, role, content, settings_json, stats_json, tokens_json, created_at "
            "FROM messages WHERE conversation_id = ? ORDER BY id", [conversation_id])
        for row in rows:
            for key in ("settings", "stats", "tokens"):
                row[key] = from_json(row.pop(f"{key}_json"))
        return rows

    @sql
    def search_messages(self, query: str, limit: int = 100) -> list[dict]:
        """Full-text search over message content, best match first.

        Returns conversation_id, message_id, snippet (matches wrapped in [ ]), title.
        """
        match = fts_query(query)
        if not match:
            return []
        return self._all(
            "SELECT m.conversation_id, m.id AS message_id, "
            "snippet(messages_fts, 0, '[', ']', '…', 12) AS snippet, c.title "
            "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
            "JOIN conversations c ON c.id = m.conversation_id "
            "WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?", [match, limit])

    @sql
    def add_answer_check(self, message_id: int, check: Any, summary: str = "") -> int:
        """Keep a "Check this answer" result (a JSON-able dict) with the message it checks; returns its id."""
        with write(self):
            if self.db.execute("SELECT 1 FROM messages WHERE id = ?", [message_id]).fetchone() is None:
                raise HistoryError(f"no message with id {message_id} in {self.path}")
            return self.db.execute(
                "INSERT INTO answer_checks (message_id, summary, check_json, created_at) VALUES (?, ?, ?, ?)",
                [message_id, summary, to_json(check), now()]).lastrowid

    @sql
    def answer_checks(self, conversation_id: int) -> dict[int, dict]:
        """The newest check of each checked message of a conversation: message id -> id, summary, check,
        created_at."""
        rows = self._all(
            "SELECT a.id, a.message_id, a.summary, a.check_json, a.created_at FROM answer_checks a "
            "JOIN messages m ON m.id = a.message_id WHERE m.conversation_id = ? ORDER BY a.id", [conversation_id])
        out = {}
        for row in rows:
            row["check"] = from_json(row.pop("check_json"))
            out[row.pop("message_id")] = row
        return out

    @sql
    def delete_conversation(self, conversation_id: int) -> None:
        with write(self):
            self.db.execute("DELETE FROM conversations WHERE id = ?", [conversation_id])
