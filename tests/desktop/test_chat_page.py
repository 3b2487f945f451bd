"""The Chat page end to end on a small random checkpoint: load, stream, stop, regenerate,
edit and resend, and finding a conversation again after a restart."""
from __future__ import annotations

from PySide6.QtCore import Qt


def test_loads_the_default_model_and_shows_its_memory(make_window, model_path):
    window = make_window()
    panel = window.chat_page.model_panel
    assert window.chat_host.info.path == str(model_path.resolve())
    assert panel.chooser.model_box.currentData() == str(model_path)  # the bundled default is preselected
    assert "weights" in panel.status.text() and not panel.progress.isVisible()


def test_send_streams_tokens_then_saves_the_reply_once(qtbot, make_window, send, db_path):
    window = make_window()
    page = window.chat_page
    seen = []
    page.session.reply_progress.connect(lambda: seen.append(len(page.session.pending.tokens)))
    message_id = send(window, "Attention lets every token look")
    reply = page.session.tree.by_id[message_id]
    assert seen and seen[0] < len(reply["tokens"])  # tokens arrived before the reply was complete
    assert reply["role"] == "assistant" and reply["content"] == "".join(t["text"] for t in reply["tokens"])
    assert reply["stats"]["generated_tokens"] == len(reply["tokens"]) and reply["tokens"][0]["top"]
    assert reply["settings"]["max_new_tokens"] == 12
    widget = page.chat_view.widget_for(message_id)
    assert "tok/s" in widget.footer.text() and "first token" in widget.footer.text()
    assert page.context_meter.value() == reply["stats"]["prompt_tokens"] + reply["stats"]["generated_tokens"]
    assert page.context_meter.maximum() == 256
    assert page.composer.text() == ""


def test_stop_ends_the_reply_within_one_token(qtbot, make_window, gate):
    window = make_window(load_model=gate.loader)
    page = window.chat_page
    page.settings_panel.form.max_new_tokens.setValue(100)
    page.composer.input.setPlainText("Quantization stores weights")
    page.composer.submit()
    qtbot.waitUntil(lambda: page.session.pending is not None and bool(page.session.pending.tokens), timeout=30000)
    assert page.composer.stop_button.isEnabled()
    with qtbot.waitSignal(page.session.reply_saved, timeout=30000) as saved:
        steps_at_stop = gate.steps
        qtbot.mouseClick(page.composer.stop_button, Qt.MouseButton.LeftButton)
        gate.open()
    stats = page.session.tree.by_id[saved.args[0]]["stats"]
    assert stats["stop_reason"] == "cancelled"
    assert stats["generated_tokens"] <= steps_at_stop + 1
    assert "stopped" in page.chat_view.widget_for(saved.args[0]).footer.text()
    assert page.composer.send_button.isEnabled()


def test_regenerate_adds_a_sibling_reply(qtbot, make_window, send):
    window = make_window()
    page = window.chat_page
    first = send(window, "To be, or not to be")
    page.settings_panel.form.temperature.setValue(1.0)
    page.settings_panel.form.seed.setValue(7)
    with qtbot.waitSignal(page.session.reply_saved, timeout=30000) as saved:
        qtbot.mouseClick(page.chat_view.widget_for(first).buttons["Regenerate"], Qt.MouseButton.LeftButton)
    second = saved.args[0]
    tree = page.session.tree
    assert tree.siblings(second) == [first, second]
    assert tree.by_id[second]["settings"]["temperature"] == 1.0 and tree.by_id[second]["settings"]["seed"] == 7
    assert [m["role"] for m in page.session.path()] == ["user", "assistant"]
    page.session.select_branch(first)  # the older reply is still there
    assert page.session.path()[-1]["id"] == first


