"""The Inside page on the Chat page's model (offscreen, waiting on signals): every view computed on
the worker, a head opened in the attention view, the generation stepper, fp32 vs nf4, and an eval
item opened inside."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

import engine
from engine.inside.heads import summarize_heads


def inside(qtbot, make_window):
    """A window showing the Inside page, its first tab (Tokens) computed."""
    window = make_window()
    page = window.inside_page
    with qtbot.waitSignal(page.tokens_tab.computed, timeout=30000):
        window.show_page("Inside")
    return window, page


def show(qtbot, page, tab):
    with qtbot.waitSignal(tab.computed, timeout=30000):
        page.tabs.setCurrentWidget(tab)


@pytest.fixture
def reference(model_path):
    return engine.load(model_path, device="cpu", precision="fp32")


def test_every_view_is_computed_on_the_loaded_model(qtbot, make_window, reference):
    window, page = inside(qtbot, make_window)
    text = page.text.toPlainText()
    ids = reference.tokenizer.encode(text)
    assert page.tokens_tab.left.strip.breakdown.ids == ids
    assert f"{len(ids)} tokens" in page.tokens_tab.left.counts.text()
    assert page.tokens_tab.right.strip.breakdown is not None  # the second tokenizer (bard-mini or SmolLM2)
    show(qtbot, page, page.embeddings_tab)
    embeddings = page.embeddings_tab
    first = embeddings.result.token_id
    assert [n.id for n in embeddings.result.neighbors] == [n.id for n in reference.embedding_neighbors(first, 10)]
    assert embeddings.table.rowCount() == 10 and len(embeddings.scatter.positions()) == len(embeddings.map.words)

    show(qtbot, page, page.lens_tab)
    lens = page.lens_tab.result.lens
    own = reference.logits([ids])[0].topk(5).indices
    assert torch.equal(lens.token_ids[-1], own) and lens.n_rows == reference.config.num_hidden_layers + 1
    assert page.lens_tab.detail.rowCount() == lens.n_rows
    page.lens_tab.scroll.horizontalScrollBar().setValue(0)  # (it opens scrolled to the last position)
    qtbot.mouseClick(page.lens_tab.grid, Qt.MouseButton.LeftButton, pos=page.lens_tab.grid.cell_rect(0, 1).center()
                     .toPoint())
    assert page.lens_tab.grid.selected == 1 and "token 2" in page.lens_tab.detail_title.text()

    show(qtbot, page, page.positions_tab)
    by_distance = page.positions_tab.result.by_distance
    assert by_distance.shape[:2] == (2, 4) and "Rotary" in page.positions_tab.info_label.text()

    show(qtbot, page, page.heads_tab)
    expected = summarize_heads(reference.attention(ids))
    assert [s.kind for s in page.heads_tab.result.summaries] == [s.kind for s in expected]
    assert page.heads_tab.grid.rowCount() == 2 and page.heads_tab.grid.columnCount() == 4
    with qtbot.waitSignal(page.attention_tab.computed, timeout=5000):
        page.heads_tab.open_head(1, 3)  # what a click on the grid does
    assert page.tabs.currentWidget() is page.attention_tab
    view = page.attention_tab
    assert not view.average.isChecked() and (view.layer_box.currentIndex(), view.head_box.currentIndex()) == (1, 3)
    assert np.allclose(view.current_matrix(), page.heads_tab.result.attention.weights[1, 3])
    assert page.message_bar.kind == ""


def test_a_changed_text_is_recomputed_when_shown(qtbot, make_window):
    window, page = inside(qtbot, make_window)
    show(qtbot, page, page.lens_tab)
    before = len(page.lens_tab.result.tokens.ids)
    page.text.setPlainText("To be, or not to be, that is the question: whether 'tis nobler in the mind")
    show(qtbot, page, page.heads_tab)
    show(qtbot, page, page.lens_tab)
    assert len(page.lens_tab.result.tokens.ids) != before


def test_generation_steps_explain_each_token_and_the_cache(qtbot, make_window, reference):
    window, page = inside(qtbot, make_window)
    tab = page.stepper_tab
    page.tabs.setCurrentWidget(tab)
    tab.form.set_values({"temperature": 0.0, "max_new_tokens": 5})
    tab.as_chat.setChecked(True)
    with qtbot.waitSignal(tab.computed, timeout=30000):
        qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert "bytes per token per layer" in tab.cache_label.text()
    with qtbot.waitSignal(tab.computed, timeout=30000):
        qtbot.mouseClick(tab.ten_button, Qt.MouseButton.LeftButton)
    messages = [{"role": "user", "content": page.text.toPlainText()}]
    expected = [t.id for t in reference.chat(messages, engine.Sampling(max_new_tokens=5))]
    assert [s.chosen.id for s in tab.steps] == expected
    assert tab.steps[-1].finished in ("eos", "length") and not tab.step_button.isEnabled()
    assert "greedy" in tab.reason.text() and tab.bars.marked == 0
    c = reference.config
    assert f"{2 * c.num_key_value_heads * c.head_dim * 4:,} bytes per token per layer" in tab.cache_label.text()


def test_fp32_against_nf4_side_by_side(qtbot, make_window):
    window, page = inside(qtbot, make_window)
    tab = page.quant_tab
    page.tabs.setCurrentWidget(tab)
    tab.precision.setCurrentText("nf4")
    with qtbot.waitSignal(tab.computed, timeout=60000):
        tab.refresh(page.subject())
    result = tab.result
    assert (result.label_a, result.label_b) == ("fp32", "nf4")
    assert tab.table.rowCount() == len(result.tokens) and result.max_abs_difference > 0
    assert f"at <b>{len(result.changed)}</b> of" in tab.note.text()


def test_eval_item_opened_inside(qtbot, make_window):
    window = make_window()
    detail = window.history_page.results.detail
    row = {"item_id": "capital-1", "variant": "", "kind": "generate", "part": "facts", "correct": False,
           "prompt": "Q: What is the capital of France?\nA:", "output": "Lyon", "expected": "Paris", "score": 0.0,
           "scores": {}, "choice_logprobs": None}
    detail.show_result({}, row)
    assert detail.inside_button.isEnabled()
    page = window.inside_page
    with qtbot.waitSignal(page.lens_tab.computed, timeout=30000):
        qtbot.mouseClick(detail.inside_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is page and page.tabs.currentWidget() is page.lens_tab
    assert page.text.toPlainText() == row["prompt"] + " Lyon"
    tokens = page.lens_tab.result.tokens
    start, end = tokens.span
    assert "".join(tokens.texts[start:end]).strip() == "Lyon" and end == len(tokens.ids)
    with qtbot.waitSignal(page.attention_tab.computed, timeout=30000):
        page.tabs.setCurrentWidget(page.attention_tab)
    assert page.attention_tab.map.span == (start, end)
    detail.show_result({}, None)
    assert not detail.inside_button.isEnabled()


def test_no_model_says_what_to_do(qtbot, make_window):
    window = make_window(load=False, autoload=False)
    page = window.inside_page
    window.show_page("Inside")
    page.tabs.setCurrentWidget(page.quant_tab)
    page.quant_tab.refresh(page.subject())
    assert "no model is loaded" in page.message_bar.text().lower() and "Chat page" in page.message_bar.text()
