"""One model for the whole app: the Evaluate page runs on the copy the chat has loaded, the two take
turns on it (a chat reply waits for the eval's current batch, an eval batch waits for the chat
reply, and each says so), what they compute is what they compute alone, and closing the window
releases the model and ends the threads."""
from __future__ import annotations

import json
import threading

import pytest

import engine


class Pause:
    """Once armed, the next call of a wrapped model method waits until `go()`; `entered` says it got there."""

    def __init__(self):
        self.armed, self.entered, self.released = False, threading.Event(), threading.Event()

    def arm(self):
        self.entered.clear()
        self.released.clear()
        self.armed = True

    def go(self):
        self.released.set()

    def wrap(self, method):
        def paused(*args, **kwargs):
            if self.armed:
                self.armed = False
                self.entered.set()
                self.released.wait(timeout=30)
            return method(*args, **kwargs)
        return paused


class Models:
    """The window's load function: counts loads and closes, and lets a test pause a reply's decoding
    (`decode`) or an eval's scoring (`score`) half-way, while it holds the model's turn."""

    def __init__(self):
        self.loaded, self.closed = [], []
        self.decode, self.score = Pause(), Pause()

    def load(self, path, **kwargs):
        model = engine.load(path, **kwargs)
        self.loaded.append(model)
        model.decode_step = self.decode.wrap(model.decode_step)
        model.continuation_logprobs = self.score.wrap(model.continuation_logprobs)
        close = model.close
        model.close = lambda: (self.closed.append(model), close())
        return model

    def open_all(self):
        self.decode.go()
        self.score.go()


@pytest.fixture
def models():
    m = Models()
    yield m
    m.open_all()  # never leave a worker waiting


def write_suite(folder, n_items=12):
    """Multiple-choice items (their choices share a context, so scoring goes through continuation_logprobs)."""
    facts = [("Attention lets every token look at every other", ["token", "street", "question"], 0),
             ("To be, or not to be, that is the", ["answer", "question", "animal"], 1),
             ("The animal didn't cross the", ["street", "token", "tired"], 0)]
    lines = [{"suite": "shared", "version": "1", "title": "Shared", "description": "test"}]
    for i in range(n_items):
        prompt, choices, answer = facts[i % len(facts)]
        lines.append({"id": f"s-{i:02d}", "kind": "multiple_choice", "part": "a", "prompt": prompt,
                      "choices": choices, "answer": answer})
    path = folder / "shared.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


def prepare_eval(window, tmp_path):
    page = window.evaluate_page
    suite = write_suite(tmp_path)
    assert page.add_suite_file(suite)
    page.form.tick_suites([suite.stem])
    page.form.set_precisions(["fp32"])  # what the chat's auto loads as on the CPU
    return page


def start_reply(window, text="The animal didn't cross", max_tokens=8):
    page = window.chat_page
    page.new_chat()
    page.settings_panel.form.set_values({"temperature": 0.0})
    page.settings_panel.form.max_new_tokens.setValue(max_tokens)
    page.composer.input.setPlainText(text)
    page.composer.submit()


def reply_text(window, message_id) -> list[str]:
    return [t["text"] for t in window.chat_page.session.tree.by_id[message_id]["tokens"]]


def chat_alone(qtbot, window) -> list[str]:
    with qtbot.waitSignal(window.chat_page.session.reply_saved, timeout=30000) as saved:
        start_reply(window)
    return reply_text(window, saved.args[0])


def eval_alone(qtbot, page) -> list[tuple]:
    with qtbot.waitSignal(page.job_ended, timeout=60000) as ended:
        assert page.run_matrix()
    return results(page, ended.args[0])


def results(page, end) -> list[tuple]:
    assert end.outcome == "finished", end.message
    rows = page.history.results(end.last_run)
    return [(r["item_id"], r["correct"], r["output"], r["choice_logprobs"]) for r in rows]


def test_evaluating_the_chat_model_uses_the_chat_copy(qtbot, make_window, models, tmp_path):
    window = make_window(load_model=models.load)
    chat_model = window.chat_host.worker.model
    page = prepare_eval(window, tmp_path)
    leased = []
    acquire = window.pool.acquire
    window.pool.acquire = lambda *a, **k: leased.append(acquire(*a, **k)) or leased[-1]
    eval_alone(qtbot, page)
    assert len(models.loaded) == 1 and [lease.model for lease in leased] == [chat_model]
    assert window.pool.users(chat_model) == 1 and not models.closed  # the run gave its lease back


