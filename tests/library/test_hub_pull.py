"""Downloads through the real huggingface_hub client against LocalHub (a Hub API on 127.0.0.1):
only what glasslm needs lands in the standard cache, in the layout transformers reads; every
refusal happens before a byte is downloaded; an interrupted or cancelled download resumes with a
Range request; each failure is one sentence saying what to do."""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from engine.library import ChooseFile, DownloadCancelled, LibraryError, cached_model, download, plan_pull, scan
from local_hub import HubRepo
from model_files import checkpoint_files, home_locations, write_gguf


def cache_of(home: Path) -> Path:
    return home / ".cache" / "huggingface" / "hub"


def model_repo(hub, checkpoint: Path, repo_id: str = "acme/tiny-llama", **kwargs) -> HubRepo:
    files = {name: path.read_bytes() for name, path in checkpoint_files(checkpoint).items()}
    files.update({"README.md": b"# a model card", "pytorch_model.bin": b"\x80\x04pickle", "onnx/model.onnx": b"onnx",
                  "flax_model.msgpack": b"flax"})
    return hub.add(HubRepo(repo_id, files, **kwargs))


def pull(hub, repo_id, **kwargs):
    plan = plan_pull(repo_id, endpoint=hub.url, **{k: v for k, v in kwargs.items() if k in ("file", "revision", "token")})
    return plan, download(plan, **{k: v for k, v in kwargs.items() if k in ("on_progress", "cancel")})


def test_pull_puts_only_what_glasslm_needs_in_the_standard_cache(home, hub, checkpoint_factory):
    import engine
    from huggingface_hub import scan_cache_dir

    ckpt = checkpoint_factory("llama")
    repo = model_repo(hub, ckpt)
    seen = []
    plan, path = pull(hub, repo.repo_id, on_progress=seen.append)
    assert plan.commit == repo.commit and plan.cache_dir == cache_of(home)
    assert path == cache_of(home) / "models--acme--tiny-llama" / "snapshots" / repo.commit
    assert sorted(p.name for p in path.iterdir()) == sorted(checkpoint_files(ckpt))  # no README, .bin, onnx, flax
    weights = path / "model.safetensors"
    assert weights.is_symlink() and weights.resolve().parent.name == "blobs"
    assert weights.resolve().name == hashlib.sha256(repo.files["model.safetensors"]).hexdigest()
    assert weights.read_bytes() == repo.files["model.safetensors"]
    assert (path.parent.parent / "refs" / "main").read_text() == repo.commit
    assert not list((path.parent.parent / "blobs").glob("*.incomplete"))
    assert seen[-1].done == seen[-1].total == sum(len(repo.files[n]) for n in checkpoint_files(ckpt))
    assert all(a.done <= b.done for a, b in zip(seen, seen[1:]))
    # the token never goes to the CDN, and nothing but the listed files was asked for
    fetched = {r.path.rsplit("/", 1)[-1] for r in hub.requests("hub") if "/resolve/" in r.path}
    assert fetched == set(checkpoint_files(ckpt))
    # huggingface_hub's own scanner, transformers and glasslm all see it
    (cached,) = scan_cache_dir(cache_of(home)).repos
    assert cached.repo_id == "acme/tiny-llama" and cached.nb_files == len(checkpoint_files(ckpt))
    import transformers
    config = transformers.AutoConfig.from_pretrained("acme/tiny-llama", cache_dir=cache_of(home), local_files_only=True)
    assert config.model_type == "llama"
    entry = {m.name: m for m in scan(home_locations(home)).models}["acme/tiny-llama"]
    assert entry.can_open and entry.path == str(path)
    model = engine.load(entry.path, device="cpu", precision="fp32")
    assert model.info.n_params > 0
    model.close()
    # pulling again downloads nothing
    before = len(hub.requests("cdn"))
    pull(hub, repo.repo_id)
    assert len(hub.requests("cdn")) == before


