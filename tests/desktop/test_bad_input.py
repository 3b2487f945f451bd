"""Bad input shows a clear message in the window and loses nothing: a folder that is not a
model, a model that runs out of memory, a history database that cannot be opened."""
from __future__ import annotations

from PySide6.QtCore import Qt

import engine
from desktop.app import open_history


def test_a_folder_that_is_not_a_model_shows_the_engine_message_and_the_app_stays_usable(
        qtbot, make_window, send, tmp_path, model_path):
    window = make_window()
    page = window.chat_page
    send(window, "Attention lets every token look")
    not_a_model = tmp_path / "holiday-photos"
    not_a_model.mkdir()
    (not_a_model / "beach.jpg").write_bytes(b"\xff\xd8")
    page.model_panel.chooser.set_request(str(not_a_model))
    with qtbot.waitSignal(window.chat_host.load_failed, timeout=30000):
        qtbot.mouseClick(page.model_panel.load_button, Qt.MouseButton.LeftButton)
    assert "holiday-photos" in page.message_bar.text() and "config.json" in page.message_bar.text()
    assert page.model_panel.load_button.isEnabled() and not page.model_panel.progress.isVisible()
    page.composer.input.setPlainText("typed while no model is loaded")
    page.composer.submit()
    assert "no model is loaded" in page.message_bar.text().lower()
    assert page.composer.text() == "typed while no model is loaded"  # nothing typed is lost
    assert len(page.chat_view.widgets) == 2  # the earlier exchange is still shown

    page.model_panel.chooser.set_request(str(model_path))
    with qtbot.waitSignal(window.chat_host.loaded, timeout=30000):
        qtbot.mouseClick(page.model_panel.load_button, Qt.MouseButton.LeftButton)
    assert page.message_bar.text() == ""
    with qtbot.waitSignal(page.session.reply_saved, timeout=30000):
        page.composer.submit()
    assert [m["content"] for m in page.session.path() if m["role"] == "user"] == [
        "Attention lets every token look", "typed while no model is loaded"]


def test_out_of_memory_while_loading_is_explained(qtbot, make_window):
    def no_memory(path, **kwargs):
        raise engine.OutOfMemoryError("the model did not fit in cuda:0 memory; choose a smaller precision")

    window = make_window(load_model=no_memory, load=False)
    with qtbot.waitSignal(window.chat_host.load_failed, timeout=30000):
        pass
    assert "did not fit" in window.chat_page.message_bar.text()
    assert window.chat_page.model_panel.load_button.isEnabled()


def test_out_of_memory_while_generating_is_explained_and_the_message_kept(qtbot, make_window):
    def loader(path, **kwargs):
        model = engine.load(path, **kwargs)

        def prefill(*args, **kw):
            raise engine.OutOfMemoryError("the key/value cache for 512 tokens does not fit in cpu memory")

        model.prefill = prefill
        return model

    window = make_window(load_model=loader)
    page = window.chat_page
    page.composer.input.setPlainText("a long question")
    with qtbot.waitSignal(window.chat_host.failed, timeout=30000):
        page.composer.submit()
    assert "does not fit" in page.message_bar.text()
    assert [m["content"] for m in page.session.path()] == ["a long question"]  # saved; Regenerate retries
    assert page.composer.send_button.isEnabled()


def test_a_database_that_cannot_be_opened_is_explained_and_nothing_is_touched(qtbot, make_window, tmp_path, send):
    notes = tmp_path / "notes.db"
    notes.write_text("my shopping list\n")
    history, notice = open_history(str(notes))
    assert "not a glasslm database" in notice and "will not be saved" in notice
    window = make_window(history=history, notice=notice)
    assert "notes.db" in window.notice_bar.text() and window.notice_bar.isVisible()
    send(window, "still works")  # chat goes on, kept in memory
    assert window.chat_page.session.path()[-1]["role"] == "assistant"
    assert notes.read_text() == "my shopping list\n"
