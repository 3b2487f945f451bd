"""Every file `glasslm eval` writes: never over the history or another SQLite file, never half written."""

import sqlite3
from pathlib import Path

import pytest

from evals.cli import main
from evals.errors import DatasetImportError, EvalError
from evals.export import write_file
from history import History
from evals.importers import import_suite
from evals.runner import RunSpec, Runner
from evals.suite import load_suite

from evalfakes import FakeLM, fake_opener, mc, write_suite
from faults import file_size_limit

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def db_with_run(tmp_path):
    db = tmp_path / "history.db"
    suite = load_suite(write_suite(tmp_path, "files", [mc(i) for i in range(3)]))
    with History.open(db) as h:
        Runner(h, opener=fake_opener(FakeLM()), n_boot=10).start(RunSpec(suite, "/m"))
    return db


def _still_the_history(db: Path) -> None:
    with History.open(db) as h:
        assert h.run(1)["status"] == "finished" and len(h.results(1)) == 3


@pytest.mark.parametrize("target", ["history.db", "history.db-wal", "history.db-shm", "other.sqlite", "link.csv"])
def test_export_never_writes_over_the_history_or_any_sqlite_file(tmp_path, db_with_run, capsys, target):
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE mine (x)").connection.close()
    (tmp_path / "link.csv").symlink_to(db_with_run)
    before = other.read_bytes()
    assert main(["export", "1", "--db", str(db_with_run), "-o", str(tmp_path / target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("never writes over" in err or "belongs to the history database" in err)
    assert other.read_bytes() == before
    _still_the_history(db_with_run)


def test_export_to_an_empty_path_or_a_folder_is_an_error(tmp_path, db_with_run, capsys):
    assert main(["export", "1", "--db", str(db_with_run), "-o", ""]) == 2
    assert "the output path is empty" in capsys.readouterr().err
    assert main(["export", "1", "--db", str(db_with_run), "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_failed_export_leaves_no_half_file(tmp_path, db_with_run):
    with History.open(db_with_run) as h:
        text = "".join(f"{r}\n" for r in h.results(1)) * 50
    target = tmp_path / "out" / "results.jsonl"
    target.parent.mkdir()
    error = None
    with file_size_limit(512):
        try:
            write_file(target, text, history_path=db_with_run)
        except EvalError as err:
            error = err
    assert error is not None and "nothing was written there" in str(error)
    assert list(target.parent.iterdir()) == []


def test_a_failed_import_leaves_nothing_in_the_suites_folder(tmp_path):
    suites = tmp_path / "suites"
    suites.mkdir()
    error = None
    with file_size_limit(200):  # the converted suite is larger: the write fails as on a full disk
        try:
            import_suite("crows", FIXTURES / "crows_pairs_anonymized.csv", suites, suite_id="cp")
        except DatasetImportError as err:
            error = err
    assert error is not None and "cannot save the imported suite" in str(error)
    assert list(suites.iterdir()) == []
    import_suite("crows", FIXTURES / "crows_pairs_anonymized.csv", suites, suite_id="cp")  # and it works after
    assert [p.name for p in suites.iterdir()] == ["cp.jsonl"]


def test_an_unusable_suites_folder_is_one_message(tmp_path, capsys):
    (tmp_path / "suites").write_text("a file where the folder should be")
    argv = ["import", "crows", str(FIXTURES / "crows_pairs_anonymized.csv"), "--db", str(tmp_path / "h.db")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot save the imported suite" in err and "is a file, not a folder" in err and err.count("\n") == 1
