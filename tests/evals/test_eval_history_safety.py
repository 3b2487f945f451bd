"""The history database under bad files and faults: damaged or newer files stay untouched, an empty
path is an error, locks are waited for and a run stopped by one resumes, read-only folders read."""

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from evals.cli import main
from evals.errors import HistoryError, RunError
from history import History, migrations
from evals.runner import RunSpec, Runner
from evals.suite import load_suite

from evalfakes import FakeLM, fake_opener, mc, write_suite

REPO = Path(__file__).resolve().parents[2]


def filled(db: Path, folder: Path, n_items: int = 120) -> Path:
    """A real history with one finished run of long items (several pages of results)."""
    suite = load_suite(write_suite(folder, "pages", [mc(i, prompt="Q" * 400) for i in range(n_items)]))
    with History.open(db) as h:
        Runner(h, opener=fake_opener(FakeLM()), n_boot=10).start(RunSpec(suite, "/m"))
    return folder / "pages.jsonl"


def test_a_database_with_corrupt_pages_gets_no_run_row(tmp_path, capsys):
    db = tmp_path / "h.db"
    suite = filled(db, tmp_path)
    data = bytearray(db.read_bytes())
    assert len(data) > 20 * 4096
    for page in (6, 12, 18):  # a few result pages deep in the file: their b-tree headers overwritten
        data[(page - 1) * 4096: (page - 1) * 4096 + 64] = b"\xff" * 64
    db.write_bytes(bytes(data))
    assert main(["run", str(suite), "--db", str(db), "--progress", "none"]) == 2
    err = capsys.readouterr().err
    assert "is corrupt" in err and "leaves it untouched" in err and "resume" not in err and err.count("\n") == 1
    assert db.read_bytes() == bytes(data) and not Path(f"{db}-wal").exists()


def test_a_newer_database_is_refused_before_anything_changes(tmp_path):
    db = tmp_path / "h.db"
    History.open(db).close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = DELETE")  # as a newer glasslm might leave it
    con.execute("INSERT INTO _glasslm_migrations VALUES ('m999_future', 'x')")
    con.commit()
    con.close()
    before = db.read_bytes()
    for writable in (True, False):
        with pytest.raises(HistoryError, match="newer glasslm.*leaves it untouched"):
            History.open(db, writable=writable)
    assert db.read_bytes() == before and not Path(f"{db}-wal").exists()
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_an_older_database_migrates_and_old_runs_show_no_count(tmp_path, monkeypatch):
    db = tmp_path / "h.db"
    monkeypatch.setattr("history.store.MIGRATIONS", migrations.MIGRATIONS[:1])  # a file from before m002
    with History.open(db) as h:
        run = h.db.execute("INSERT INTO eval_runs (suite_id, suite_version, suite_hash, status, started_at) "
                           "VALUES ('s', '1', 'x', 'finished', '2025-01-01')").lastrowid
        assert "n_truncated" not in h.run(run)
    monkeypatch.undo()
    with History.open(db) as h:
        assert "m002_truncated_items" in h.schema_version() and h.run(run)["n_truncated"] is None


