"""Downloading a `PullPlan` into the Hugging Face cache, resumable, with progress and cancel.

Each file's metadata comes from huggingface_hub (`get_hf_file_metadata`: ETag, size, commit,
where the bytes are), the bytes arrive through huggingface_hub's HTTP session into
`blobs/<etag>.incomplete`, and once complete and checked (size; SHA-256 for LFS files) the blob
is renamed into place and huggingface_hub itself links it into the snapshot (`hf_hub_download`
finds the blob and only writes the pointer), then `refs/<revision>` is written, so transformers
finds the model offline too. The partial file survives a cancel, a crash or a lost connection:
the next pull asks for the rest with a Range request. A dropped connection is resumed at once a
few times. Free disk space is checked before anything is fetched. Nothing half-written is ever
in a snapshot.
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

from .errors import DownloadCancelled, LibraryError
from .hub import PullPlan, hub_error, transport_errors

CHUNK_BYTES = 1 << 20
RECONNECTS = 5  # immediate resumes of a dropped connection, each after some bytes arrived
READ_TIMEOUT_S = 30  # a stalled connection is dropped (and resumed) rather than waited on forever
SPARE_BYTES = 100 * 10**6  # room left on the disk beyond the download itself
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Progress:
    file: str  # the file arriving now
    done: int  # bytes of the whole plan on disk so far (resumed parts included)
    total: int  # bytes of the whole plan
    speed: float  # bytes per second, smoothed
    eta_s: float | None  # seconds left at that speed (None until it is known)


class RateMeter:
    """Smoothed transfer speed and time left; `clock` is injectable so tests need no real time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = 0.5, smoothing: float = 0.3):
        self.clock, self.window_s, self.smoothing = clock, window_s, smoothing
        self.speed = 0.0
        self._mark_time = clock()
        self._mark_bytes = 0
        self._bytes = 0

    def add(self, n: int) -> None:
        self._bytes += n
        now = self.clock()
        elapsed = now - self._mark_time
        if elapsed >= self.window_s:
            rate = (self._bytes - self._mark_bytes) / elapsed
            self.speed = rate if self.speed == 0 else self.smoothing * rate + (1 - self.smoothing) * self.speed
            self._mark_time, self._mark_bytes = now, self._bytes

    def eta(self, remaining: int) -> float | None:
        return remaining / self.speed if self.speed > 0 else None


