"""Errors of the models library and of downloads: each one sentence saying what to do.

They subclass `EngineError`, so `glasslm` prints them as one line and the app shows them in
its message bar. Nothing here does any work.
"""
from __future__ import annotations

from ..errors import EngineError


class LibraryError(EngineError):
    """Finding, describing or downloading a model failed in a way the user can fix."""


class ChooseFile(LibraryError):
    """A repository holds several GGUF files and none was named: `files` lists them to choose from."""

    def __init__(self, message: str, files: tuple):
        super().__init__(message)
        self.files = files  # RemoteFile tuples, in the repository's order


class DownloadCancelled(LibraryError):
    """The user cancelled a download; what arrived is kept, so running it again resumes."""
