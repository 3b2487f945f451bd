"""The token and attention views opened on a reply (and on a reply read back after a restart)."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from desktop.inspect.token_view import percent, probability_color, tooltip_html


def hover(widget, point: QPointF):
    """Deliver a mouse move to the widget (synthetic cursor moves are unreliable offscreen)."""
    event = QMouseEvent(QMouseEvent.Type.MouseMove, point, widget.mapToGlobal(point), Qt.MouseButton.NoButton,
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_token_view_colors_tokens_and_shows_alternatives(qtbot, make_window, send):
    window = make_window()
    page = window.chat_page
    message_id = send(window, "Attention lets every token look")
    qtbot.mouseClick(page.chat_view.widget_for(message_id).buttons["Tokens"], Qt.MouseButton.LeftButton)
    view = page.token_view
    assert page.tabs.currentWidget() is view
    stored = page.session.tree.by_id[message_id]["tokens"]
    assert [t.id for t in view.strip.tokens] == [t["id"] for t in stored]
    assert f"{len(stored)} tokens" in view.summary.text()
    hover(view.strip, view.strip.rects[0].center())
    assert "Top alternatives" in view.detail.text()
    token = view.strip.tokens[0]
    assert percent(math.exp(token.top[0].logprob)) in view.detail.text()
    assert view.strip.token_at(view.strip.rects[0].center()) == 0
    assert view.strip.token_at(QPoint(-5, -5).toPointF()) == -1


def test_probability_colors_run_from_red_to_green():
    assert probability_color(0.0).hueF() < 0.02 and abs(probability_color(1.0).hueF() - 0.33) < 0.01


def test_percentages_keep_two_significant_digits():
    assert (percent(0.823), percent(0.015), percent(0.00042)) == ("82%", "1.5%", "0.042%")


def test_tooltip_says_when_the_sampled_token_was_outside_the_top(qtbot):
    import engine

    token = engine.Token(9, "x", math.log(0.01), (engine.Alternative(1, "a", math.log(0.9)),))
    assert "not in the top 1" in tooltip_html(token)


def test_attention_view_shows_layers_heads_and_average(qtbot, make_window, send):
    window = make_window()
    page = window.chat_page
    message_id = send(window, "The animal didn't cross")
    with qtbot.waitSignal(window.chat_host.attention_ready, timeout=30000):
        qtbot.mouseClick(page.chat_view.widget_for(message_id).buttons["Attention"], Qt.MouseButton.LeftButton)
    view = page.attention_view
    assert page.tabs.currentWidget() is view
    weights = view.map.weights
    n_tokens = len(view.map.tokens)
    reply_tokens = len(page.session.tree.by_id[message_id]["tokens"])
    assert weights.shape == (2, 4, n_tokens, n_tokens)  # layers, heads of the test checkpoint
    assert view.map.span == (n_tokens - reply_tokens, n_tokens)
    assert view.layer_box.count() == 2 and view.head_box.count() == 4
    assert np.allclose(view.current_matrix(), weights[1].mean(0))  # last layer, averaged, by default
    view.average.setChecked(False)
    view.layer_box.setCurrentIndex(0)
    view.head_box.setCurrentIndex(2)
    matrix = view.current_matrix()
    assert np.allclose(matrix, weights[0, 2]) and np.allclose(matrix.sum(-1), 1.0, atol=1e-4)
    assert np.allclose(np.triu(matrix, 1), 0.0)  # causal: nothing attends to later tokens
    assert view.heatmap.image.width() == n_tokens
    left, top, cell = view.heatmap.geometry_of_cells()
    hover(view.heatmap, QPointF(left + cell * 1.5, top + cell * 3.5))
    assert view.hover.text().startswith("token 4") and view.hover.text().endswith(f"{matrix[3, 1]:.3f}")


def test_attention_of_a_user_message_marks_its_tokens(qtbot, make_window, send):
    window = make_window()
    page = window.chat_page
    page.settings_panel.system_prompt_edit.setPlainText("Answer in one line.")
    send(window, "Quantization stores weights")
    user_id = page.session.path()[0]["id"]
    with qtbot.waitSignal(window.chat_host.attention_ready, timeout=30000) as ready:
        page.show_attention(user_id)
    start, end = ready.args[1].span
    assert 0 < start < end == len(ready.args[1].tokens)  # after the system prompt, up to its end


def test_replies_keep_their_line_breaks_but_code_stays_verbatim():
    from desktop.chat.message_view import keep_line_breaks

    text = "Shall I compare thee\nto a summer's day?\n\n```python\nx = 1\ny = 2\n```\n- a\n- b"
    out = keep_line_breaks(text)
    assert "compare thee  \nto a summer's day?\n\n" in out
    assert "```python\nx = 1\ny = 2\n```" in out
