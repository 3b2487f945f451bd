"""Models in Ollama's store, found through its manifests, as Ollama's own source lays them out.

`<models>/manifests/<host>/<namespace>/<model>/<tag>` (and the newer `manifests-v2/`, whose
entries link to a manifest blob) hold Docker-style JSON manifests; the layer whose mediaType is
`application/vnd.ollama.image.model` is the GGUF file, kept as `<models>/blobs/sha256-<hex>`.
A manifest list (several runners) is resolved to its GGUF child. Ollama writes a manifest only
after every blob of a pull is complete, and a blob whose size differs from the manifest's is
reported, not listed. Names read as `ollama list` shows them (`llama3.2:1b`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from .found import Found, Skipped

SOURCE = "ollama"
MODEL_LAYER = "application/vnd.ollama.image.model"
MANIFEST_LIST = "application/vnd.ollama.manifest.list.v2+json"
DEFAULT_HOSTS = ("registry.ollama.ai", "ollama.com")
DIGEST = re.compile(r"^sha256[:-]([0-9a-fA-F]{64})$")


def find_ollama(models_dir: Path) -> tuple[list[Found], list[Skipped]]:
    found: list[Found] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for root_name in ("manifests-v2", "manifests"):  # as Ollama resolves a name: v2 first
        root = models_dir / root_name
        if not root.is_dir():
            continue
        for manifest_path in sorted(root.glob("*/*/*/*")):
            if not manifest_path.is_file():
                continue
            host, namespace, model, tag = manifest_path.relative_to(root).parts
            name = display_name(host, namespace, model, tag)
            if name in seen:
                continue
            seen.add(name)
            try:
                manifest = _runnable(json.loads(manifest_path.read_text(encoding="utf-8")), models_dir)
            except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError):
                skipped.append(Skipped(name, SOURCE, str(manifest_path), "unreadable manifest"))
                continue
            layers = [layer for layer in manifest.get("layers") or [] if layer.get("mediaType") == MODEL_LAYER]
            if not layers:
                continue  # a cloud model or a non-GGUF one: nothing on this disk to open
            layer = layers[0]
            blob = blob_path(models_dir, str(layer.get("digest", "")))
            if blob is None or not blob.is_file():
                skipped.append(Skipped(name, SOURCE, str(manifest_path), f"model blob missing: ollama pull {name}"))
                continue
            expected = layer.get("size")
            if isinstance(expected, int) and blob.stat().st_size != expected:
                skipped.append(Skipped(name, SOURCE, str(blob), f"model blob incomplete: ollama pull {name}"))
                continue
            found.append(Found(blob, SOURCE, name, "gguf"))
    return found, skipped


def display_name(host: str, namespace: str, model: str, tag: str) -> str:
    if host.lower() in DEFAULT_HOSTS:
        return f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
    return f"{host}/{namespace}/{model}:{tag}"


def blob_path(models_dir: Path, digest: str) -> Path | None:
    match = DIGEST.match(digest)
    return models_dir / "blobs" / f"sha256-{match.group(1).lower()}" if match else None


def _runnable(manifest: dict, models_dir: Path) -> dict:
    """The manifest itself, or, for a manifest list, its child that holds a GGUF model."""
    if manifest.get("mediaType") != MANIFEST_LIST:
        return manifest
    children = [c for c in manifest.get("manifests") or [] if isinstance(c, dict)]
    for child in sorted(children, key=lambda c: str(c.get("format", "")).lower() != "gguf"):
        if not child.get("layers") and child.get("digest"):  # a reference to a manifest stored as a blob
            path = blob_path(models_dir, str(child["digest"]))
            if path is None or not path.is_file():
                continue
            child = json.loads(path.read_text(encoding="utf-8"))
        if any(layer.get("mediaType") == MODEL_LAYER for layer in child.get("layers") or []):
            return child
    return {"layers": []}
