"""What every page of the main window receives, and the optional pages of later issues.

`AppContext` is the services a page is built with (settings, history, the Chat page's model
host, a factory for more hosts, and the pool that holds one copy of each loaded model). The Evaluate and History pages live in `desktop/evaluate/`
(issue 8); until that package exists, `optional_page` shows a "coming soon" placeholder.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from history import History

from .model_host import ModelHost
from .model_pool import ModelPool


@dataclass
class AppContext:
    settings: QSettings  # the app's preferences (tests pass a temporary file)
    history: History  # the open history database
    chat_host: ModelHost  # the Chat page's model (a page may share it while its model fits the job)
    make_host: Callable[[], ModelHost]  # a new host on its own thread; the caller shuts it down
    default_model: Path  # the bundled model folder
    pool: ModelPool = field(default_factory=ModelPool)  # the app's loaded models, shared by every page


def optional_page(module: str, class_name: str, title: str, context: AppContext) -> QWidget:
    """`module.class_name(context)` when that module exists, else a placeholder page."""
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name not in _parents(module):  # the page exists but is broken: let that be seen
            raise
        return placeholder(title)
    return getattr(loaded, class_name)(context)


def _parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def placeholder(title: str) -> QWidget:
    page = QWidget()
    label = QLabel(f"<h2>{title}</h2><p>Coming soon.</p>")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    QVBoxLayout(page).addWidget(label)
    page.setObjectName("placeholderPage")
    return page
