""""Check this answer" on a chat reply: sampled on the worker, kept with the message in the history,
shown again after a restart without re-running."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.inside.selfcheck import AnswerCheck
from history import History, HistoryError


def click_check(qtbot, page, message_id: int):
    with qtbot.waitSignal(page.host.computed, timeout=60000):
        qtbot.mouseClick(page.chat_view.widget_for(message_id).buttons["Check"], Qt.MouseButton.LeftButton)


def test_check_is_kept_with_the_reply_and_shown_after_a_restart(qtbot, make_window, send, db_path):
    window = make_window()
    page = window.chat_page
    message_id = send(window, "Attention lets every token look", max_tokens=12)
    page.check_view.samples_box.setValue(3)
    click_check(qtbot, page, message_id)
    assert page.tabs.currentWidget() is page.check_view
    check = page.check_view.check
    assert len(check.samples) == 3 and check.settings["seeds"] == [0, 1, 2]
    assert check.summary() in page.check_view.status.text()
    stored = window.history.answer_checks(page.session.conversation_id)[message_id]
    assert stored["summary"] == check.summary() and AnswerCheck.from_dict(stored["check"]) == check
    assert "checked: " in page.chat_view.widget_for(message_id).footer.text()
    assert page.check_view.reply.toPlainText().strip() == check.answer.strip()
    conversation = page.session.conversation_id
    window.close()

    again = make_window(db=db_path)
    page = again.chat_page
    page.session.open(conversation)
    assert "checked: " in page.chat_view.widget_for(message_id).footer.text()
    qtbot.mouseClick(page.chat_view.widget_for(message_id).buttons["Check"], Qt.MouseButton.LeftButton)
    assert page._check_rid is None  # shown from the history, not sampled again
    assert page.check_view.check == check
    page.check_view.seed_box.setValue(9)
    with qtbot.waitSignal(page.host.computed, timeout=60000):
        qtbot.mouseClick(page.check_view.run_button, Qt.MouseButton.LeftButton)
    newest = again.history.answer_checks(conversation)[message_id]
    assert newest["check"]["settings"]["seeds"][0] == 9 and page.check_view.check.settings["seeds"][0] == 9


def test_check_needs_a_model(qtbot, make_window):
    window = make_window(load=False, autoload=False)
    page = window.chat_page
    assert page.check_answer(None) is None
    assert "load a model" in page.check_view.status.text()


def test_answer_checks_table(tmp_path):
    with History.open(tmp_path / "h.db") as history:
        assert history.schema_version()[-1] == "m003_answer_checks"
        conversation = history.new_conversation("t", None, {})
        reply = history.add_message(conversation, "assistant", "Paris.")
        history.add_answer_check(reply, {"n": 1}, "first")
        newest = history.add_answer_check(reply, {"n": 2}, "second")
        rows = history.answer_checks(conversation)
        assert list(rows) == [reply] and rows[reply]["id"] == newest and rows[reply]["check"] == {"n": 2}
        with pytest.raises(HistoryError, match="no message"):
            history.add_answer_check(reply + 100, {})
        history.delete_conversation(conversation)
        assert history.db.execute("SELECT count(*) FROM answer_checks").fetchone()[0] == 0
