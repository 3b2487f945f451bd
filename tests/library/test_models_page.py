"""The Models page, the Download dialog and the choosers that offer the library, offscreen:
scans on a worker thread (waited on by signal), Open loads the model in Chat, a model glasslm
cannot open says why, and a download shows progress, can be cancelled and resumes."""
from __future__ import annotations

import gc
import hashlib
import threading

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QSettings

from engine.library import scan
from local_hub import HubRepo
from model_files import checkpoint_files, hf_cache_repo, home_locations, write_gguf

pytest.importorskip("pytestqt")


def test_models_page_lists_what_is_found_and_opens_it(home, qtbot):
    from desktop.models.library_host import LibraryHost
    from desktop.models.page import ModelsPage

    lmstudio = home / ".lmstudio" / "models" / "pub" / "Tiny-GGUF"
    good = write_gguf(lmstudio / "tiny.Q8_0.gguf")
    write_gguf(lmstudio / "mmproj-tiny-F32.gguf", arch="clip", tensor_type="F32")
    write_gguf(home / ".lmstudio" / "models" / "pub" / "Cut-GGUF" / "cut.gguf").write_bytes(b"GGUF")
    host = LibraryHost(lambda: scan(home_locations(home)))
    page = ModelsPage(library=host)
    qtbot.addWidget(page)
    with qtbot.waitSignal(host.scanned, timeout=30000):
        page.show()  # the first look scans
    assert page.model.rowCount() == 2
    assert page.summary.text() == "2 models on this machine, 1 of them open in glasslm"
    assert "pub/Cut-GGUF/cut.gguf (lmstudio): truncated or corrupt GGUF header" in page.not_listed.text()
    page.filter.setText("mmproj")
    assert page.proxy.rowCount() == 1
    page.table.selectRow(0)
    page.open_selected()
    assert page.message_bar.text() == "Glasslm cannot open pub/Tiny-GGUF/mmproj-tiny-F32.gguf: architecture clip not supported"
    page.filter.clear()
    assert page.select_path(str(good))
    with qtbot.waitSignal(page.open_requested, timeout=5000) as opened:
        page.open_button.click()
    assert opened.args == [str(good)]
    page.shutdown()


def test_the_window_offers_the_library_everywhere_and_opens_in_chat(home, qtbot, tmp_path, checkpoint_factory):
    from desktop.main_window import MainWindow
    from history import History

    ckpt = checkpoint_factory("llama")
    snapshot = hf_cache_repo(home / ".cache" / "huggingface" / "hub", "acme/tiny-llama", checkpoint_files(ckpt))
    history = History.open(tmp_path / "history.db")
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), history, ckpt,
                        autoload=False)
    try:
        _offers_and_opens(window, snapshot, qtbot)
    finally:
        window.close()
        window.deleteLater()
        history.close()
        # delete the widgets here, on this thread: left to the cyclic GC they could go on a worker thread
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()


def _offers_and_opens(window, snapshot, qtbot):
    window.show()
    assert window.models_page.library.library is None  # nothing is scanned until it is needed
    with qtbot.waitSignal(window.models_page.library.scanned, timeout=30000):
        window.show_page("Models")
    path = str(snapshot.resolve())
    chat_box = window.chat_page.model_panel.chooser.model_box
    assert chat_box.findData(path) >= 0 and "acme/tiny-llama" in chat_box.itemText(chat_box.findData(path))
    for side in window.compare_page.sides:
        assert side.chooser.model_box.findData(path) >= 0
    form = window.evaluate_page.form
    assert path in [form.models.item(r).data(0x0100) for r in range(form.models.count())]
    assert window.models_page.select_path(path)
    with qtbot.waitSignal(window.chat_host.loaded, timeout=30000) as loaded:
        window.models_page.open_selected()
    assert loaded.args[0].info.path == path
    assert window.sidebar.currentRow() == 0  # Chat


def test_download_dialog_chooses_shows_progress_cancels_and_resumes(home, hub, qtbot):
    from desktop.models.download_dialog import DownloadDialog

    small = write_gguf(home / "src" / "a.gguf", tensor_type="Q4_0").read_bytes()
    big = write_gguf(home / "src" / "b.gguf", embedding_rows=16384, tensor_type="F32").read_bytes()
    hub.add(HubRepo("acme/tiny-GGUF", {"tiny.Q4_0.gguf": small, "tiny.F32.gguf": big}))
    release = threading.Event()
    hub.hold_once[hashlib.sha256(big).hexdigest()] = (400_000, release)
    dialog = DownloadDialog(endpoint=hub.url)
    qtbot.addWidget(dialog)
    try:
        _downloads(dialog, hub, big, release, qtbot)
    finally:
        release.set()
        dialog.shutdown()


def _downloads(dialog, hub, big, release, qtbot):
    from desktop.models.download_dialog import BAR_STEPS

    dialog.show()
    dialog.repo.setText("acme/tiny-GGUF")
    with qtbot.waitSignal(dialog.shown, timeout=15000, check_params_cb=lambda what: what == "choose"):
        dialog.download_button.click()
    assert dialog.file.isVisible() and dialog.file.count() == 2
    assert dialog.status.text() == "This repository holds 2 GGUF files: choose one, then press Download."
    dialog.file.setCurrentIndex(dialog.file.findData("tiny.F32.gguf"))
    with qtbot.waitSignal(dialog.shown, timeout=15000, check_params_cb=lambda what: what == "progress"):
        dialog.download_button.click()
    assert dialog.cancel_button.isEnabled() and not dialog.download_button.isEnabled()
    assert " of " in dialog.status.text() and 0 < dialog.progress.value() < BAR_STEPS
    dialog.cancel_button.click()
    with qtbot.waitSignal(dialog.shown, timeout=15000, check_params_cb=lambda what: what == "cancelled"):
        release.set()  # the next piece arrives; the worker sees the cancel
    assert dialog.status.text().startswith("Download of acme/tiny-GGUF cancelled;")
    assert dialog.download_button.isEnabled()
    with qtbot.waitSignal(dialog.downloaded, timeout=15000) as done:
        dialog.download_button.click()
    assert open(done.args[0], "rb").read() == big
    assert dialog.progress.value() == BAR_STEPS and dialog.open_button.isEnabled()
    assert hub.requests("cdn", "GET")[-1].range is not None  # resumed, not started over
    with qtbot.waitSignal(dialog.open_requested, timeout=5000) as opened:
        dialog.open_button.click()
    assert opened.args == done.args
    dialog.repo.setText("acme/missing")
    with qtbot.waitSignal(dialog.shown, timeout=15000, check_params_cb=lambda what: what == "failed"):
        dialog.download_button.click()
    assert dialog.status.text().startswith("Acme/missing is not on the Hub")
