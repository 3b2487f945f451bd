"""The Positions view: attention alone does not know word order, so the model adds it.

For rotary models, the wavelength (in tokens) of every dimension pair as the model uses it,
next to the unscaled one and the context window; for learned absolute positions (GPT-2), how
similar the position vectors are to each other. Below, on the current text: how much each head
attends to the token d positions back (relative distance). Computed on the model worker.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from engine.inside.positions import (
    PositionInfo, attention_by_distance, learned_position_similarity, position_info,
)

from .charts import HeatGrid, LogLineChart
from .subject import subject_tokens

MAX_DISTANCE = 32  # distances shown in the relative-distance map
LEARNED_SHOWN = 64  # learned positions in the similarity matrix


@dataclass(frozen=True)
class PositionsResult:
    info: PositionInfo
    by_distance: np.ndarray  # (L, H, D) mean attention at each distance on the current text
    n_tokens: int
    similarity: np.ndarray | None = None  # (P, P) learned position cosine similarity


def positions_job(subject):
    def job(model, _progress) -> PositionsResult:
        info = position_info(model)
        tokens = subject_tokens(model, subject)
        weights = model.attention(tokens.ids)  # (L, H, T, T)
        distance = attention_by_distance(weights, MAX_DISTANCE, skip_first=True).numpy()
        similarity = learned_position_similarity(model, LEARNED_SHOWN).numpy() if info.kind == "learned" else None
        return PositionsResult(info, distance, len(tokens.ids), similarity)
    return job


def describe(info: PositionInfo) -> str:
    if info.kind == "learned":
        return (f"<b>Learned absolute positions</b>: a vector for each of {info.learned_positions} positions is added "
                "to the token's embedding before the first layer. Left: how similar those vectors are "
                "(neighbouring positions get similar vectors).")
    waves = info.wavelengths
    scaling = "no scaling" if not info.scaled else (
        f"<b>{info.rope_type}</b> scaling, factor {info.factor:g} (from an original context of "
        f"{info.original_context})" + (f", cos/sin scaled by {info.cos_sin_scale:.3f}" if info.cos_sin_scale != 1 else ""))
    partial = f" (only the first {info.rotary_dim} of {info.head_dim} dimensions turn)" \
        if info.rotary_dim < info.head_dim else ""
    local = f" Sliding layers use their own rope ({len(info.local_inv_freq)} pairs)." if info.local_inv_freq else ""
    return (f"<b>Rotary positions (RoPE)</b>, base θ = {info.theta:g}, {scaling}. Each head's queries and keys are "
            f"turned by position × frequency in {info.rotary_dim // 2} pairs of dimensions{partial}, so a score "
            f"depends on how far apart two tokens are. The fastest pair turns every {waves[0]:.1f} tokens, the "
            f"slowest every {waves[-1]:,.0f} (context window: {info.context:,}).{local}")


class PositionsTab(QWidget):
    computed = Signal()

    def __init__(self, page, parent: QWidget | None = None):
        super().__init__(parent)
        self.page = page
        self.info_label = QLabel("How this model knows word order.")
        self.info_label.setWordWrap(True)
        self.wavelengths = LogLineChart()
        self.similarity = HeatGrid(left_margin=30.0)
        self.left = QStackedWidget()
        self.left.addWidget(self.wavelengths)
        self.left.addWidget(self.similarity)
        self.distance_note = QLabel("Attention by relative distance appears here.")
        self.distance_note.setWordWrap(True)
        self.distance = HeatGrid(left_margin=64.0)
        self.hover = QLabel(" ")
        self.hover.setWordWrap(True)
        self.distance.hovered.connect(self._on_hover)
        right = QWidget()
        col = QVBoxLayout(right)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.distance_note)
        col.addWidget(self.distance, 1)
        col.addWidget(self.hover)
        split = QSplitter()
        split.addWidget(self.left)
        split.addWidget(right)
        split.setSizes([520, 520])
        layout = QVBoxLayout(self)
        layout.addWidget(self.info_label)
        layout.addWidget(split, 1)
        self.result: PositionsResult | None = None

    def refresh(self, subject):
        self.page.jobs.run("positions", positions_job(subject), "reading the position encoding", self._show,
                           self.page.show_error)

    def _show(self, result: PositionsResult):
        self.result = result
        info = result.info
        self.info_label.setText(describe(info))
        if info.kind == "learned":
            self.left.setCurrentWidget(self.similarity)
            n = result.similarity.shape[0]
            ticks = [str(i) if i % 8 == 0 else "" for i in range(n)]
            self.similarity.set_matrix((result.similarity + 1) / 2, ticks, ticks, sqrt=False)
        else:
            self.left.setCurrentWidget(self.wavelengths)
            series = [("as used", list(info.wavelengths))]
            if info.scaled:
                series.append(("unscaled", list(info.base_wavelengths)))
            references = [(f"context {info.context:,}", float(info.context))]
            if info.scaled and info.original_context != info.context:
                references.append((f"original context {info.original_context:,}", float(info.original_context)))
            self.wavelengths.set_series(series, references, "dimension pair → wavelength in tokens (log scale)")
        L, H, D = result.by_distance.shape
        rows = result.by_distance.reshape(L * H, D)
        labels = [f"layer {l + 1}" if h == 0 else "" for l in range(L) for h in range(H)]
        scaled = rows / np.maximum(rows.max(axis=1, keepdims=True), 1e-9)  # each head on its own scale
        self.distance.set_matrix(scaled, labels, [str(d) for d in range(D)])
        self.distance_note.setText(
            f"<b>Attention by relative distance</b> on the current text ({result.n_tokens} tokens): one row per head "
            f"({H} per layer), one column per distance d = 0 (itself), 1 (the previous token) … {D - 1}; darker = "
            "more of that head's attention lands d tokens back (each row on its own scale; the first token is left "
            "out, since most heads park attention there: see Heads). A dark column 1 is a previous-token head.")
        self.computed.emit()

    def _on_hover(self, row: int, col: int):
        if self.result is None or row < 0:
            self.hover.setText(" ")
            return
        H = self.result.by_distance.shape[1]
        value = self.result.by_distance[row // H, row % H, col]
        self.hover.setText(f"layer {row // H + 1}, head {row % H + 1}: {value:.3f} of its attention "
                           f"{'on itself' if col == 0 else f'{col} token' + ('s' if col > 1 else '') + ' back'}"
                           f" (mean over queries)")
