"""`DownloadWorker`: one Hub download at a time on its own thread, for the Download dialog.

It plans (`engine.library.plan_pull`: which files, refusals before any byte), then downloads
(`engine.library.download`), sending `Progress` at most ~10 times a second. `cancel` only sets
an event the download checks after every piece that arrives, so it is safe from the GUI thread;
what arrived is kept and the next download of the same repository resumes it.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from engine.library import (
    ChooseFile, DownloadCancelled, LibraryError, cached_model, download, offline, plan_pull,
)

PROGRESS_EVERY_S = 0.1


@dataclass(frozen=True)
class PullRequest:
    repo_id: str
    file: str | None = None
    revision: str | None = None
    endpoint: str | None = None  # default: HF_ENDPOINT or the Hub


class DownloadWorker(QObject):
    planned = Signal(object)  # PullPlan: what will be downloaded
    progress = Signal(object)  # engine.library.Progress
    choose = Signal(object)  # tuple of RemoteFile: several GGUF files, pick one
    finished = Signal(str)  # what engine.load opens
    failed = Signal(str)
    cancelled = Signal(str)

    def __init__(self):
        super().__init__()
        self.cancel_event = threading.Event()
        self._last_emit = 0.0

    def cancel(self):
        """Safe from any thread."""
        self.cancel_event.set()

    @Slot(object)
    def run(self, request: PullRequest):
        self.cancel_event.clear()
        try:
            if offline():
                local = cached_model(request.repo_id, request.file, request.revision)
                if local is not None:
                    self.finished.emit(str(local))
                    return
            plan = plan_pull(request.repo_id, request.file, request.revision, endpoint=request.endpoint)
            self.planned.emit(plan)
            path = download(plan, self._on_progress, self.cancel_event)
        except ChooseFile as err:
            self.choose.emit(err.files)
        except DownloadCancelled as err:
            self.cancelled.emit(str(err))
        except LibraryError as err:
            self.failed.emit(str(err))
        except Exception as err:  # noqa: BLE001 - the dialog must say what happened, not die
            self.failed.emit(f"the download failed ({type(err).__name__}: {err})")
        else:
            self.finished.emit(str(path))

    def _on_progress(self, p):
        now = time.monotonic()
        if now - self._last_emit >= PROGRESS_EVERY_S or p.done >= p.total:
            self._last_emit = now
            self.progress.emit(p)
