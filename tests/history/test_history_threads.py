"""Each thread has its own connection: a write held open on one thread does not hold up reads on
another (WAL), each sees only committed rows, and closing the history closes every thread's
connection."""
from __future__ import annotations

import threading

from history import History, HistoryError
from history.base import sql, write


@sql
def _hold_a_write(history: History, ready: threading.Event, release: threading.Event, seen: list) -> None:
    """Insert a conversation inside an open write transaction, then wait until told to commit."""
    with write(history):
        history.db.execute("INSERT INTO conversations (title, settings_json, created_at, updated_at) "
                           "VALUES ('uncommitted', '{}', 'now', 'now')")
        seen.append(id(history.db))
        ready.set()
        release.wait(30)


def test_a_read_on_another_thread_does_not_wait_for_an_open_write(tmp_path):
    history = History.open(tmp_path / "history.db")
    history.new_conversation("committed", None, {})
    ready, release, seen = threading.Event(), threading.Event(), []
    writer = threading.Thread(target=_hold_a_write, args=(history, ready, release, seen))
    writer.start()
    assert ready.wait(30)
    try:
        # One connection behind one lock would wait here until the writer commits, then see its row.
        titles_while_writing = [c["title"] for c in history.conversations()]
    finally:
        release.set()
        writer.join()
    assert titles_while_writing == ["committed"]
    assert sorted(c["title"] for c in history.conversations()) == ["committed", "uncommitted"]
    assert seen and seen[0] != id(history.db)  # the writer thread used a connection of its own
    history.close()


def test_closing_closes_every_threads_connection(tmp_path):
    history = History.open(tmp_path / "history.db")
    outcome = []
    opened, closed = threading.Event(), threading.Event()

    def worker():
        history.conversations()  # opens this thread's connection
        opened.set()
        closed.wait(30)
        try:
            history.conversations()
        except HistoryError as err:
            outcome.append(str(err))

    thread = threading.Thread(target=worker)
    thread.start()
    assert opened.wait(30)
    history.close()
    closed.set()
    thread.join()
    assert outcome and "closed" in outcome[0]


def test_an_in_memory_history_is_shared_by_threads(tmp_path):
    history = History.open(":memory:")
    made = []
    thread = threading.Thread(target=lambda: made.append(history.new_conversation("from a thread", None, {})))
    thread.start()
    thread.join()
    assert [c["title"] for c in history.conversations()] == ["from a thread"]