@pytest.mark.parametrize("argv, env, message", [
    (["runs", "--db", ""], {}, "--db is empty"),
    (["runs", "--db", "  "], {}, "--db is empty"),
    (["runs"], {"GLASSLM_DB": ""}, "GLASSLM_DB is set but empty"),
    (["show", "last", "--db", ""], {}, "--db is empty"),
])
def test_an_empty_database_path_is_an_error_not_the_default(tmp_path, monkeypatch, capsys, argv, env, message):
    home = tmp_path / "home"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.delenv("GLASSLM_DB", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the default history nor a file in the current folder


def test_a_lock_is_waited_for_then_one_message(tmp_path):
    db = tmp_path / "h.db"
    History.open(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        with History.open(db, timeout=0.3) as h:
            with pytest.raises(HistoryError, match=r"locked by another process \(glasslm waited [\d.]+ s\)"):
                h.new_conversation("x", None, {})
    finally:
        other.execute("ROLLBACK")
    with History.open(db, timeout=0.3) as h:  # free again: the write goes through
        h.new_conversation("x", None, {})
    other.close()


class LockingLM(FakeLM):
    """Takes the database's write lock from another connection when asked for its third batch."""

    def __init__(self, db):
        super().__init__()
        self.db, self.other = db, None

    def loglikelihood(self, requests):
        if len(self.calls) == 2 and self.other is None:
            self.other = sqlite3.connect(self.db, isolation_level=None)
            self.other.execute("BEGIN IMMEDIATE")
        return super().loglikelihood(requests)


def test_a_lock_taken_mid_run_stops_it_resumably(tmp_path):
    db = tmp_path / "h.db"
    suite = load_suite(write_suite(tmp_path, "locked", [mc(i) for i in range(20)]))
    lm = LockingLM(db)
    with History.open(db, timeout=0.3) as h:
        runner = Runner(h, opener=fake_opener(lm), items_per_batch=4, n_boot=10)
        with pytest.raises(RunError) as caught:
            runner.start(RunSpec(suite, "/m"))
        message = str(caught.value)
        assert "locked by another process" in message and "stopped after 8 of 20 items" in message
        assert "`glasslm eval resume 1` finishes the run" in message and "--db" not in message
        lm.other.execute("ROLLBACK")
        lm.other.close()
        assert h.run(1)["status"] in ("running", "interrupted") and h.run(1)["n_done"] == 8
        Runner(h, opener=fake_opener(FakeLM()), n_boot=10).resume(1)
        assert h.run(1)["status"] == "finished"
        assert sorted(r["item_id"] for r in h.results(1)) == sorted(f"mc-{i}" for i in range(20))


def test_the_lock_wait_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSLM_LOCK_TIMEOUT", "0.25")
    with History.open(tmp_path / "h.db") as h:
        assert h.lock_timeout == 0.25
    monkeypatch.setenv("GLASSLM_LOCK_TIMEOUT", "soon")
    with pytest.raises(HistoryError, match="GLASSLM_LOCK_TIMEOUT must be a number of seconds"):
        History.open(tmp_path / "h.db")
    monkeypatch.delenv("GLASSLM_LOCK_TIMEOUT")
    with History.open(tmp_path / "h.db") as h:
        assert 30 <= h.lock_timeout <= 60


def _unprivileged(cmd):
    """`cmd` as a process that may not write a folder it does not own: setpriv drops root's override."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be made read-only")
    caps = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--", *cmd]


def test_a_database_in_a_read_only_folder_can_be_read_not_written(tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="glasslm-ro-"))
    try:
        db = folder / "h.db"
        suite = filled(db, tmp_path, n_items=3)
        os.chmod(folder, 0o555)
        base = [sys.executable, "-m", "evals"]
        env = {**os.environ, "GLASSLM_LOCK_TIMEOUT": "1"}
        shown = subprocess.run(_unprivileged([*base, "runs", "--db", str(db)]), cwd=REPO, env=env,
                               capture_output=True, text=True)
        assert shown.returncode == 0, shown.stderr
        assert "finished" in shown.stdout and "pages" in shown.stdout
        assert subprocess.run(_unprivileged([*base, "show", "1", "--db", str(db)]), cwd=REPO, env=env,
                              capture_output=True, text=True).returncode == 0
        ran = subprocess.run(_unprivileged([*base, "run", str(suite), "--db", str(db), "--progress", "none"]),
                             cwd=REPO, env=env, capture_output=True, text=True)
        assert ran.returncode == 2 and "read-only" in ran.stderr and "Traceback" not in ran.stderr
        assert sorted(p.name for p in folder.iterdir()) == ["h.db"]
    finally:
        os.chmod(folder, 0o755)
        shutil.rmtree(folder)
