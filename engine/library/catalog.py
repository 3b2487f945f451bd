"""`scan`: every model on this machine as a `ModelEntry`, from every place tools keep them.

`Locations` names where to look (`Locations.from_environment()` reads HOME, HF_HOME,
OLLAMA_MODELS... at call time); the finders list candidates, their headers are described once
and cached (describe_cache.py), and each is judged against the engine as it is now. The same
file found twice (a folder added that LM Studio also keeps) is listed once, under the first
source. Half-written models are never entries: they come back in `Library.skipped` with why.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .describe_cache import DescribeCache
from .facts import Facts, judge
from .files import signature
from .folder_facts import folder_facts
from .folders import find_in_folder
from .found import SOURCES, Found, Skipped
from .gguf_facts import gguf_facts
from .hf_cache import find_hf_cache
from .ollama import find_ollama
from . import paths


@dataclass(frozen=True)
class ModelEntry:
    name: str  # as the tool that keeps it names it
    path: str  # what engine.load opens (a folder or a GGUF file)
    source: str  # one of found.SOURCES
    format: str  # "gguf" | "safetensors" | "pickle"
    architecture: str | None
    n_params: int | None
    quantization: str | None
    size_bytes: int
    context_length: int | None
    can_open: bool
    reason: str  # why it cannot be opened, in a few words ("" when it can)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Library:
    models: list[ModelEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # half-written or broken: not listed
    folders: list[str] = field(default_factory=list)  # the folders the user added
    notes: list[str] = field(default_factory=list)  # one line each, e.g. an unreadable settings file

    def to_json(self) -> dict:
        return {"models": [m.to_json() for m in self.models], "skipped": [asdict(s) for s in self.skipped],
                "folders": self.folders, "notes": self.notes}


@dataclass(frozen=True)
class Locations:
    hf_cache: Path | None
    lmstudio: tuple[Path, ...] = ()
    ollama: tuple[Path, ...] = ()
    gpt4all: tuple[Path, ...] = ()
    folders: tuple[Path, ...] = ()
    shipped: tuple[tuple[str, Path], ...] = ()  # (name, path) of the models glasslm ships

    @classmethod
    def from_environment(cls, folders: list[Path] | None = None) -> "Locations":
        from ..loader import bundled_model_path, default_model_gguf

        shipped = [("bard-mini", bundled_model_path())]
        gguf = default_model_gguf()
        if gguf is not None:
            shipped.insert(0, ("SmolLM2-135M-Instruct", gguf))
        return cls(hf_cache=paths.hf_hub_cache(), lmstudio=tuple(paths.lmstudio_dirs()),
                   ollama=tuple(paths.ollama_dirs()), gpt4all=tuple(paths.gpt4all_dirs()),
                   folders=tuple(folders or ()), shipped=tuple(shipped))


def find_all(locations: Locations) -> tuple[list[Found], list[Skipped]]:
    found: list[Found] = []
    skipped: list[Skipped] = []

    def add(result):
        found.extend(result[0])
        skipped.extend(result[1])

    for name, path in locations.shipped:
        if path.exists():
            found.append(Found(path, "shipped", name, "folder" if path.is_dir() else "gguf"))
    if locations.hf_cache is not None:
        add(find_hf_cache(locations.hf_cache))
    for root in locations.lmstudio:
        add(find_in_folder(root, "lmstudio"))
    for root in locations.ollama:
        add(find_ollama(root))
    for root in locations.gpt4all:
        add(find_in_folder(root, "gpt4all"))
    for root in locations.folders:
        add(find_in_folder(root, "folder"))
    return _unique(found), skipped


def default_locations() -> tuple[Locations, list[str]]:
    """Where to look on this machine, with the folders the user added; and a note when those could not be read."""
    from .errors import LibraryError
    from .settings import added_folders

    try:
        return Locations.from_environment(added_folders()), []
    except LibraryError as err:
        return Locations.from_environment(), [f"added folders not read: {err}"]


def scan(locations: Locations | None = None, cache: DescribeCache | None = None,
         on_describe: Callable[[int, int, str], None] | None = None) -> Library:
    """Find, describe (headers only, cached) and judge every model (default: `default_locations()`).
    on_describe(done, total, name) is called before each model whose headers must be read."""
    notes: list[str] = []
    if locations is None:
        locations, notes = default_locations()
    cache = cache or DescribeCache()
    found, skipped = find_all(locations)
    described: list[tuple[Found, Facts]] = []
    todo: list[tuple[Found, list]] = []
    for item in found:
        try:
            sig = signature(item.path)
        except OSError:
            continue  # vanished between finding and describing
        facts = cache.get(_key(item), sig)
        if facts is None:
            todo.append((item, sig))
        else:
            described.append((item, facts))
    for done, (item, sig) in enumerate(todo):
        if on_describe is not None:
            on_describe(done, len(todo), item.name)
        try:
            facts = folder_facts(item.path, item.name) if item.kind == "folder" else gguf_facts(item.path)
        except OSError as err:
            skipped.append(Skipped(item.name, item.source, str(item.path), f"cannot be read ({err.strerror})"))
            continue
        cache.put(_key(item), sig, facts)
        described.append((item, facts))
    cache.save()
    models = []
    for item, facts in described:
        if facts.incomplete:
            skipped.append(Skipped(item.name, item.source, str(item.path), facts.incomplete))
            continue
        models.append(entry_for(item, facts))
    order = {source: i for i, source in enumerate(SOURCES)}
    models.sort(key=lambda m: (order.get(m.source, len(order)), m.name.lower()))
    return Library(models, skipped, [str(p) for p in locations.folders], notes)


def entry_for(item: Found, facts: Facts) -> ModelEntry:
    can_open, reason = judge(facts)
    return ModelEntry(name=item.name, path=str(item.path), source=item.source, format=facts.format,
                      architecture=facts.architecture, n_params=facts.n_params, quantization=facts.quantization,
                      size_bytes=facts.size_bytes, context_length=facts.context_length, can_open=can_open,
                      reason=reason)


def _key(item: Found) -> str:
    return f"{item.kind}:{item.path}"


def _unique(found: list[Found]) -> list[Found]:
    """The same file or folder (through symlinks) once, under the first source that found it. Within one
    source every name stays: two Ollama tags of one blob are two names, as `ollama list` shows them."""
    first_source: dict[str, str] = {}
    kept = []
    for item in found:
        real = os.path.realpath(item.path)
        if first_source.setdefault(real, item.source) != item.source:
            continue
        kept.append(item)
    return kept