def test_a_reply_waits_for_the_eval_batch_and_both_match_what_they_give_alone(qtbot, make_window, models,
                                                                               tmp_path):
    window = make_window(load_model=models.load)
    page = prepare_eval(window, tmp_path)
    alone_reply, alone_results = chat_alone(qtbot, window), eval_alone(qtbot, page)
    notice = window.chat_page.turn_notice
    models.score.arm()
    with qtbot.waitSignal(page.job_ended, timeout=60000) as ended:
        assert page.run_matrix()
        qtbot.waitUntil(models.score.entered.is_set, timeout=30000)  # the eval is in a batch, holding the turn
        with qtbot.waitSignal(window.chat_page.session.reply_saved, timeout=30000) as saved:
            with qtbot.waitSignal(window.chat_host.waiting, timeout=30000):
                start_reply(window)
            assert not notice.isHidden() and "the eval run's current batch" in notice.text()
            models.score.go()
    assert notice.isHidden()
    assert reply_text(window, saved.args[0]) == alone_reply
    assert results(page, ended.args[0]) == alone_results
    assert len(models.loaded) == 1


def test_an_eval_batch_waits_for_the_reply_and_says_so(qtbot, make_window, models, tmp_path):
    window = make_window(load_model=models.load)
    page = prepare_eval(window, tmp_path)
    alone_reply, alone_results = chat_alone(qtbot, window), eval_alone(qtbot, page)
    models.decode.arm()
    with qtbot.waitSignal(window.chat_page.session.reply_saved, timeout=30000) as saved:
        start_reply(window)
        qtbot.waitUntil(models.decode.entered.is_set, timeout=30000)  # the reply is being written
        with qtbot.waitSignal(page.job_ended, timeout=60000) as ended:
            with qtbot.waitSignal(page.host.waiting, timeout=30000,
                                  check_params_cb=lambda holder: holder == "the chat reply"):
                assert page.run_matrix()
            assert "Waiting for the chat reply" in page.progress.status.text()
            models.decode.go()
    assert "Waiting" not in page.progress.status.text()
    assert reply_text(window, saved.args[0]) == alone_reply
    assert results(page, ended.args[0]) == alone_results


def test_closing_the_window_releases_the_model_and_ends_the_threads(qtbot, make_window, models, tmp_path):
    window = make_window(load_model=models.load)
    page = prepare_eval(window, tmp_path)
    models.score.arm()
    assert page.run_matrix()
    qtbot.waitUntil(models.score.entered.is_set, timeout=30000)
    with qtbot.waitSignal(window.chat_host.waiting, timeout=30000):
        start_reply(window)  # waits for the batch
    assert window.pool.users(models.loaded[0]) == 2
    models.score.go()
    window.close()
    assert len(window.pool) == 0 and models.closed == models.loaded
    assert window.chat_host.thread.isFinished() and page.host.thread.isFinished()
    (run,) = window.history.runs()
    assert run["status"] in ("interrupted", "finished")  # stopped after its batch, or done by then: never "running"


def test_stop_ends_a_reply_that_waits_for_the_model_at_once(qtbot, make_window, models, tmp_path):
    window = make_window(load_model=models.load)
    page = prepare_eval(window, tmp_path)
    models.score.arm()
    with qtbot.waitSignal(page.job_ended, timeout=60000) as ended:
        assert page.run_matrix()
        qtbot.waitUntil(models.score.entered.is_set, timeout=30000)
        with qtbot.waitSignal(window.chat_host.waiting, timeout=30000):
            start_reply(window)
        with qtbot.waitSignal(window.chat_host.finished, timeout=30000) as stopped:
            window.chat_page.session.stop()  # the eval batch is still paused: the reply gives up waiting
        assert stopped.args[1].stop_reason == "cancelled" and not models.score.released.is_set()
        assert window.chat_page.turn_notice.isHidden()
        models.score.go()
    assert ended.args[0].outcome == "finished"


def test_chat_and_eval_model_work_all_run_on_the_one_engine_thread(qtbot, make_window, models, tmp_path,
                                                                   monkeypatch):
    """Two threads running torch make its OpenMP runtime stop spinning and slow every op: the chat's steps,
    the eval's batches and the loads must all run on desktop.engine_thread's thread."""
    from desktop.engine_thread import ENGINE_THREAD

    threads = []
    load = models.load
    monkeypatch.setattr(models, "load", lambda *a, **k: threads.append(threading.get_ident()) or load(*a, **k))

    def recording(method):
        def wrapper(*args, **kwargs):
            threads.append(threading.get_ident())
            return method(*args, **kwargs)
        return wrapper

    window = make_window(load_model=models.load)
    model = window.chat_host.worker.model
    model.decode_step = recording(model.decode_step)
    model.prefill = recording(model.prefill)
    model.continuation_logprobs = recording(model.continuation_logprobs)
    chat_alone(qtbot, window)
    eval_alone(qtbot, prepare_eval(window, tmp_path))
    assert len(threads) > 10 and set(threads) == {ENGINE_THREAD.ident}