def download(plan: PullPlan, on_progress: Callable[[Progress], None] | None = None,
             cancel: threading.Event | None = None, clock: Callable[[], float] = time.monotonic) -> Path:
    """Fetch every file of the plan into the cache; returns what engine.load opens. LibraryError on failure
    (DownloadCancelled when `cancel` is set), with what arrived kept for the next try."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    metas = []
    for remote in plan.files:
        url = hf_hub_url(plan.repo_id, remote.name, revision=plan.commit, endpoint=plan.endpoint)
        try:
            meta = get_hf_file_metadata(url, token=plan.token, endpoint=plan.endpoint)
        except Exception as err:  # noqa: BLE001
            raise hub_error(err, plan.repo_id, plan.revision, plan.endpoint) from None
        if not meta.etag:
            raise LibraryError(f"{plan.endpoint} gave no ETag for {remote.name}, so it does not behave like the "
                               "Hugging Face Hub; check HF_ENDPOINT")
        metas.append((remote, url, meta))
    blobs = plan.storage / "blobs"
    have = sum(_on_disk(blobs, meta.etag, meta.size) for _, _, meta in metas)
    total = sum(meta.size or remote.size or 0 for remote, _, meta in metas)
    if total > have:
        check_free_space(plan.cache_dir, total - have, plan.repo_id)
    meter = RateMeter(clock)
    done = have
    for remote, url, meta in metas:
        blob = blobs / meta.etag
        if not blob.is_file():
            def arrived(n: int, name=remote.name):
                nonlocal done
                done += n
                meter.add(n)
                if on_progress is not None:
                    on_progress(Progress(name, done, total, meter.speed, meter.eta(total - done)))
                if cancel is not None and cancel.is_set():
                    raise DownloadCancelled(f"download of {plan.repo_id} cancelled; {done / 1e6:.1f} MB kept, "
                                            "download it again to resume")

            _fetch(plan, remote.name, meta, url, blob, arrived)
        _link(plan, remote.name)
    _write_ref(plan)
    if on_progress is not None:
        on_progress(Progress("", total, total, meter.speed, 0.0))
    return plan.model_path


def check_free_space(cache_dir: Path, needed: int, repo_id: str) -> None:
    folder = Path(cache_dir)
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if needed + SPARE_BYTES > free:
        raise LibraryError(f"not enough free disk space for {repo_id}: it needs {needed / 1e9:.2f} GB in {cache_dir} "
                           f"and {free / 1e9:.2f} GB is free; free some space, or set HF_HUB_CACHE to a bigger disk")


def _on_disk(blobs: Path, etag: str, size: int | None) -> int:
    if (blobs / etag).is_file():
        return size or (blobs / etag).stat().st_size
    partial = blobs / f"{etag}.incomplete"
    return partial.stat().st_size if partial.is_file() else 0


def _fetch(plan: PullPlan, name: str, meta, url: str, blob: Path, arrived: Callable[[int], None]) -> None:
    """Bytes of one file into blobs/<etag>.incomplete, resumed where it stopped, then renamed to the blob."""
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    blob.parent.mkdir(parents=True, exist_ok=True)
    partial = blob.with_name(blob.name + ".incomplete")
    expected = meta.size
    if expected is not None and partial.is_file() and partial.stat().st_size > expected:
        partial.unlink()  # longer than the file: not a prefix of it
    headers = build_hf_headers(token=plan.token)
    location = meta.location or url
    if urlparse(location).netloc != urlparse(url).netloc:
        headers.pop("authorization", None)  # a CDN's signed URL must not receive the Hub token
    headers["Accept-Encoding"] = "identity"  # byte ranges count stored bytes, not compressed ones
    verify = SHA256.match(meta.etag) is not None
    digest = hashlib.sha256()
    network = transport_errors()
    try:
        with partial.open("ab") as out:
            have = out.tell()
            if verify and have:
                _hash_prefix(partial, have, digest)
            reconnects, started_at = 0, have
            while expected is None or have < expected:
                request_headers = dict(headers, Range=f"bytes={have}-") if have else headers
                before = have
                try:
                    with get_session().stream("GET", location, headers=request_headers, follow_redirects=True,
                                              timeout=READ_TIMEOUT_S) as r:
                        if r.status_code >= 400:
                            r.read()
                            hf_raise_for_status(r)
                        if have and r.status_code != 206:  # the server ignored the Range: start over
                            out.seek(0)
                            out.truncate()
                            have, digest = 0, hashlib.sha256()
                        for chunk in r.iter_bytes():  # as it arrives: a dropped connection keeps every byte
                            out.write(chunk)
                            digest.update(chunk)
                            have += len(chunk)
                            arrived(len(chunk))
                    if expected is None:
                        break
                except network as err:
                    if have > before and reconnects < RECONNECTS:
                        reconnects += 1
                        continue  # resume at once, with a Range request
                    if have == started_at:
                        raise hub_error(err, plan.repo_id, plan.revision, plan.endpoint) from None
                    reason = str(err).splitlines()[0][:100] if str(err) else type(err).__name__
                    raise LibraryError(f"the download of {name} was interrupted after {have / 1e6:.1f} MB ({reason}); "
                                       "download it again to resume") from None
                if have == before:
                    break  # the server sent nothing more: the size check below says what is wrong
    except LibraryError:
        raise
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise LibraryError(f"the disk filled up while downloading {name} into {plan.cache_dir}; free some space "
                               "and download it again to resume") from None
        if getattr(err, "response", None) is not None or err.errno is None:  # a Hub HTTP error
            raise hub_error(err, plan.repo_id, plan.revision, plan.endpoint) from None
        raise LibraryError(f"cannot write {partial} ({err.strerror}); check that the cache folder is writable") from None
    except Exception as err:  # noqa: BLE001 - any other Hub error while streaming
        raise hub_error(err, plan.repo_id, plan.revision, plan.endpoint) from None
    size = partial.stat().st_size
    if expected is not None and size != expected:
        raise LibraryError(f"{name} arrived with {size} of {expected} bytes; download it again to resume")
    if verify and digest.hexdigest() != meta.etag:
        partial.unlink()
        raise LibraryError(f"{name} arrived corrupted (its SHA-256 does not match the Hub's); download it again")
    os.chmod(partial, 0o644)
    os.replace(partial, blob)


def _hash_prefix(path: Path, length: int, digest) -> None:
    with path.open("rb") as handle:
        while length > 0:
            block = handle.read(min(CHUNK_BYTES, length))
            if not block:
                break
            digest.update(block)
            length -= len(block)


def _link(plan: PullPlan, name: str) -> None:
    """huggingface_hub writes the snapshot pointer to the blob now on disk (no bytes are fetched again)."""
    from huggingface_hub import hf_hub_download

    try:
        hf_hub_download(plan.repo_id, name, revision=plan.commit, cache_dir=plan.cache_dir, endpoint=plan.endpoint,
                        token=plan.token)
    except Exception as err:  # noqa: BLE001
        raise hub_error(err, plan.repo_id, plan.revision, plan.endpoint) from None


def _write_ref(plan: PullPlan) -> None:
    """refs/<branch or tag> -> commit, as huggingface_hub writes it, so `from_pretrained(repo)` works offline."""
    if plan.revision == plan.commit:
        return
    ref = plan.storage / "refs" / plan.revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    temporary = ref.with_name(ref.name + ".tmp")
    temporary.write_text(plan.commit, encoding="utf-8")
    os.replace(temporary, ref)
