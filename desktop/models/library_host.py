"""`LibraryHost`: the app's one view of the models on this machine, scanned on a worker thread.

The scan (`engine.library.scan`: finding, reading headers, judging) can take seconds the first
time, so it never runs on the GUI thread; results arrive through `scanned` as an
`engine.library.Library`, which the Models page and the model choosers all read, so the machine
is scanned once for all of them. A refresh asked for while one runs is done right after it.
Adding or removing a folder writes the library settings (a small JSON file) and rescans.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from engine.library import Library, LibraryError, add_folder, remove_folder, scan


class ScanWorker(QObject):
    scanned = Signal(object)  # Library
    failed = Signal(str)

    def __init__(self, scan_fn: Callable[[], Library]):
        super().__init__()
        self.scan_fn = scan_fn

    @Slot()
    def run(self):
        try:
            library = self.scan_fn()
        except LibraryError as err:
            self.failed.emit(str(err))
        except Exception as err:  # noqa: BLE001 - an unreadable folder must not end the app; say what happened
            self.failed.emit(f"listing the models failed ({type(err).__name__}: {err})")
        else:
            self.scanned.emit(library)


class LibraryHost(QObject):
    scanning = Signal()
    scanned = Signal(object)  # Library
    failed = Signal(str)
    _run = Signal()

    def __init__(self, scan_fn: Callable[[], Library] | None = None, parent: QObject | None = None):
        """scan_fn: what a scan does (default: engine.library.scan over this machine)."""
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("glasslm-library")
        self.worker = ScanWorker(scan_fn or scan)
        self.worker.moveToThread(self.thread)
        self._run.connect(self.worker.run)
        self.worker.scanned.connect(self._on_scanned)
        self.worker.failed.connect(self._on_failed)
        self.library: Library | None = None  # the latest scan
        self.busy = False
        self._again = False
        self.thread.start()

    def refresh(self):
        if self.busy:
            self._again = True
            return
        self.busy = True
        self.scanning.emit()
        self._run.emit()

    def ensure_scanned(self):
        """Scan unless a scan has finished or is running."""
        if self.library is None and not self.busy:
            self.refresh()

    def add_folder(self, folder: str) -> str:
        """Add a folder and rescan; '' when done, else the one-sentence reason it was not."""
        try:
            add_folder(folder)
        except LibraryError as err:
            return str(err)
        self.refresh()
        return ""

    def remove_folder(self, folder: str) -> str:
        try:
            remove_folder(folder)
        except LibraryError as err:
            return str(err)
        self.refresh()
        return ""

    def shutdown(self):
        self._again = False
        self.thread.quit()
        self.thread.wait()
        QCoreApplication.sendPostedEvents(self)

    def _on_scanned(self, library: Library):
        self.library = library
        self._finished()
        self.scanned.emit(library)

    def _on_failed(self, message: str):
        self._finished()
        self.failed.emit(message)

    def _finished(self):
        self.busy = False
        if self._again:
            self._again = False
            self.refresh()
