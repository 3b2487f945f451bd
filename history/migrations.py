"""Numbered schema migrations of the history database, applied in order and recorded.

Each `mNNN_name(db)` function takes a `sqlite_utils.Database` and moves the schema one step
forward; `MIGRATIONS` lists them in order. `History.open` applies the ones a file has not
seen yet, inside one transaction each, and records their names in `_glasslm_migrations`.
Never edit a released migration: add a new one. The user-facing description of the schema
lives in `evals/HISTORY.md`; keep it in step.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils


def _statements(script: str) -> list[str]:
    """Split a script into whole statements (trigger bodies contain semicolons)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    assert not buf.strip(), f"incomplete SQL statement: {buf!r}"
    return out


def _run(db: sqlite_utils.Database, script: str) -> None:
    # executescript() would COMMIT the surrounding transaction; one execute per statement
    # keeps each migration atomic.
    for statement in _statements(script):
        db.execute(statement)


def m001_initial(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
        CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL UNIQUE,
            path TEXT,
            model_type TEXT,
            n_params INTEGER,
            context_length INTEGER,
            vocab_size INTEGER,
            n_layers INTEGER,
            n_heads INTEGER,
            n_kv_heads INTEGER,
            info_json TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            last_used_at TEXT NOT NULL
        );
        CREATE TABLE settings (
            id INTEGER PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            precision TEXT,
            device TEXT,
            temperature REAL,
            top_k INTEGER,
            top_p REAL,
            min_p REAL,
            repetition_penalty REAL,
            max_new_tokens INTEGER,
            seed INTEGER,
            system_prompt TEXT,
            settings_json TEXT NOT NULL
        );
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
            settings_json TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            settings_id INTEGER REFERENCES settings(id),
            settings_json TEXT,
            stats_json TEXT,
            tokens_json TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX messages_conversation ON messages(conversation_id, id);
        CREATE INDEX messages_parent ON messages(parent_id);
        CREATE INDEX conversations_updated ON conversations(updated_at);

        CREATE VIRTUAL TABLE messages_fts USING fts5(
            content, content='messages', content_rowid='id'
        );
        CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
        END;
        CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;

        CREATE TABLE eval_runs (
            id INTEGER PRIMARY KEY,
            suite_id TEXT NOT NULL,
            suite_version TEXT NOT NULL,
            suite_hash TEXT NOT NULL,
            suite_title TEXT,
            suite_path TEXT,
            model_id INTEGER REFERENCES models(id),
            model_path TEXT,
            settings_id INTEGER REFERENCES settings(id),
            settings_json TEXT NOT NULL DEFAULT '{}',
            seed INTEGER NOT NULL DEFAULT 0,
            item_limit INTEGER,
            n_items INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted', 'failed')),
            error TEXT,
            pid INTEGER,
            machine_json TEXT NOT NULL DEFAULT '{}',
            metrics_json TEXT,
            started_at TEXT NOT NULL,
            ended_at TEXT
        );
        CREATE INDEX eval_runs_suite ON eval_runs(suite_id, started_at);

        CREATE TABLE eval_results (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
            item_id TEXT NOT NULL,
            variant TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL,
            part TEXT NOT NULL,
            category TEXT,
            prompt TEXT,
            output TEXT,
            expected TEXT,
            correct INTEGER,
            score REAL,
            scores_json TEXT NOT NULL DEFAULT '{}',
            choice_logprobs_json TEXT,
            latency_s REAL,
            created_at TEXT NOT NULL,
            UNIQUE (run_id, item_id, variant)
        );
        CREATE INDEX eval_results_run ON eval_results(run_id, id);
        """
    )


def m002_truncated_items(db: sqlite_utils.Database) -> None:
    # Items longer than the model's context window are scored left-truncated (as lm-eval does);
    # each run counts them. NULL = a run from before this count existed.
    _run(db, "ALTER TABLE eval_runs ADD COLUMN n_truncated INTEGER;")


def m003_answer_checks(db: sqlite_utils.Database) -> None:
    # "Check this answer" results, kept with the assistant message they check (newest last).
    _run(
        db,
        """
        CREATE TABLE answer_checks (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            summary TEXT NOT NULL DEFAULT '',
            check_json TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX answer_checks_message ON answer_checks(message_id, id);
        """
    )


MIGRATIONS = [m001_initial, m002_truncated_items, m003_answer_checks]
