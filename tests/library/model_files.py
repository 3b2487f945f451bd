"""Small model files in the layouts other tools keep them, for the library tests.

`write_gguf` writes a tiny but real GGUF file with gguf's GGUFWriter (metadata, an embedding
and one block's projections, in the tensor type asked for); `hf_cache_repo` lays files out as
huggingface_hub does (blobs named by hash, snapshot symlinks, refs/main); `ollama_model`
writes an Ollama manifest and blob as `ollama pull` leaves them. Not converters: the weights
are random, only the headers matter here.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np


def write_gguf(path: Path, arch: str = "llama", tensor_type: str = "Q8_0", name: str = "tiny",
               context: int = 256, embedding_rows: int = 64, extra: dict | None = None) -> Path:
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(name)
    writer.add_context_length(context)
    writer.add_block_count(1)
    kind = gguf.GGMLQuantizationType[tensor_type]
    writer.add_file_type(_file_type(tensor_type))
    for key, value in (extra or {}).items():
        writer.add_uint32(key, value)
    rng = np.random.default_rng(0)
    writer.add_tensor("token_embd.weight", rng.standard_normal((embedding_rows, 32), dtype=np.float32))
    writer.add_tensor("output_norm.weight", np.ones(32, dtype=np.float32))
    for proj in ("attn_q", "attn_k", "attn_v", "attn_output"):
        weights = rng.standard_normal((32, 32), dtype=np.float32)
        if kind in (gguf.GGMLQuantizationType.F32,):
            writer.add_tensor(f"blk.0.{proj}.weight", weights)
            continue
        block, type_size = gguf.GGML_QUANT_SIZES[kind]
        try:
            raw = gguf.quants.quantize(weights, kind)
        except (NotImplementedError, ValueError, TypeError, KeyError):  # no quantizer: valid-sized zero blocks
            raw = np.zeros((32, 32 // block * type_size), dtype=np.uint8)
        writer.add_tensor(f"blk.0.{proj}.weight", raw, raw_shape=raw.shape, raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _file_type(tensor_type: str) -> int:
    import gguf

    names = {"F32": "ALL_F32"}
    name = names.get(tensor_type, f"MOSTLY_{tensor_type}")
    return int(gguf.LlamaFileType[name]) if name in gguf.LlamaFileType.__members__ else int(gguf.LlamaFileType.GUESSED)


def truncate(path: Path, keep_fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def hf_cache_repo(cache: Path, repo_id: str, files: dict[str, bytes | Path], commit: str | None = None) -> Path:
    """Files as huggingface_hub stores them; returns the snapshot folder."""
    storage = cache / ("models--" + repo_id.replace("/", "--"))
    commit = commit or hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = storage / "snapshots" / commit
    (storage / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.read_bytes() if isinstance(content, Path) else content
        blob = storage / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        pointer = snapshot / name
        pointer.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    (storage / "refs").mkdir(exist_ok=True)
    (storage / "refs" / "main").write_text(commit)
    return snapshot


def checkpoint_files(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file()}


def ollama_model(models: Path, gguf_file: Path, model: str, tag: str = "latest", namespace: str = "library",
                 host: str = "registry.ollama.ai", blob_size: int | None = None) -> Path:
    """A manifest and its blobs as `ollama pull` writes them; returns the model blob's path."""
    data = gguf_file.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    blobs = models / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    blob = blobs / f"sha256-{digest}"
    shutil.copyfile(gguf_file, blob)
    template = b"{{ .Prompt }}"
    template_digest = hashlib.sha256(template).hexdigest()
    (blobs / f"sha256-{template_digest}").write_bytes(template)
    config = json.dumps({"model_format": "gguf", "model_family": "llama", "file_type": "Q8_0"}).encode()
    config_digest = hashlib.sha256(config).hexdigest()
    (blobs / f"sha256-{config_digest}").write_bytes(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": f"sha256:{config_digest}", "size": len(config)},
        "layers": [
            {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}",
             "size": blob_size if blob_size is not None else len(data)},
            {"mediaType": "application/vnd.ollama.image.template", "digest": f"sha256:{template_digest}",
             "size": len(template)},
        ],
    }
    path = models / "manifests" / host / namespace / model / tag
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest))
    return blob


def home_locations(home: Path, folders=()):
    """Where the library looks inside a temporary HOME: not the shipped models (their headers cost seconds
    to read, and one test covers them), and no system folder outside HOME (/usr/share/ollama)."""
    from dataclasses import replace

    from engine.library import Locations

    found = Locations.from_environment(list(folders))
    inside = lambda paths: tuple(p for p in paths if home in p.parents)  # noqa: E731
    return replace(found, shipped=(), ollama=inside(found.ollama), gpt4all=inside(found.gpt4all))
