"""The generation settings widgets: `SamplingForm` (every `engine.Sampling` control) and
`SettingsPanel` (system prompt + named presets + a SamplingForm), with their last values
kept in QSettings.

They only hold values; they never talk to a model or the history database.
"""
from __future__ import annotations

import json

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QInputDialog, QLabel, QPlainTextEdit, QPushButton,
    QSpinBox, QVBoxLayout, QWidget,
)

import engine

from .presets import PresetStore

SAMPLING_KEYS = engine.NUMBER_FIELDS  # one spin box each
NO_SEED = -1  # the seed box shows "random" at this value


def _double(low, high, step, decimals=2, special=None) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    if special:
        box.setSpecialValueText(special)
    return box


def _integer(low, high, special=None) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    if special:
        box.setSpecialValueText(special)
    return box


class SamplingForm(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.temperature = _double(0.0, 2.0, 0.05, special="0 (greedy)")
        self.top_k = _integer(0, 100000, special="off")
        self.top_p = _double(0.01, 1.0, 0.05)
        self.min_p = _double(0.0, 1.0, 0.01, special="off")
        self.repetition_penalty = _double(0.5, 2.0, 0.05)
        self.max_new_tokens = _integer(1, 32768)
        self.seed = _integer(NO_SEED, 2**31 - 1, special="random")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        rows = (("Temperature", self.temperature, "0 picks the most likely token every time"),
                ("Top-k", self.top_k, "keep only the k most likely tokens"),
                ("Top-p", self.top_p, "keep the smallest set of tokens with this much probability (1 = off)"),
                ("Min-p", self.min_p, "drop tokens less likely than min-p x the most likely one"),
                ("Repetition penalty", self.repetition_penalty, "above 1 discourages repeating tokens"),
                ("Max tokens", self.max_new_tokens, "stop after this many generated tokens"),
                ("Seed", self.seed, "the same seed and settings give the same reply"))
        for label, box, tip in rows:
            box.setToolTip(tip)
            form.addRow(label, box)
            box.valueChanged.connect(self.changed)
        self.set_values(engine.Sampling().to_dict())

    def sampling(self) -> engine.Sampling:
        seed = self.seed.value()
        return engine.Sampling(
            temperature=round(self.temperature.value(), 4), top_k=self.top_k.value(),
            top_p=round(self.top_p.value(), 4), min_p=round(self.min_p.value(), 4),
            repetition_penalty=round(self.repetition_penalty.value(), 4),
            max_new_tokens=self.max_new_tokens.value(), seed=None if seed == NO_SEED else seed)

    def values(self) -> dict:
        return {k: v for k, v in self.sampling().to_dict().items() if k in SAMPLING_KEYS}

    def set_values(self, values: dict):
        """Set the controls named in `values` (others keep their value)."""
        for key in SAMPLING_KEYS:
            if key not in values:
                continue
            value = values[key]
            if key == "seed":
                value = NO_SEED if value is None else int(value)
            box = getattr(self, key)
            box.setValue(type(box.value())(value))


class SettingsPanel(QWidget):
    """System prompt, presets and sampling controls for the chat."""

    changed = Signal()

    def __init__(self, settings: QSettings, key: str = "chat", parent: QWidget | None = None):
        super().__init__(parent)
        self.settings, self.key = settings, key
        self.presets = PresetStore(settings)
        self.system_prompt_edit = QPlainTextEdit()
        self.system_prompt_edit.setPlaceholderText("System prompt (optional)")
        self.system_prompt_edit.setMaximumHeight(90)
        self.preset_box = QComboBox()
        self.preset_box.setToolTip("Apply a named preset")
        self.preset_box.setPlaceholderText("Choose a preset…")
        save = QPushButton("Save as…")
        save.clicked.connect(self._ask_preset_name)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(lambda: self.delete_preset(self.preset_box.currentText()))
        self.form = SamplingForm()
        presets_row = QHBoxLayout()
        presets_row.addWidget(self.preset_box, 1)
        presets_row.addWidget(save)
        presets_row.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("System prompt"))
        layout.addWidget(self.system_prompt_edit)
        layout.addWidget(QLabel("Preset"))
        layout.addLayout(presets_row)
        layout.addWidget(self.form)
        layout.addStretch(1)
        self._fill_presets()
        self.preset_box.activated.connect(lambda _i: self.apply_preset(self.preset_box.currentText()))
        self.form.changed.connect(self.changed)
        self.system_prompt_edit.textChanged.connect(self.changed)
        self.restore()

    # ---- values -------------------------------------------------------------------------------
    def sampling(self) -> engine.Sampling:
        return self.form.sampling()

    def system_prompt(self) -> str:
        return self.system_prompt_edit.toPlainText().strip()

    def set_from(self, values: dict):
        """Show the settings a conversation was run with (sampling keys and system prompt)."""
        self.form.set_values(values)
        if "system_prompt" in values:
            self.system_prompt_edit.setPlainText(values.get("system_prompt") or "")

    # ---- presets ------------------------------------------------------------------------------
    def apply_preset(self, name: str):
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentIndex(self.preset_box.findText(name))
        self.preset_box.blockSignals(False)
        values = self.presets.get(name)
        if values is not None:
            self.set_from(values)
        self._update_delete()

    def save_preset(self, name: str) -> str:
        saved = self.presets.save(name, {**self.form.values(), "system_prompt": self.system_prompt()})
        self._fill_presets(select=saved)
        return saved

    def delete_preset(self, name: str):
        self.presets.delete(name)
        self._fill_presets()

    def _update_delete(self):
        name = self.preset_box.currentText()
        self.delete_button.setEnabled(bool(name) and not self.presets.is_built_in(name))

    def _ask_preset_name(self):
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name:")
        if ok and name.strip():
            try:
                self.save_preset(name)
            except ValueError as err:
                self.preset_box.setToolTip(str(err))

    def _fill_presets(self, select: str | None = None):
        self.preset_box.blockSignals(True)
        self.preset_box.clear()
        self.preset_box.addItems(self.presets.names())
        self.preset_box.setCurrentIndex(self.preset_box.findText(select) if select else -1)
        self.preset_box.blockSignals(False)
        self._update_delete()

    # ---- persistence ----------------------------------------------------------------------------
    def save(self):
        values = {**self.form.values(), "system_prompt": self.system_prompt()}
        self.settings.setValue(f"{self.key}/settings", json.dumps(values))

    def use_model_defaults(self, defaults: dict):
        """On first use (nothing saved yet), start from the checkpoint's suggested sampling."""
        if self.settings.value(f"{self.key}/settings") is None and not self._defaults_applied:
            self._defaults_applied = True
            self.form.set_values({k: v for k, v in defaults.items() if k != "max_new_tokens"})

    def restore(self):
        self._defaults_applied = False
        text = self.settings.value(f"{self.key}/settings")
        try:
            values = json.loads(text) if text else {}
        except (TypeError, ValueError):
            values = {}
        self.set_from(values)
