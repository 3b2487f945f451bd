"""`LocalHub`: a small HTTP server on 127.0.0.1 answering the Hugging Face Hub's API for test repos.

It answers what huggingface_hub's `model_info` (GET /api/models/<repo>[/revision/<rev>]?blobs=true)
and `get_hf_file_metadata` / `hf_hub_download` (HEAD and GET /<repo>/resolve/<rev>/<file>) ask,
with the headers they check: X-Repo-Commit, ETag (the git blob id of a small file), and for LFS
files a 302 to a second server (a "CDN" on another port, so the client must not send it the
token) with X-Linked-Etag (the SHA-256) and X-Linked-Size. Errors carry the Hub's X-Error-Code
(RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo: 401 without a token, 403 with one
that was not granted). Byte ranges are served (206 + Content-Range), and a file can be set to
drop its connection once after N bytes, as a lost network does, or pause after N bytes until
released, as a slow one does. Every request is logged.
"""
from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pt", ".onnx", ".msgpack")


@dataclass
class HubRepo:
    repo_id: str
    files: dict[str, bytes]
    gated: bool = False
    granted_tokens: tuple[str, ...] = ()  # tokens that accepted the license
    listed_sizes: dict[str, int] = field(default_factory=dict)  # sizes to announce instead of the real ones

    @property
    def commit(self) -> str:
        return hashlib.sha1(self.repo_id.encode()).hexdigest()

    def is_lfs(self, name: str) -> bool:
        return name.endswith(LFS_SUFFIXES)

    def size(self, name: str) -> int:
        return self.listed_sizes.get(name, len(self.files[name]))

    def sibling(self, name: str) -> dict:
        data = self.files[name]
        entry = {"rfilename": name, "size": self.size(name), "blobId": git_blob_id(data)}
        if self.is_lfs(name):
            entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": self.size(name), "pointerSize": 134}
        return entry


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Logged:
    server: str  # "hub" | "cdn"
    method: str
    path: str
    range: str | None
    authorized: bool


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up (a cancel) is no error
            super().handle_error(request, client_address)


class LocalHub:
    def __init__(self):
        self.repos: dict[str, HubRepo] = {}
        self.log: list[Logged] = []
        self.drop_once: dict[str, int] = {}  # sha256 of an LFS file -> bytes to send before dropping, once
        self.hold_once: dict[str, tuple[int, threading.Event]] = {}  # sha256 -> (bytes to send, then wait for it)
        self._lock = threading.Lock()
        self.hub = _QuietServer(("127.0.0.1", 0), _handler(self, "hub"))
        self.cdn = _QuietServer(("127.0.0.1", 0), _handler(self, "cdn"))
        self._threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
                         for s in (self.hub, self.cdn)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.hub.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self.cdn.server_address[1]}"

    def add(self, repo: HubRepo) -> HubRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def requests(self, server: str | None = None, method: str | None = None) -> list[Logged]:
        return [r for r in self.log if (server is None or r.server == server) and (method is None or r.method == method)]

    def lfs_blob(self, sha256: str) -> bytes | None:
        for repo in self.repos.values():
            for data in repo.files.values():
                if hashlib.sha256(data).hexdigest() == sha256:
                    return data
        return None

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        for server in (self.hub, self.cdn):
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join()


def _handler(hub: LocalHub, server: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def do_HEAD(self):
            self._route(head=True)

        def do_GET(self):
            self._route(head=False)

        # ---- routing -------------------------------------------------------------------------
        def _route(self, head: bool):
            path = unquote(urlparse(self.path).path)
            with hub._lock:
                hub.log.append(Logged(server, self.command, path, self.headers.get("Range"),
                                      bool(self.headers.get("Authorization"))))
            if server == "cdn":
                match = re.fullmatch(r"/lfs/([0-9a-f]{64})", path)
                data = hub.lfs_blob(match.group(1)) if match else None
                if data is None:
                    return self._error(404, "EntryNotFound")
                return self._send(data, head, {}, drop_key=match.group(1))
            if path.startswith("/api/models/"):
                return self._model_info(path[len("/api/models/"):])
            match = re.fullmatch(r"/(.+?)/resolve/([^/]+)/(.+)", path)
            if match:
                return self._resolve(*match.groups(), head=head)
            self._error(404, None)

        def _repo(self, repo_id: str) -> HubRepo | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found")
            return repo

        def _revision_ok(self, repo: HubRepo, revision: str) -> bool:
            if revision in ("main", repo.commit):
                return True
            self._error(404, "RevisionNotFound", "Invalid rev id", {"X-Repo-Commit": repo.commit})
            return False

        def _model_info(self, rest: str):
            repo_id, _, revision = rest.partition("/revision/")
            repo = self._repo(repo_id)
            if repo is None or not self._revision_ok(repo, revision or "main"):
                return
            body = {"id": repo.repo_id, "sha": repo.commit, "private": False,
                    "gated": "manual" if repo.gated else False,
                    "siblings": [repo.sibling(name) for name in repo.files]}
            self._send(json.dumps(body).encode(), False, {"Content-Type": "application/json"})

        def _resolve(self, repo_id: str, revision: str, name: str, head: bool):
            repo = self._repo(repo_id)
            if repo is None or not self._revision_ok(repo, revision):
                return
            commit = {"X-Repo-Commit": repo.commit}
            if repo.gated:
                auth = self.headers.get("Authorization", "")
                if not auth:
                    return self._error(401, "GatedRepo", "Access to this model is restricted", commit)
                if auth.removeprefix("Bearer ") not in repo.granted_tokens:
                    return self._error(403, "GatedRepo", "Access to this model is restricted", commit)
            if name not in repo.files:
                return self._error(404, "EntryNotFound", "Entry not found", commit)
            data = repo.files[name]
            if repo.is_lfs(name):
                sha = hashlib.sha256(data).hexdigest()
                self.send_response(302)
                self.send_header("Location", f"{hub.cdn_url}/lfs/{sha}")
                self.send_header("X-Repo-Commit", repo.commit)
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("X-Linked-Size", str(repo.size(name)))
                self.send_header("ETag", f'"{git_blob_id(data)}"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send(data, head, {"X-Repo-Commit": repo.commit, "ETag": f'"{git_blob_id(data)}"'})

        # ---- answers -------------------------------------------------------------------------
        def _send(self, data: bytes, head: bool, headers: dict, drop_key: str | None = None):
            start = 0
            wanted = self.headers.get("Range")
            if wanted and not head:
                match = re.fullmatch(r"bytes=(\d+)-", wanted.strip())
                if match:
                    start = int(match.group(1))
            if start > len(data):
                return self._error(416, None)
            self.send_response(206 if start else 200)
            for key, value in headers.items():
                self.send_header(key, value)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            if head:
                return
            body = data[start:]
            with hub._lock:
                cut = hub.drop_once.pop(drop_key, None) if drop_key else None
                hold = hub.hold_once.pop(drop_key, None) if drop_key else None
            if hold is not None:  # a slow network: part of the body, then the rest once released
                sent, release = hold
                self.wfile.write(body[:sent])
                self.wfile.flush()
                release.wait(timeout=30)
                body = body[sent:]
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(body)

        def _error(self, status: int, code: str | None, message: str = "", extra: dict | None = None):
            body = json.dumps({"error": message or "error"}).encode()
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
            if message:
                self.send_header("X-Error-Message", message)
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    return Handler