def test_a_repo_of_several_gguf_files_lists_them_and_takes_the_one_chosen(home, hub):
    small = write_gguf(home / "src" / "a.gguf", tensor_type="Q4_0").read_bytes()
    large = write_gguf(home / "src" / "b.gguf", tensor_type="Q8_0").read_bytes()
    hub.add(HubRepo("acme/tiny-GGUF", {"tiny.Q4_0.gguf": small, "tiny.Q8_0.gguf": large, "README.md": b"#"}))
    with pytest.raises(ChooseFile) as chosen:
        plan_pull("acme/tiny-GGUF", endpoint=hub.url)
    assert [f.name for f in chosen.value.files] == ["tiny.Q4_0.gguf", "tiny.Q8_0.gguf"]
    assert str(chosen.value).startswith("acme/tiny-GGUF holds 2 GGUF files; choose one with --file NAME:\n  tiny.Q4_0.gguf")
    assert not cache_of(home).exists()
    plan, path = pull(hub, "acme/tiny-GGUF", file="tiny.Q8_0.gguf")
    assert path.name == "tiny.Q8_0.gguf" and path.read_bytes() == large
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.Q8_0.gguf"]
    entry = {m.name: m for m in scan(home_locations(home)).models}["acme/tiny-GGUF/tiny.Q8_0.gguf"]
    assert (entry.format, entry.quantization, entry.can_open) == ("gguf", "Q8_0", True)
    with pytest.raises(LibraryError, match="has no file nope.gguf; its GGUF files: tiny.Q4_0.gguf, tiny.Q8_0.gguf"):
        plan_pull("acme/tiny-GGUF", file="nope.gguf", endpoint=hub.url)
    with pytest.raises(LibraryError, match="--file takes one of acme/tiny-GGUF's .gguf files, and README.md is not one"):
        plan_pull("acme/tiny-GGUF", file="README.md", endpoint=hub.url)


def test_refusals_happen_before_any_download(home, hub, checkpoint_factory):
    ckpt = checkpoint_factory("llama")
    hub.add(HubRepo("acme/pickled", {"config.json": (ckpt / "config.json").read_bytes(),
                                     "pytorch_model.bin": b"\x80\x04pickle"}))
    with pytest.raises(LibraryError) as refused:
        plan_pull("acme/pickled", endpoint=hub.url)
    assert str(refused.value).startswith("acme/pickled holds only pickle weights (pytorch_model.bin), which glasslm "
                                         "never loads because unpickling can run code; nothing was downloaded")
    encoder = model_repo(hub, ckpt, "acme/encoder")
    encoder.files["config.json"] = json.dumps({**json.loads(encoder.files["config.json"]), "model_type": "bert"}).encode()
    with pytest.raises(LibraryError, match=r"^acme/encoder is a model glasslm cannot run \(model_type 'bert'.*"
                                           r"nothing was downloaded$"):
        plan_pull("acme/encoder", endpoint=hub.url)
    hub.add(HubRepo("acme/empty", {"README.md": b"#"}))
    with pytest.raises(LibraryError, match="has no model weights glasslm can use"):
        plan_pull("acme/empty", endpoint=hub.url)
    with pytest.raises(LibraryError, match="is not a Hub repository id; give owner/name"):
        plan_pull("../etc", endpoint=hub.url)
    assert not cache_of(home).exists()
    assert not [r for r in hub.log if "/resolve/" in r.path and not r.path.endswith("config.json")]
    assert not hub.requests("cdn")


def test_gated_repos_say_how_to_get_access(home, hub, checkpoint_factory, monkeypatch):
    model_repo(hub, checkpoint_factory("llama"), "acme/gated", gated=True, granted_tokens=("hf_granted",))
    with pytest.raises(LibraryError) as no_token:
        plan_pull("acme/gated", endpoint=hub.url)
    assert str(no_token.value) == (
        f"acme/gated is gated: accept its license at {hub.url}/acme/gated (signed in), create a read token at "
        f"{hub.url}/settings/tokens, set HF_TOKEN to it (or run `hf auth login`), then run the command again")
    monkeypatch.setenv("HF_TOKEN", "hf_not_granted")
    with pytest.raises(LibraryError, match=r"^acme/gated is gated and your token has no access to it yet: accept its "
                                           rf"license at {hub.url}/acme/gated"):
        plan_pull("acme/gated", endpoint=hub.url)
    monkeypatch.setenv("HF_TOKEN", "hf_granted")
    hub.log.clear()
    _, path = pull(hub, "acme/gated")
    assert (path / "model.safetensors").is_file()
    assert all(r.authorized for r in hub.requests("hub") if "/resolve/" in r.path)
    assert not any(r.authorized for r in hub.requests("cdn"))  # the token stays on the Hub


def test_missing_repos_revisions_and_the_network(home, hub, checkpoint_factory):
    model_repo(hub, checkpoint_factory("llama"))
    with pytest.raises(LibraryError, match=rf"^acme/nothing is not on the Hub \({hub.url}\): check the name"):
        plan_pull("acme/nothing", endpoint=hub.url)
    with pytest.raises(LibraryError, match="^acme/tiny-llama has no revision 'v9'; give a branch, tag or commit"):
        plan_pull("acme/tiny-llama", revision="v9", endpoint=hub.url)
    closed = hub.url.rsplit(":", 1)[0] + ":9"  # the discard port: nothing listens there
    with pytest.raises(LibraryError, match=rf"^cannot reach {closed} \(.*\): check your connection, or set "
                                           "HF_HUB_OFFLINE=1"):
        plan_pull("acme/tiny-llama", endpoint=closed)


