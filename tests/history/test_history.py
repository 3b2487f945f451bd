"""History store: schema, conversations + FTS, runs/results, migration, bad files, locks."""

import sqlite3

import pytest

from history import History, HistoryError, default_db_path
from history import migrations, store


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "history.db"


@pytest.fixture
def h(db_path):
    with History.open(db_path) as h:
        yield h


def test_schema_wal_foreign_keys(h):
    tables = set(h.db.table_names())
    assert {"models", "settings", "conversations", "messages", "messages_fts",
            "eval_runs", "eval_results", "_glasslm_migrations"} <= tables
    assert h.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert h.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert h.schema_version() == [m.__name__ for m in migrations.MIGRATIONS]


def test_default_path_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GLASSLM_DB", str(tmp_path / "x.db"))
    assert default_db_path() == tmp_path / "x.db"
    monkeypatch.delenv("GLASSLM_DB")
    assert default_db_path().name == "history.db"


def test_conversation_api(h):
    model_id = h.upsert_model({"fingerprint": "f1", "path": "/m", "model_type": "llama", "n_params": 7})
    assert h.upsert_model({"fingerprint": "f1", "path": "/moved"}) == model_id
    assert h.model(model_id)["path"] == "/moved"
    c1 = h.new_conversation("first", model_id, {"temperature": 0.2})
    c2 = h.new_conversation("second", None, {})
    u = h.add_message(c1, "user", "What is a transformer decoder?")
    a = h.add_message(c1, "assistant", "A stack of masked self-attention blocks.", parent_id=u,
                      settings={"temperature": 0.2, "seed": 1}, stats={"total_s": 0.5}, tokens=[1, 2, 3])
    h.add_message(c2, "user", "unrelated: weather-report")
    msgs = h.messages(c1)
    assert [m["id"] for m in msgs] == [u, a]
    assert msgs[1]["parent_id"] == u and msgs[1]["settings"]["seed"] == 1
    assert msgs[1]["stats"] == {"total_s": 0.5} and msgs[1]["tokens"] == [1, 2, 3]
    convs = h.conversations()
    assert [c["id"] for c in convs] == [c2, c1]  # newest activity first (ties: newest id)
    assert convs[1]["settings"] == {"temperature": 0.2} and convs[1]["model_id"] == model_id
    h.update_conversation(c1, title="renamed", settings={"temperature": 0.9})
    assert {c["id"]: c["title"] for c in h.conversations()}[c1] == "renamed"
    hits = h.search_messages("self-attention")
    assert [(x["conversation_id"], x["message_id"], x["title"]) for x in hits] == [(c1, a, "renamed")]
    assert "[" in hits[0]["snippet"]
    assert h.search_messages('weather-report" (') != []  # FTS syntax in user text is quoted
    assert h.search_messages("   ") == []
    h.delete_conversation(c1)
    assert h.messages(c1) == [] and h.search_messages("transformer") == []
    with pytest.raises(HistoryError, match="no conversation"):
        h.add_message(c1, "user", "x")


def test_runs_and_results(h):
    run = h.create_run(suite_id="s", suite_version="1", suite_hash="abc", settings={"precision": "fp32"},
                       seed=0, n_items=2)
    h.add_results(run, [{"item_id": "a", "kind": "multiple_choice", "part": "p", "correct": True,
                         "choice_logprobs": [-1.0, -2.0], "scores": {"mc2": 0.7}}])
    h.add_results(run, [{"item_id": "a", "kind": "multiple_choice", "part": "p", "correct": True,
                         "choice_logprobs": [-1.0, -2.0]}])  # idempotent on resume
    assert h.done_item_ids(run) == {"a"}
    row = h.run(run)
    assert row["status"] == "running" and row["n_done"] == 1 and row["settings"] == {"precision": "fp32"}
    h.update_run(run, status="finished", metrics={"overall": {}})
    assert h.runs()[0]["status"] == "finished" and h.latest_run_id() == run
    assert h.results(run)[0]["choice_logprobs"] == [-1.0, -2.0]
    with pytest.raises(HistoryError, match="no eval run 99"):
        h.run(99)


def test_older_schema_migrates_forward(db_path, monkeypatch):
    History.open(db_path).close()

    def m002_extra(db):
        db.execute("ALTER TABLE eval_runs ADD COLUMN note TEXT")

    monkeypatch.setattr(store, "MIGRATIONS", [*migrations.MIGRATIONS, m002_extra])
    with History.open(db_path) as h:
        assert h.schema_version()[-1] == "m002_extra"
        assert "note" in h.db["eval_runs"].columns_dict


def test_newer_schema_is_refused(db_path):
    History.open(db_path).close()
    con = sqlite3.connect(db_path)
    con.execute("INSERT INTO _glasslm_migrations VALUES ('m999_future', 'x')")
    con.commit()
    con.close()
    with pytest.raises(HistoryError, match="newer glasslm"):
        History.open(db_path)


def test_not_sqlite_is_refused_and_untouched(db_path):
    db_path.write_bytes(b"hello, I am a text file\n" * 10)
    before = db_path.read_bytes()
    with pytest.raises(HistoryError, match="not a glasslm database"):
        History.open(db_path)
    assert db_path.read_bytes() == before


def test_foreign_sqlite_is_refused_and_untouched(db_path):
    con = sqlite3.connect(db_path)
    con.execute("CREATE TABLE stuff (x)")
    con.commit()
    con.close()
    before = db_path.read_bytes()
    with pytest.raises(HistoryError, match="not a glasslm one"):
        History.open(db_path)
    assert db_path.read_bytes() == before


def test_corrupt_file_is_refused_and_untouched(db_path):
    History.open(db_path).close()
    data = bytearray(db_path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    db_path.write_bytes(bytes(data))
    with pytest.raises(HistoryError, match="corrupt"):
        History.open(db_path)
    assert db_path.read_bytes() == bytes(data)


def test_locked_database_is_a_clear_error(db_path):
    History.open(db_path).close()
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with History.open(db_path, timeout=0.05) as h:
            with pytest.raises(HistoryError, match="locked by another process"):
                h.new_conversation("x", None, {})
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_closed_history_raises(db_path):
    h = History.open(db_path)
    h.close()
    with pytest.raises(HistoryError, match="closed"):
        h.conversations()
