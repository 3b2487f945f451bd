"""The models library: every model already on this machine, and downloads from the Hugging Face Hub.

- `scan()` lists models where other tools keep them (the Hugging Face cache, LM Studio, Ollama,
  GPT4All, folders the user added, the two models glasslm ships) as `ModelEntry`s: name,
  architecture, parameters, format and quantization, size, context length, and whether glasslm
  can open it (and if not why). Headers only, never tensor data; cached by size and mtime.
- `plan_pull()` + `download()` fetch what glasslm needs of a Hub repository into the standard
  cache (shared with transformers), resumable, with progress, cancel and a free-disk check.
Headless: no Qt, no SQL. The `glasslm models` and `glasslm pull` verbs are in cli.py.
"""
from .catalog import Library, Locations, ModelEntry, scan
from .download import Progress, RateMeter, download
from .errors import ChooseFile, DownloadCancelled, LibraryError
from .found import SOURCES, Skipped
from .hub import PullPlan, RemoteFile, cached_model, offline, plan_pull
from .settings import add_folder, added_folders, remove_folder

__all__ = [
    "scan", "Library", "Locations", "ModelEntry", "Skipped", "SOURCES", "plan_pull", "download", "PullPlan",
    "RemoteFile", "Progress", "RateMeter", "cached_model", "offline", "LibraryError", "ChooseFile",
    "DownloadCancelled", "add_folder", "remove_folder", "added_folders",
]
