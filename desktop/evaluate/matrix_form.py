"""`MatrixForm`: choose suites and a settings matrix (models x precisions x temperatures x seeds).

It lists the built-in and imported suites (a file that fails to validate is shown in red
with its error), the bundled model and recently used ones, and turns the ticks into
`RunSpec`s with `evals.runner.expand_matrix`, the same expansion `glasslm eval run` uses.
Mistakes (nothing ticked, "0.7,x" as temperatures, a bad suite) raise `EvalError`s whose
text the page shows. It starts nothing.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QLabel, QLineEdit,
    QDoubleSpinBox, QListWidget, QListWidgetItem, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

import engine
from engine import remote
from evals.errors import USER_ERRORS, EvalError, SuiteError
from evals.runner import RunSettings, RunSpec, expand_matrix
from evals.suite import list_suites, load_suite

from ..model_panel import ask_remote, recent_models, remote_label

PATH_ROLE = Qt.ItemDataRole.UserRole
ERROR_ROLE = Qt.ItemDataRole.UserRole + 1


class MatrixForm(QWidget):
    changed = Signal()
    error = Signal(str)  # a one-sentence problem for the page to show (e.g. a suite that does not validate)

    def __init__(self, settings: QSettings, default_model: Path, suites_dir: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings, self.default_model, self.suites_dir = settings, Path(default_model), suites_dir
        self.suites = QListWidget()
        self.suites.setObjectName("suiteList")
        self.suites.setMaximumHeight(130)
        self.suite_info = QLabel()
        self.suite_info.setObjectName("suiteInfo")
        self.suite_info.setWordWrap(True)
        self.suite_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.suites.currentItemChanged.connect(self._describe)
        add_suite = QPushButton("Add suite file…")
        add_suite.clicked.connect(self._ask_suite_file)
        self.models = QListWidget()
        self.models.setObjectName("modelList")
        self.models.setMaximumHeight(120)
        add_model = QPushButton("Add model folder…")
        add_model.clicked.connect(self._ask_model_folder)
        add_remote = QPushButton("Remote server…")
        add_remote.setToolTip("a model on an OpenAI-compatible server (vLLM, llama.cpp, Ollama, glasslm serve)")
        add_remote.clicked.connect(self._ask_remote)
        self.precisions = {name: QCheckBox(name) for name in engine.PRECISIONS}
        self.precisions["auto"].setChecked(True)
        self.precisions["auto"].setToolTip("bf16 or fp16 on a GPU, fp32 on the CPU")
        self.device = QComboBox()
        self.device.setEditable(True)
        self.device.addItems(["auto", "cpu", "cuda"])
        self.temperatures = QLineEdit("0")
        self.temperatures.setToolTip("comma list, e.g. 0, 0.7 (generation items; 0 = greedy)")
        self.seeds = QLineEdit("0")
        self.seeds.setToolTip("comma list of run seeds")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.01, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setValue(1.0)
        self.top_p.setToolTip("nucleus sampling for generation items at temperature > 0 (1 = off)")
        self.top_k = QSpinBox()
        self.top_k.setRange(0, 100_000)
        self.top_k.setSpecialValueText("off")
        self.top_k.setToolTip("keep the k most likely tokens when sampling (off = all)")
        self.system_prompt = QLineEdit()
        self.system_prompt.setPlaceholderText("(none)")
        self.system_prompt.setToolTip("system prompt for generation items, used with the model's chat template")
        self.limit = QSpinBox()
        self.limit.setRange(0, 1_000_000)
        self.limit.setSpecialValueText("all items")
        self.limit.setToolTip("score only the first N items of each suite")
        self.summary = QLabel()
        self.summary.setObjectName("matrixSummary")
        self.summary.setWordWrap(True)

        suites_box = _group("Suites", self.suites, self.suite_info, add_suite)
        models_box = _group("Models", self.models, add_model, add_remote)
        grid = QGridLayout()
        for i, box in enumerate(self.precisions.values()):
            grid.addWidget(box, i // 4, i % 4)
        sampling = QFormLayout()
        sampling.addRow("Precisions", grid)
        sampling.addRow("Device", self.device)
        sampling.addRow("Temperatures", self.temperatures)
        sampling.addRow("Seeds", self.seeds)
        sampling.addRow("Top-p", self.top_p)
        sampling.addRow("Top-k", self.top_k)
        sampling.addRow("System prompt", self.system_prompt)
        sampling.addRow("Limit", self.limit)
        settings_box = QGroupBox("Settings")
        settings_box.setLayout(sampling)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(suites_box)
        layout.addWidget(models_box)
        layout.addWidget(settings_box)
        layout.addWidget(self.summary)
        layout.addStretch(1)

        self.reload_suites()
        self._fill_models()
        for widget in (self.suites, self.models):
            widget.itemChanged.connect(self._update)
        for box in self.precisions.values():
            box.toggled.connect(self._update)
        for edit in (self.temperatures, self.seeds):
            edit.textChanged.connect(self._update)
        self.limit.valueChanged.connect(self._update)
        self._update()

    # ---- choices ------------------------------------------------------------------------------
    def reload_suites(self):
        ticked = set(self._ticked(self.suites))
        self.suites.clear()
        for s in list_suites(self.suites_dir):
            text = f"{s.id}  v{s.version} · {s.n_items} items" if not s.error else f"{s.id}  (invalid)"
            self._add_suite_item(text, s.path, s.error, str(s.path) in ticked)

    def add_suite_file(self, path: str | Path) -> None:
        """Validate a suite file and add it ticked; SuiteError when it does not validate."""
        suite = load_suite(Path(path))
        for row in range(self.suites.count()):
            if self.suites.item(row).data(PATH_ROLE) == str(suite.path):
                self.suites.item(row).setCheckState(Qt.CheckState.Checked)
                self.suites.setCurrentRow(row)
                return
        self._add_suite_item(f"{suite.id}  v{suite.version} · {len(suite.items)} items (file)", suite.path, None, True)
        self.suites.setCurrentRow(self.suites.count() - 1)

    def add_model(self, path: str | Path, checked: bool = True, label: str | None = None) -> None:
        for row in range(self.models.count()):
            if self.models.item(row).data(PATH_ROLE) == str(path):
                self.models.item(row).setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                return
        if label is None and remote.is_remote(str(path)):
            label = remote_label(str(path))
        label = label or Path(path).name + (" (default)" if Path(path) == self.default_model else "")
        item = QListWidgetItem(label)
        item.setToolTip(str(path))
        item.setData(PATH_ROLE, str(path))
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.models.addItem(item)

    def set_library(self, library):
        """Offer the models on this machine that glasslm can open (an engine.library.Library), unticked;
        models already listed keep their tick and get the library's name."""
        for entry in library.models:
            if not entry.can_open:
                continue
            rows = [r for r in range(self.models.count()) if self.models.item(r).data(PATH_ROLE) == entry.path]
            label = f"{entry.name} ({entry.source}, {entry.quantization or entry.format})"
            if rows:
                if Path(entry.path) != self.default_model:  # the default keeps its label
                    self.models.item(rows[0]).setText(label)
            else:
                self.add_model(entry.path, checked=False, label=label)

    def tick_suites(self, suite_ids: list[str]):
        for row in range(self.suites.count()):
            item = self.suites.item(row)
            stem = Path(item.data(PATH_ROLE)).stem
            item.setCheckState(Qt.CheckState.Checked if stem in suite_ids else Qt.CheckState.Unchecked)
            if stem == (suite_ids[:1] or [None])[0]:
                self.suites.setCurrentItem(item)

    def set_precisions(self, names: list[str]):
        for name, box in self.precisions.items():
            box.setChecked(name in names)

    # ---- the matrix ---------------------------------------------------------------------------
    def specs(self) -> list[RunSpec]:
        """Every (model, precision, suite, temperature, seed) run; EvalError on a mistake."""
        suite_paths = self._ticked(self.suites)
        if not suite_paths:
            raise EvalError("tick at least one suite to run")
        models = self._ticked(self.models)
        if not models:
            raise EvalError("tick at least one model to run")
        precisions = [name for name, box in self.precisions.items() if box.isChecked()]
        if not precisions:
            raise EvalError("tick at least one precision")
        suites = []
        for path in suite_paths:
            suites.append(load_suite(Path(path), source="file"))  # SuiteError names file, line and field
        base = RunSettings(device=self.device.currentText().strip() or "auto", top_p=self.top_p.value(),
                           top_k=self.top_k.value(), system_prompt=self.system_prompt.text().strip() or None)
        return expand_matrix(suites, models, precisions, _numbers(self.temperatures.text(), float, "Temperatures"),
                             _numbers(self.seeds.text(), int, "Seeds"), base=base, limit=self.limit.value() or None)

    def _update(self):
        try:
            counts = [(len(self._ticked(self.suites)), "suite"), (len(self._ticked(self.models)), "model"),
                      (sum(box.isChecked() for box in self.precisions.values()), "precision"),
                      (len(_numbers(self.temperatures.text(), float, "Temperatures")), "temperature"),
                      (len(_numbers(self.seeds.text(), int, "Seeds")), "seed")]
            n = 1
            for count, _ in counts:
                n *= count
            terms = " × ".join(f"{c} {name}{'s' if c != 1 else ''}" for c, name in counts)
            self.summary.setText(f"<b>{n} run{'s' if n != 1 else ''}</b> = {terms}" if n
                                 else "Tick at least one suite, model and precision.")
        except USER_ERRORS as err:
            self.summary.setText(str(err)[:1].upper() + str(err)[1:])
        self.changed.emit()

    # ---- helpers ------------------------------------------------------------------------------
    def _describe(self, item: QListWidgetItem | None, _previous=None):
        """The highlighted suite's description, or why its file does not validate."""
        if item is None:
            self.suite_info.clear()
            return
        error = item.data(ERROR_ROLE)
        if error:
            self.suite_info.setText(f"<span style='color:#b91c1c'>{_escape(error)}</span>")
            return
        try:
            suite = load_suite(Path(item.data(PATH_ROLE)))
        except SuiteError as err:
            self.suite_info.setText(f"<span style='color:#b91c1c'>{_escape(str(err))}</span>")
            return
        self.suite_info.setText(f"<b>{_escape(suite.title)}</b> — {_escape(suite.description)}")

    def _add_suite_item(self, text: str, path: Path, error: str | None, checked: bool):
        item = QListWidgetItem(text)
        item.setData(PATH_ROLE, str(path))
        item.setData(ERROR_ROLE, error)
        item.setToolTip(error or str(path))
        if error:
            item.setForeground(QColor("#b91c1c"))
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.suites.addItem(item)

    def _fill_models(self):
        self.add_model(self.default_model, checked=True)
        for path in recent_models(self.settings):
            if Path(path) != self.default_model:
                self.add_model(path, checked=False)

    @staticmethod
    def _ticked(widget: QListWidget) -> list[str]:
        return [widget.item(row).data(PATH_ROLE) for row in range(widget.count())
                if widget.item(row).checkState() == Qt.CheckState.Checked]

    def _ask_suite_file(self):
        path, _ = QFileDialog.getOpenFileName(self, "Add a suite file", "", "Suites (*.jsonl)")
        if path:
            try:
                self.add_suite_file(path)
            except SuiteError as err:
                self.error.emit(str(err))

    def _ask_remote(self):
        path = ask_remote(self.settings, self)
        if path:
            self.add_model(path)

    def _ask_model_folder(self):
        path, _ = QFileDialog.getOpenFileName(self, "Add a model: a .gguf file, or a folder's config.json", "",
                                              "Models (*.gguf config.json);;All files (*)")
        if path:
            self.add_model(str(Path(path).parent) if Path(path).name == "config.json" else path)


def _numbers(text: str, kind, label: str) -> list:
    try:
        values = [kind(x.strip()) for x in text.replace(";", ",").split(",") if x.strip()]
    except ValueError:
        raise EvalError(f"{label} takes a comma-separated list of numbers, e.g. 0, 0.7; got {text!r}") from None
    if not values:
        raise EvalError(f"{label} is empty; give at least one value")
    return values


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _group(title: str, *widgets: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    for w in widgets:
        layout.addWidget(w)
    return box