def test_offline_mode_downloads_nothing(home, hub, checkpoint_factory, monkeypatch):
    repo = model_repo(hub, checkpoint_factory("llama"))
    assert cached_model(repo.repo_id) is None
    _, path = pull(hub, repo.repo_id)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.log.clear()
    with pytest.raises(LibraryError, match="^HF_HUB_OFFLINE is set, so nothing is downloaded; unset it to download"):
        plan_pull(repo.repo_id, endpoint=hub.url)
    assert hub.log == []
    assert cached_model(repo.repo_id) == path  # what `glasslm pull` offers offline


def test_a_dropped_connection_is_resumed_with_a_range_request(home, hub):
    data = write_gguf(home / "src" / "big.gguf", embedding_rows=8192).read_bytes()  # about 1 MB of tensors
    sha = hashlib.sha256(data).hexdigest()
    hub.add(HubRepo("acme/big-GGUF", {"big.F32.gguf": data}))
    hub.drop_once[sha] = 300_000
    _, path = pull(hub, "acme/big-GGUF")
    assert path.read_bytes() == data
    gets = hub.requests("cdn", "GET")
    assert [g.range for g in gets] == [None, "bytes=300000-"]


def test_a_cancelled_download_is_kept_never_listed_and_resumed(home, hub):
    data = write_gguf(home / "src" / "big.gguf", embedding_rows=16384).read_bytes()  # 2 MB: two chunks or more
    hub.add(HubRepo("acme/big-GGUF", {"big.F32.gguf": data}))
    cancel = threading.Event()
    with pytest.raises(DownloadCancelled, match=r"^download of acme/big-GGUF cancelled; .* MB kept, download it "
                                                "again to resume$"):
        pull(hub, "acme/big-GGUF", on_progress=lambda p: cancel.set(), cancel=cancel)
    blobs = cache_of(home) / "models--acme--big-GGUF" / "blobs"
    (partial,) = blobs.glob("*.incomplete")
    kept = partial.stat().st_size
    assert 0 < kept < len(data) and data.startswith(partial.read_bytes())
    library = scan(home_locations(home))
    assert library.models == []
    assert any(s.reason.startswith("interrupted download") and "glasslm pull acme/big-GGUF" in s.reason
               for s in library.skipped)
    _, path = pull(hub, "acme/big-GGUF")
    assert path.read_bytes() == data and not list(blobs.glob("*.incomplete"))
    assert hub.requests("cdn", "GET")[-1].range == f"bytes={kept}-"


def test_a_corrupted_partial_file_is_caught_by_its_checksum(home, hub):
    data = write_gguf(home / "src" / "t.gguf").read_bytes()
    hub.add(HubRepo("acme/t-GGUF", {"t.gguf": data}))
    blobs = cache_of(home) / "models--acme--t-GGUF" / "blobs"
    blobs.mkdir(parents=True)
    sha = hashlib.sha256(data).hexdigest()
    (blobs / f"{sha}.incomplete").write_bytes(b"\0" * 100)  # not a prefix of the file
    with pytest.raises(LibraryError, match="arrived corrupted .*SHA-256.*; download it again$"):
        pull(hub, "acme/t-GGUF")
    assert not (blobs / f"{sha}.incomplete").exists() and not (blobs / sha).exists()
    _, path = pull(hub, "acme/t-GGUF")
    assert path.read_bytes() == data


def test_free_disk_space_is_checked_before_starting(home, hub):
    data = write_gguf(home / "src" / "t.gguf").read_bytes()
    hub.add(HubRepo("acme/huge-GGUF", {"huge.gguf": data}, listed_sizes={"huge.gguf": 10**15}))
    plan = plan_pull("acme/huge-GGUF", endpoint=hub.url)
    with pytest.raises(LibraryError, match=r"^not enough free disk space for acme/huge-GGUF: it needs 1000000\.00 GB"):
        download(plan)
    assert not hub.requests("cdn", "GET")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_one_message(home, hub):
    data = write_gguf(home / "src" / "t.gguf").read_bytes()
    hub.add(HubRepo("acme/t-GGUF", {"t.gguf": data}))
    blobs = cache_of(home) / "models--acme--t-GGUF" / "blobs"
    blobs.mkdir(parents=True)
    os.symlink("/dev/full", blobs / f"{hashlib.sha256(data).hexdigest()}.incomplete")  # every write: ENOSPC
    with pytest.raises(LibraryError, match="^the disk filled up while downloading t.gguf into .*; free some space and "
                                           "download it again to resume$"):
        pull(hub, "acme/t-GGUF")
