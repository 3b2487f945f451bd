"""The app with a model on a server (glasslm serve on a free port): "Remote server…" in the model choosers,
the dialog listing the served models off the GUI thread, Chat streaming with each token's probability and
alternatives, and the attention view saying why it has nothing to show."""
import sys
from pathlib import Path

import pytest

import engine
from desktop.model_panel import REMOTE
from desktop.remote_dialog import RemoteDialog
from engine import remote
from engine.generation import Generation

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from serving import BARD, RunningServer  # noqa: E402


@pytest.fixture
def bard_server():
    model = engine.load(str(BARD), device="cpu", precision="fp32")
    running = RunningServer(model)
    yield running, model
    running.stop()
    model.close()


def test_chat_streams_from_a_remote_server_and_attention_says_why_not(qtbot, make_window, send, bard_server):
    running, bard = bard_server
    window = make_window()
    page = window.chat_page
    chooser = page.model_panel.chooser
    assert chooser.model_box.findData(REMOTE) >= 0
    path = remote.remote_path(running.base_url, "bard-mini")
    chooser.select_path(path)
    assert chooser.model_box.currentText() == f"bard-mini  —  remote, {running.base_url}"
    with qtbot.waitSignal(window.chat_host.loaded, timeout=30000):
        page.model_panel.load_current()
    assert "served by" in page.model_panel.status.text()
    page.settings_panel.form.temperature.setValue(0)
    message_id = send(window, "Good morrow", max_tokens=8)
    tokens = page.session.tokens_of(message_id)
    messages = [{"role": "user", "content": "Good morrow"}]
    local = list(Generation(bard, bard.chat_ids(messages), engine.Sampling(temperature=0, max_new_tokens=8)))
    assert [t.text for t in tokens] == [t.text for t in local]
    assert [t.logprob for t in tokens] == pytest.approx([t.logprob for t in local], abs=1e-4)
    assert all(len(t.top) == 5 for t in tokens)  # the token view's alternatives, from top_logprobs
    with qtbot.waitSignal(window.chat_host.failed, timeout=30000,
                          check_params_cb=lambda rid, _message: rid == page._attention_rid):
        page.show_attention(message_id)
    assert "needs the model's weights" in page.attention_view.note.text()


def test_the_dialog_lists_served_models_and_keeps_the_key_for_the_session(qtbot, settings_path, bard_server):
    from PySide6.QtCore import QSettings

    running, _ = bard_server
    dialog = RemoteDialog(QSettings(str(settings_path), QSettings.Format.IniFormat))
    qtbot.addWidget(dialog)
    dialog.url.setText(running.base_url)
    dialog.api_key.setText("sesame")
    with qtbot.waitSignal(dialog._lister.listed, timeout=30000):
        dialog.list_models()
    assert [dialog.model.itemText(i) for i in range(dialog.model.count())] == ["bard-mini"]
    dialog.accept()
    assert dialog.chosen() == f"{running.base_url}#bard-mini"
    try:
        assert remote.api_key_for(running.base_url) == "sesame"
        dialog.settings.sync()
        stored = Path(settings_path).read_text()
        assert running.base_url in stored and "sesame" not in stored  # the URL is remembered, the key never
    finally:
        remote.remember_key(running.base_url, None)
    dialog.url.setText("ftp://nowhere")
    dialog.list_models()
    assert "http(s) URL" in dialog.note.text()
