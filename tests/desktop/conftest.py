"""Fixtures for the desktop tests: a temporary QSettings file and history database, a small
random checkpoint, and a factory of main windows that are closed (threads joined) afterwards."""
from __future__ import annotations

import gc
import threading

import pytest
import torch
from PySide6.QtCore import QCoreApplication, QEvent, QSettings

import engine
from desktop.main_window import MainWindow
from history import History


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    # The tiny test models are ~20x slower when torch's threads fight other work for two cores.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def model_path(checkpoint_factory):
    return checkpoint_factory("llama")


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "history.db"


@pytest.fixture
def settings_path(tmp_path):
    return tmp_path / "settings.ini"


@pytest.fixture
def make_window(qtbot, model_path, db_path, settings_path):
    """make_window(load_model=None, db=db_path, load=True) -> a shown MainWindow (model loaded when load=True)."""
    made: list[tuple[MainWindow, History]] = []

    def make(load_model=None, db=None, load=True, default_model=None, **kwargs):
        history = kwargs.pop("history", None) or History.open(db or db_path)
        settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
        window = MainWindow(settings, history, default_model or model_path, load_model=load_model, **kwargs)
        made.append((window, history))
        window.show()
        if load:
            qtbot.waitUntil(lambda: window.chat_host.current is not None, timeout=30000)
        return window

    yield make
    for window, history in made:
        window.close()
        window.deleteLater()
        history.close()
    # Delete the widgets now, on this thread, and collect their Python cycles here too: left to
    # the cyclic GC, they could be collected on a later test's worker thread, which Qt forbids.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


class Gate:
    """Makes a model's decode steps wait after `after` tokens until `open()` (to Stop mid-reply)."""

    def __init__(self, after: int):
        self.after, self.steps, self.event = after, 0, threading.Event()

    def open(self):
        self.event.set()

    def loader(self, path, **kwargs):
        model = engine.load(path, **kwargs)
        original = model.decode_step

        def gated(*args, **kw):
            self.steps += 1
            if self.steps > self.after:
                self.event.wait(timeout=30)
            return original(*args, **kw)

        model.decode_step = gated
        return model


@pytest.fixture
def gate():
    g = Gate(after=3)
    yield g
    g.open()  # never leave a worker waiting


@pytest.fixture
def send(qtbot):
    def send(window, text: str, max_tokens: int = 12) -> int:
        """Type text in the Chat composer, send it, wait for the saved reply; returns its message id."""
        page = window.chat_page
        page.settings_panel.form.max_new_tokens.setValue(max_tokens)
        page.composer.input.setPlainText(text)
        with qtbot.waitSignal(page.session.reply_saved, timeout=30000) as saved:
            page.composer.submit()
        return saved.args[0]

    return send
