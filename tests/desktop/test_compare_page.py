"""Side-by-side comparison: one prompt, two settings, each side streaming with its stats."""
from __future__ import annotations

from PySide6.QtCore import Qt


def run_compare(qtbot, window, prompt: str):
    page = window.compare_page
    window.show_page("Compare")
    page.prompt.setPlainText(prompt)
    for side in page.sides:
        side.form.max_new_tokens.setValue(10)
    with qtbot.waitSignal(page.run_finished, timeout=60000):
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    return page


def test_two_temperatures_on_one_model_share_the_chat_model(qtbot, make_window):
    window = make_window()
    page = window.compare_page
    page.sides[0].form.set_values({"temperature": 0.0})
    page.sides[1].form.set_values({"temperature": 1.0, "seed": 5})
    run_compare(qtbot, window, "The animal didn't cross")
    assert page.hosts_of_side == [window.chat_host, window.chat_host] and not page.own_hosts
    for side in page.sides:
        assert side.last_stats is not None and side.last_stats.generated_tokens == len(side.tokens) > 0
        assert side.output.markdown() == side.text()
        assert "tok/s" in side.stats.text()
    assert "greedy" in page.sides[0].stats.text() and "temp 1" in page.sides[1].stats.text()
    assert page.run_button.isEnabled() and not page.stop_button.isEnabled()


def test_two_model_settings_run_on_two_worker_threads(qtbot, make_window, checkpoint_factory):
    window = make_window()
    page = window.compare_page
    other = checkpoint_factory("qwen2")
    page.sides[1].chooser.set_request(str(other), "cpu", "fp32")
    run_compare(qtbot, window, "To be, or not to be")
    a, b = page.hosts_of_side
    assert a is window.chat_host and b is page.own_hosts[0] and b.thread is not a.thread
    assert b.info.model_type == "qwen2"
    assert all(side.last_stats is not None and side.tokens for side in page.sides)
    assert "qwen2" not in page.sides[0].stats.text()


def test_a_side_that_cannot_load_shows_why_and_the_other_still_runs(qtbot, make_window, tmp_path):
    window = make_window()
    page = window.compare_page
    empty = tmp_path / "empty"
    empty.mkdir()
    page.sides[1].chooser.set_request(str(empty))
    run_compare(qtbot, window, "Attention")
    assert page.sides[0].tokens and page.sides[0].last_stats is not None
    assert "config.json" in page.sides[1].error and "config.json" in page.sides[1].stats.text()
