"""Offering the models library in every model chooser of a window (Chat, Compare, Evaluate).

`offer_library` finds the choosers under a window (`ModelChooser`s and the Evaluate page's
`MatrixForm`) and feeds each the library whenever a scan finishes, so choosing a model anywhere
lists what is on this machine without each page scanning for itself. The scan starts the first
time it is needed: a chooser clicked or typed into, or the Models page shown (so a window that
is only built, as in tests, reads nothing). It owns nothing.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget

from ..model_panel import ModelChooser
from .library_host import LibraryHost

FIRST_USE = (QEvent.Type.MouseButtonPress, QEvent.Type.KeyPress)


class _ScanOnFirstUse(QObject):
    def __init__(self, library: LibraryHost, parent: QObject):
        super().__init__(parent)
        self.library = library

    def eventFilter(self, watched, event) -> bool:
        if event.type() in FIRST_USE:
            self.library.ensure_scanned()
        return False


def offer_library(root: QWidget, library: LibraryHost) -> int:
    """Connect every chooser under root to the library's scans; returns how many were connected."""
    from ..evaluate.matrix_form import MatrixForm

    choosers = [*root.findChildren(ModelChooser), *root.findChildren(MatrixForm)]
    watcher = _ScanOnFirstUse(library, root)
    for chooser in choosers:
        library.scanned.connect(chooser.set_library)
        target = chooser.model_box if isinstance(chooser, ModelChooser) else chooser.models
        target.installEventFilter(watcher)
        if library.library is not None:
            chooser.set_library(library.library)
    return len(choosers)
