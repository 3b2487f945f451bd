"""The GUI thread never runs the engine while a model loads and while it generates, so it keeps
ticking however slow the model is.

Every method of `engine.Model` (and `engine.load`) records the thread it runs on; none may be
the GUI thread. No time is asserted: a 10 ms QTimer on the GUI thread also records the longest
gap between ticks, printed for information (run with -s to see it)."""
from __future__ import annotations

import inspect
import threading
import time

import pytest
from PySide6.QtCore import QTimer

import engine
from engine.model import Model


class StallMeter:
    def __init__(self):
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.longest = 0.0

    def _tick(self):
        now = time.perf_counter()
        if self.last is not None:
            self.longest = max(self.longest, now - self.last)
        self.last = now

    def __enter__(self):
        self.last, self.longest = None, 0.0
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.stop()


@pytest.fixture
def bigger_model(checkpoint_factory):
    # ~10 M parameters: big enough that loading and decoding take a measurable while.
    return checkpoint_factory("llama", hidden_size=384, intermediate_size=1024, num_hidden_layers=6,
                              num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=512)


@pytest.fixture
def engine_calls(monkeypatch):
    """(name, ran on the GUI thread) for each engine.load and Model method call while `watching` is set."""
    calls, watching = [], threading.Event()

    def recorded(name, function):
        def wrapper(*args, **kwargs):
            if watching.is_set():
                calls.append((name, threading.current_thread() is threading.main_thread()))
            return function(*args, **kwargs)
        return wrapper

    for name, member in list(vars(Model).items()):
        if inspect.isfunction(member) and not name.startswith("__"):
            monkeypatch.setattr(Model, name, recorded(f"Model.{name}", member))
    monkeypatch.setattr(engine, "load", recorded("engine.load", engine.load))
    return calls, watching


def test_the_gui_thread_never_runs_the_engine_while_loading_and_generating(qtbot, make_window, bigger_model,
                                                                          engine_calls):
    calls, watching = engine_calls
    window = make_window(default_model=bigger_model, load=False)
    host, page = window.chat_host, window.chat_page
    qtbot.waitUntil(lambda: host.current is not None, timeout=60000)  # warm-up load (imports, caches)
    watching.set()
    with StallMeter() as loading:
        with qtbot.waitSignal(host.loaded, timeout=60000):
            page.model_panel.load_current()
    page.settings_panel.form.max_new_tokens.setValue(200)
    page.composer.input.setPlainText("The animal didn't cross the street because it was tired.")
    with StallMeter() as generating:
        with qtbot.waitSignal(page.session.reply_saved, timeout=120000):
            page.composer.submit()
    tokens = page.session.path()[-1]["stats"]["generated_tokens"]
    report = (f"longest GUI stall: loading {loading.longest * 1000:.0f} ms, "
              f"generating {generating.longest * 1000:.0f} ms ({tokens} tokens)")
    print("\n" + report)
    watching.clear()
    names = {name for name, _ in calls}
    assert {"Model.chat", "Model.prefill", "Model.decode_step"} <= names, names  # the watch saw the work
    assert [name for name, on_gui in calls if on_gui] == []
