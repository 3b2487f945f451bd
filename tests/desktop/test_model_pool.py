"""`ModelPool` and `Turn` on their own (no Qt, fake models): one load per key even when two threads
ask at once, reference counts, the last release closes, aliases by what was loaded, a failed load
reaching every waiter, and the turn served first come, first served."""
from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from desktop.model_pool import GaveUp, ModelKey, ModelPool, Turn


class FakeModel:
    def __init__(self, path, device, precision):
        loaded_as = "fp32" if precision == "auto" else precision
        self.info = SimpleNamespace(path=str(path), device="cpu", precision=loaded_as)
        self.closed = False

    def close(self):
        self.closed = True


class SlowLoad:
    """Counts loads; each one waits for `go` (so a second caller arrives while it is loading)."""

    def __init__(self, error: BaseException | None = None):
        self.calls, self.started, self.go, self.error = 0, threading.Event(), threading.Event(), error

    def __call__(self, path, device="auto", precision="auto"):
        self.calls += 1
        self.started.set()
        assert self.go.wait(timeout=10)
        if self.error is not None:
            raise self.error
        return FakeModel(path, device, precision)


def in_thread(fn):
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            out["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_two_threads_asking_for_one_model_share_one_load_and_the_last_release_closes_it(tmp_path):
    load = SlowLoad()
    pool = ModelPool(load)
    first, a = in_thread(lambda: pool.acquire(tmp_path, "cpu", "fp32"))
    assert load.started.wait(timeout=10)
    second, b = in_thread(lambda: pool.acquire(str(tmp_path) + "/.", "CPU", "fp32"))  # the same key, spelled otherwise
    _until(lambda: pool.users_of(tmp_path, "cpu", "fp32") == 2)
    load.go.set()
    first.join(10), second.join(10)
    assert load.calls == 1 and a["value"].model is b["value"].model and a["value"].turn is b["value"].turn
    model = a["value"].model
    assert pool.users(model) == 2 and len(pool) == 1
    a["value"].release()
    a["value"].release()  # twice is once
    assert not model.closed and pool.users(model) == 1
    b["value"].release()
    assert model.closed and len(pool) == 0
    again = pool.acquire(tmp_path, "cpu", "fp32")
    assert load.calls == 2 and again.model is not model
    again.release()


def test_a_model_is_also_found_under_what_it_loaded_as(tmp_path):
    load = SlowLoad()
    load.go.set()
    pool = ModelPool(load)
    chat = pool.acquire(tmp_path)  # auto precision, auto device: it loads as fp32 on the CPU here
    evaluation = pool.acquire(tmp_path, "cpu", "fp32")
    assert load.calls == 1 and evaluation.model is chat.model
    other = pool.acquire(tmp_path, "cpu", "nf4")
    assert load.calls == 2 and other.model is not chat.model and len(pool) == 2
    for lease in (chat, evaluation, other):
        lease.release()
    assert len(pool) == 0


def test_a_failed_load_reaches_every_caller_and_leaves_nothing_behind(tmp_path):
    load = SlowLoad(error=MemoryError("no room"))
    pool = ModelPool(load)
    first, a = in_thread(lambda: pool.acquire(tmp_path, "cpu", "fp32"))
    assert load.started.wait(timeout=10)
    second, b = in_thread(lambda: pool.acquire(tmp_path, "cpu", "fp32"))
    _until(lambda: pool.users_of(tmp_path, "cpu", "fp32") == 2)  # the second waits for the first's load
    load.go.set()
    first.join(10), second.join(10)
    assert isinstance(a.get("error"), MemoryError) and isinstance(b.get("error"), MemoryError)
    assert load.calls == 1 and len(pool) == 0


def test_keys_resolve_the_path_and_the_device(tmp_path):
    assert ModelKey.of(tmp_path / "x" / "..", "FP32", " cuda ") == ModelKey(str(tmp_path.resolve()), "fp32", "cuda:0")


def test_the_turn_is_first_come_first_served_and_says_who_holds_it():
    turn, order, told = Turn(), [], []
    eval_queued, reply_queued = threading.Event(), threading.Event()

    def eval_batches():  # two batches: asking again at once, it must go behind the waiting reply
        with turn.hold("the eval run's current batch", on_wait=lambda _holder: eval_queued.set()):
            order.append("batch 1")
        with turn.hold("the eval run's current batch"):
            order.append("batch 2")

    def reply():
        with turn.hold("the chat reply", on_wait=lambda holder: (told.append(holder), reply_queued.set()),
                       on_start=lambda: told.append("")):
            order.append("reply")

    turn.acquire("the test")  # held first, so both queue in a known order
    evaluation = threading.Thread(target=eval_batches)
    evaluation.start()
    assert eval_queued.wait(timeout=10)
    waiting = threading.Thread(target=reply)
    waiting.start()
    assert reply_queued.wait(timeout=10)
    turn.release()
    evaluation.join(10), waiting.join(10)
    assert order == ["batch 1", "reply", "batch 2"]
    assert told == ["the test", ""] and turn.holder == ""


def test_the_turn_is_reentrant_for_its_holder_and_only_its_holder_releases_it():
    turn = Turn()
    with turn.hold("outer"):
        with turn.hold("inner"):
            assert turn.holder == "outer"
        assert turn.holder == "outer"
    assert turn.holder == ""
    with pytest.raises(AssertionError):
        turn.release()


def _until(condition, timeout_s: float = 10.0):
    """Wait (on a condition variable's timeout, not sleep) until another thread has done its part."""
    tick = threading.Event()
    for _ in range(int(timeout_s * 1000)):
        if condition():
            return
        tick.wait(0.001)
    raise AssertionError("timed out")


def test_a_waiter_that_gives_up_leaves_the_queue():
    turn, stop = Turn(), threading.Event()
    queued, out = threading.Event(), {}

    def reply():
        try:
            turn.acquire("the chat reply", on_wait=lambda _holder: queued.set(), give_up=stop.is_set)
        except GaveUp:
            out["gave_up"] = True

    turn.acquire("the eval run's current batch")
    waiting = threading.Thread(target=reply)
    waiting.start()
    assert queued.wait(timeout=10)
    stop.set()
    turn.wake()
    waiting.join(10)
    assert out == {"gave_up": True} and turn.holder == "the eval run's current batch"
    turn.release()
    assert turn.acquire("next") is False  # nobody is queued any more
    turn.release()