def test_edit_and_resend_makes_a_branch(qtbot, make_window, send, db_path):
    window = make_window()
    page = window.chat_page
    send(window, "The animal didn't cross")
    original = page.session.path()[0]
    qtbot.mouseClick(page.chat_view.widget_for(original["id"]).buttons["Edit"], Qt.MouseButton.LeftButton)
    assert page.composer.editing == original["id"] and page.composer.text() == original["content"]
    page.composer.input.setPlainText("The animal did cross")
    with qtbot.waitSignal(page.session.reply_saved, timeout=30000):
        page.composer.submit()
    path = page.session.path()
    assert path[0]["content"] == "The animal did cross" and path[0]["parent_id"] is None
    assert page.session.tree.siblings(path[0]["id"]) == [original["id"], path[0]["id"]]
    assert page.composer.editing is None
    messages = window.history.messages(page.session.conversation_id)
    assert len(messages) == 4  # nothing replaced: both branches are stored


def test_restart_finds_the_conversation_by_search(qtbot, make_window, send):
    first = make_window()
    first.chat_page.settings_panel.form.temperature.setValue(0.5)
    first.chat_page.settings_panel.form.seed.setValue(3)
    send(first, "Quantization stores weights in fewer bits")
    first.close()

    second = make_window()
    conversations = second.chat_page.conversations
    conversations.search.setText("fewer bits")
    assert conversations.list.count() == 1
    assert "[fewer]" in conversations.list.item(0).text()
    second.chat_page.settings_panel.form.temperature.setValue(0.0)
    conversations._open_item(conversations.list.item(0))
    path = second.chat_page.session.path()
    assert [m["role"] for m in path] == ["user", "assistant"]
    assert len(second.chat_page.chat_view.widgets) == 2
    assert second.chat_page.settings_panel.form.temperature.value() == 0.5  # its settings came back
    second.chat_page.show_tokens(path[-1]["id"])  # the token view works from what was stored
    assert len(second.chat_page.token_view.strip.tokens) == path[-1]["stats"]["generated_tokens"]
    conversations.search.setText("no such words anywhere")
    assert conversations.list.count() == 0


def test_new_chat_clears_the_view_and_keeps_the_old_one(qtbot, make_window, send):
    window = make_window()
    page = window.chat_page
    send(window, "def add(a, b)")
    qtbot.mouseClick(page.conversations.new_button, Qt.MouseButton.LeftButton)
    assert page.session.conversation_id is None and not page.chat_view.widgets
    assert page.conversations.list.count() == 1


def test_a_chat_longer_than_the_context_drops_its_oldest_turns(qtbot, make_window, send):
    window = make_window()
    page = window.chat_page
    long_text = "Attention lets every token look at every other token. " * 8
    for _ in range(3):
        message_id = send(window, long_text, max_tokens=40)
    stats = page.session.tree.by_id[message_id]["stats"]
    assert stats["dropped_messages"] > 0
    assert "left out to fit the context" in page.chat_view.widget_for(message_id).footer.text()


def test_opening_a_chat_written_by_another_model_preselects_that_model(qtbot, make_window, send,
                                                                         checkpoint_factory):
    first = make_window()
    send(first, "Which model wrote this?")
    written_by = first.chat_host.info.path
    first.close()

    other = checkpoint_factory("qwen2")
    second = make_window(default_model=other)
    assert second.chat_host.info.path != written_by
    conversations = second.chat_page.conversations
    conversations._open_item(conversations.list.item(0))
    assert second.chat_page.model_panel.chooser.request().path == written_by
    assert "press Load" in second.chat_page.message_bar.text()
    assert second.chat_host.info.path == str(other.resolve())  # nothing was loaded behind the user's back


def test_a_follow_up_reply_shows_the_kv_cache_reuse(qtbot, make_window, send):
    window = make_window()
    send(window, "To be, or not to be", max_tokens=6)
    assert "KV cache reused" not in window.chat_page.chat_view.widgets[-1].footer.text()
    send(window, "That is the question", max_tokens=6)
    footer = window.chat_page.chat_view.widgets[-1].footer.text()
    assert "KV cache reused" in footer
    stats = window.chat_page.session.path()[-1]["stats"]
    assert 0 < stats["reused_prompt_tokens"] < stats["prompt_tokens"]
