"""Choosing and loading a model: `ModelChooser` (folder, precision, device pickers, recent
models) and `ModelPanel` (a chooser plus Load, a progress bar and what got loaded).

The panel asks a `ModelHost` to load and shows the host's answers (the memory used, or the
engine's one-sentence error); it never touches the engine's model itself.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget,
)

import engine
from engine import remote

from .model_host import ModelHost
from .model_worker import Loaded, LoadRequest

RECENT_KEY = "models/recent"
MAX_RECENT = 8
OPEN_FOLDER = "__open__"  # item data of the "Open model folder…" entry
LIBRARY_ROLE = Qt.ItemDataRole.UserRole + 1  # marks the entries offered from the models library
OPEN_GGUF = "__open_gguf__"  # item data of the "Open GGUF file…" entry
REMOTE = "__remote__"  # item data of the "Remote server…" entry (desktop/remote_dialog.py)


def recent_models(settings: QSettings) -> list[str]:
    value = settings.value(RECENT_KEY) or []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def remember_model(settings: QSettings, path: str):
    paths = [path] + [p for p in recent_models(settings) if p != path]
    settings.setValue(RECENT_KEY, paths[:MAX_RECENT])


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def human_count(n: int) -> str:
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.0f} K"


class ModelChooser(QWidget):
    """Model folder (bundled default, recent ones, "Open model folder…"), precision and device."""

    changed = Signal()

    def __init__(self, settings: QSettings, default_path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings, self.default_path = settings, Path(default_path)
        self.model_box = QComboBox()
        self.model_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(18)
        self.model_box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.precision_box = QComboBox()
        self.precision_box.addItems(engine.PRECISIONS)
        self.precision_box.setToolTip("auto: bf16 or fp16 on a GPU, fp32 on the CPU; int8/nf4/fp4 need a GPU")
        self.device_box = QComboBox()
        self.set_devices([engine.DeviceInfo("cpu", "CPU")])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.model_box, 1)
        layout.addWidget(self.precision_box)
        layout.addWidget(self.device_box)
        self._fill_models(str(self.default_path))
        self._last_index = self.model_box.currentIndex()
        self.model_box.activated.connect(self._on_model_activated)
        for box in (self.precision_box, self.device_box):
            box.currentIndexChanged.connect(self.changed)

    def request(self) -> LoadRequest:
        return LoadRequest(self.model_box.currentData(), self.device_box.currentData() or "auto",
                           self.precision_box.currentText())

    def set_request(self, path: str | None = None, device: str | None = None, precision: str | None = None):
        if path:
            self.select_path(str(path))
        if precision and precision in engine.PRECISIONS:
            self.precision_box.setCurrentText(precision)
        if device:
            index = self.device_box.findData(device)
            if index < 0:
                self.device_box.addItem(device, device)
                index = self.device_box.count() - 1
            self.device_box.setCurrentIndex(index)

    def select_path(self, path: str):
        index = self.model_box.findData(path)
        if index < 0:
            self.model_box.insertItem(1, self._label(path), path)
            self.model_box.setItemData(1, path, Qt.ItemDataRole.ToolTipRole)
            index = 1
        self.model_box.setCurrentIndex(index)
        self._last_index = index
        self.changed.emit()

    def set_devices(self, devices: list[engine.DeviceInfo]):
        current = self.device_box.currentData() or "auto"
        self.device_box.blockSignals(True)
        self.device_box.clear()
        self.device_box.addItem("auto", "auto")
        for device in devices:
            self.device_box.addItem(device.label, device.name)
        index = self.device_box.findData(current)
        if index < 0:  # a device remembered from another machine: keep it visible rather than silently switch
            self.device_box.addItem(current, current)
            index = self.device_box.count() - 1
        self.device_box.setCurrentIndex(index)
        self.device_box.blockSignals(False)

    def remember(self, path: str):
        remember_model(self.settings, path)

    def set_library(self, library):
        """Offer the models on this machine (an engine.library.Library) after the recent ones; those glasslm
        cannot open are shown greyed with why. Recent entries the library knows get its names."""
        box, current = self.model_box, self.model_box.currentData()
        for index in reversed(range(box.count())):
            if box.itemData(index, LIBRARY_ROLE):
                box.removeItem(index)
        known = {box.itemData(i): i for i in range(box.count())}
        at = box.findData(OPEN_FOLDER) - 1  # before the separator above "Open model folder…"
        added = 0
        for entry in library.models:
            label = f"{entry.name}  —  {entry.source} · {entry.quantization or entry.format}"
            if entry.path in known:
                if entry.source != "shipped" and entry.path != str(self.default_path):  # those keep their labels
                    box.setItemText(known[entry.path], label)
                continue
            if not added:
                box.insertSeparator(at)
                box.setItemData(at, True, LIBRARY_ROLE)
            index = at + 1 + added
            box.insertItem(index, label, entry.path)
            box.setItemData(index, True, LIBRARY_ROLE)
            box.setItemData(index, entry.path if entry.can_open else f"{entry.path}\nglasslm cannot open it: "
                            f"{entry.reason}", Qt.ItemDataRole.ToolTipRole)
            if not entry.can_open:
                box.model().item(index).setEnabled(False)
            added += 1
        box.setCurrentIndex(max(0, box.findData(current)))
        self._last_index = box.currentIndex()

    def _fill_models(self, selected: str):
        self.model_box.clear()
        self.model_box.addItem(f"{self.default_path.name} (default)", str(self.default_path))
        bundled = str(engine.bundled_model_path())
        if bundled != str(self.default_path):
            self.model_box.addItem(f"{Path(bundled).name} (bundled)", bundled)
        for path in recent_models(self.settings):
            if path not in (str(self.default_path), bundled):
                self.model_box.addItem(self._label(path), path)
        for index in range(self.model_box.count()):
            self.model_box.setItemData(index, self.model_box.itemData(index), Qt.ItemDataRole.ToolTipRole)
        self.model_box.insertSeparator(self.model_box.count())
        self.model_box.addItem("Open model folder…", OPEN_FOLDER)
        self.model_box.addItem("Open GGUF file…", OPEN_GGUF)
        self.model_box.addItem("Remote server…", REMOTE)
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(selected)))

    @staticmethod
    def _label(path: str) -> str:
        if remote.is_remote(path):
            return remote_label(path)
        return f"{Path(path).name}  —  {Path(path).parent}"

    def _on_model_activated(self, index: int):
        choice = self.model_box.itemData(index)
        if choice not in (OPEN_FOLDER, OPEN_GGUF, REMOTE):
            self._last_index = index
            self.changed.emit()
            return
        self.model_box.setCurrentIndex(self._last_index)
        if choice == REMOTE:
            path = ask_remote(self.settings, self)
        elif choice == OPEN_GGUF:
            path, _ = QFileDialog.getOpenFileName(self, "Open a GGUF model file", "", "GGUF models (*.gguf);;All files (*)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Open a model folder (the one holding config.json)")
        if path:
            self.select_path(path)


class ModelPanel(QWidget):
    """Load button, progress bar and the loaded model's description, over a ModelChooser."""

    error = Signal(str)

    def __init__(self, host: ModelHost, settings: QSettings, default_path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.host, self.settings = host, settings
        self.chooser = ModelChooser(settings, default_path)
        self.load_button = QPushButton("Load")
        self.load_button.clicked.connect(self.load_current)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # the engine does not report progress: an indeterminate bar
        self.progress.setMaximumWidth(120)
        self.progress.setVisible(False)
        self.status = QLabel("No model loaded")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setObjectName("modelStatus")
        self.status.setWordWrap(True)  # a long model line (SmolLM2's) must not widen the whole window
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Model"))
        layout.addWidget(self.chooser, 3)
        layout.addWidget(self.load_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status, 2)
        self.chooser.set_request(device=settings.value("model/device") or None,
                                 precision=settings.value("model/precision") or None)
        self.chooser.model_box.activated.connect(self._load_if_folder_changed)
        host.loading.connect(self._on_loading)
        host.loaded.connect(self._on_loaded)
        host.load_failed.connect(self._on_failed)
        host.devices.connect(self.chooser.set_devices)

    def load_current(self):
        request = self.chooser.request()
        self.settings.setValue("model/device", request.device)
        self.settings.setValue("model/precision", request.precision)
        self.host.load(request)

    def _load_if_folder_changed(self, _index: int):
        if self.host.requested is None or self.chooser.request().path != self.host.requested.path:
            self.load_current()

    def _on_loading(self, request: LoadRequest):
        self.progress.setVisible(True)
        self.load_button.setEnabled(False)
        self.status.setStyleSheet("")
        if remote.is_remote(request.path):
            self.status.setText(f"Connecting to {remote_label(request.path)}…")
            return
        self.status.setText(f"Loading {Path(request.path).name} ({request.precision}, {request.device})…")

    def _on_loaded(self, result: Loaded):
        self.progress.setVisible(False)
        self.load_button.setEnabled(True)
        info, memory = result.info, result.memory
        if remote.is_remote(result.request.path):
            self.status.setText(f"{info.name} · {info.source_format} · context {info.context_length or '?'} · "
                                f"connected in {result.seconds:.1f} s")
            self.status.setToolTip(result.request.path)
            self.chooser.remember(result.request.path)
            return
        self.status.setText(
            f"{info.name} · {info.model_type} · {human_count(info.n_params)} params · "
            f"{info.source_format + ' → ' if info.source_format else ''}{info.precision} on "
            f"{info.device} · weights {human_bytes(memory['weights_bytes'])} · context {info.context_length} · "
            f"loaded in {result.seconds:.1f} s")
        self.status.setToolTip(info.path)
        self.chooser.remember(info.path)

    def _on_failed(self, message: str):
        self.progress.setVisible(False)
        self.load_button.setEnabled(True)
        self.status.setText("Not loaded (see the message above)")
        self.status.setStyleSheet("color: #b42318;")
        self.error.emit(message)


def remote_label(path: str) -> str:
    """'bard-mini  —  remote, http://host:8000/v1' for a remote path."""
    url, model = remote.parse_remote_path(path)
    return f"{model or 'the served model'}  —  remote, {url}"


def ask_remote(settings: QSettings, parent: QWidget) -> str | None:
    """The remote path chosen in a RemoteDialog, or None when cancelled."""
    from .remote_dialog import RemoteDialog

    dialog = RemoteDialog(settings, parent)
    return dialog.chosen() if dialog.exec() == RemoteDialog.DialogCode.Accepted else None
