"""JSON and server-sent events over HTTP, with the standard library only (http.client).

`Endpoint` is a base URL (`http://host:port/v1`), an optional API key and a per-request timeout.
`Endpoint.request(method, path, body)` sends one JSON request and returns the decoded answer,
retrying with backoff on 429, 5xx, timeouts and dropped connections; `Endpoint.stream(path, body)`
opens a server-sent-events response and yields each event's decoded JSON (retried only before the
first event arrives). Every failure is one `RemoteError` saying what to do. This module knows
nothing about OpenAI's request or response fields (see client.py).
"""
from __future__ import annotations

import http.client
import json
import random
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlsplit

from ..errors import EngineError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 30.0  # a server's Retry-After is honoured up to this


class RemoteError(EngineError):
    """A remote server could not be reached, refused a request, or answered something unusable."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status, when the server answered
        self.code = code  # OpenAI's error "code" (e.g. "context_length_exceeded"), when given


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # scheme://host[:port]/path-prefix, e.g. http://127.0.0.1:8000/v1 (no trailing slash)
    api_key: str | None = None  # sent as "Authorization: Bearer KEY"
    timeout_s: float = 120.0  # per request: connecting, and waiting for each piece of the answer
    retries: int = 4  # further attempts after a retryable failure (429, 5xx, timeout, dropped connection)
    backoff_s: float = 0.5  # first wait between attempts; doubled each time, with jitter

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """One JSON request; the decoded JSON answer. RemoteError when it fails for good."""
        for attempt in range(self.retries + 1):
            try:
                connection, response = self._open(method, path, body)
                try:
                    data = response.read()
                finally:
                    connection.close()
                if response.status >= 400:
                    raise _http_error(self, path, response.status, data, response.getheader("Retry-After"))
                return _decode(self, path, data)
            except _Retryable as err:
                if attempt == self.retries:
                    raise err.final from None
                time.sleep(err.wait_s if err.wait_s is not None else self._backoff(attempt))
        raise AssertionError("unreachable")

    def stream(self, path: str, body: dict, opened: "StreamHandle | None" = None) -> Iterator[dict]:
        """POST body and yield the JSON of each server-sent event until `data: [DONE]` or the end.

        `opened` receives the live connection, so another thread can `close()` it to stop the stream
        (the iterator then ends quietly)."""
        for attempt in range(self.retries + 1):
            try:
                connection, response = self._open("POST", path, body, accept="text/event-stream")
                if response.status >= 400:
                    data = response.read()
                    connection.close()
                    raise _http_error(self, path, response.status, data, response.getheader("Retry-After"))
                break
            except _Retryable as err:
                if attempt == self.retries:
                    raise err.final from None
                time.sleep(err.wait_s if err.wait_s is not None else self._backoff(attempt))
        handle = opened or StreamHandle()
        handle.attach(connection)
        try:
            yield from _events(self, path, response, handle)
        finally:
            handle.close()

    # ---- internals ------------------------------------------------------------------------------
    def _open(self, method: str, path: str, body: dict | None, accept: str = "application/json"):
        parts = urlsplit(self.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname, port, timeout=self.timeout_s,
                                                     context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(parts.hostname, port, timeout=self.timeout_s)
        headers = {"Accept": accept, "User-Agent": "glasslm"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            connection.request(method, parts.path.rstrip("/") + path, body=payload, headers=headers)
            return connection, connection.getresponse()
        except (socket.timeout, TimeoutError):
            connection.close()
            raise _Retryable(RemoteError(f"{self.base_url} did not answer {path} within {self.timeout_s:g} s; "
                                         "the server may be overloaded: retry, lower --concurrency, or raise "
                                         "the timeout"))
        except ConnectionRefusedError:
            connection.close()
            raise RemoteError(f"nothing is listening at {self.base_url} (connection refused); start the server "
                              "or check the address and port") from None
        except ssl.SSLError as err:
            connection.close()
            raise RemoteError(f"the TLS handshake with {self.base_url} failed ({err.reason or err}); check that "
                              "the URL's scheme (http or https) matches the server") from None
        except socket.gaierror:
            connection.close()
            raise RemoteError(f"the host name in {self.base_url} could not be resolved; check the address") from None
        except (ConnectionError, http.client.HTTPException, OSError) as err:
            connection.close()
            raise _Retryable(RemoteError(f"the connection to {self.base_url} failed ({_reason(err)}); check that "
                                         "the server is running and reachable"))

    def _backoff(self, attempt: int) -> float:
        return self.backoff_s * (2 ** attempt) * (0.5 + random.random())


class StreamHandle:
    """The connection behind a stream; `close()` from any thread ends the stream (and its request)."""

    def __init__(self):
        self._connection: http.client.HTTPConnection | None = None
        self.closed = False

    def attach(self, connection: http.client.HTTPConnection):
        self._connection = connection
        if self.closed:  # closed before the connection existed
            self.close()

    def close(self):
        self.closed = True
        connection = self._connection
        if connection is not None and connection.sock is not None:
            try:  # wakes a read blocked in another thread; close() alone would not
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if connection is not None:
            connection.close()


class _Retryable(Exception):
    def __init__(self, final: RemoteError, wait_s: float | None = None):
        self.final, self.wait_s = final, wait_s


def _events(endpoint: Endpoint, path: str, response, handle: StreamHandle) -> Iterator[dict]:
    data_lines: list[str] = []
    while True:
        try:
            raw = response.readline()
        except (socket.timeout, TimeoutError):
            if handle.closed:
                return
            raise RemoteError(f"{endpoint.base_url} stopped sending {path} for {endpoint.timeout_s:g} s; "
                              "the server may be overloaded: retry, or raise the timeout") from None
        except (OSError, ValueError, http.client.HTTPException, AttributeError) as err:
            if handle.closed:
                return
            raise RemoteError(f"the connection to {endpoint.base_url} dropped in the middle of an answer "
                              f"({_reason(err)}); retry") from None
        if not raw:
            if handle.closed or not data_lines:
                return
            raw = b"\n"
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line.startswith("data:"):
            data_lines.append(line[5:].removeprefix(" "))
            continue
        if line or not data_lines:
            continue  # comments (":"), "event:" and "id:" lines, keep-alive blank lines
        text, data_lines = "\n".join(data_lines), []
        if text.strip() == "[DONE]":
            return
        try:
            event = json.loads(text)
        except ValueError:
            raise RemoteError(f"{endpoint.base_url} sent an event on {path} that is not JSON: {text[:120]!r}; "
                              "is this an OpenAI-compatible server?") from None
        if isinstance(event, dict) and isinstance(event.get("error"), dict):
            raise _error_from_body(endpoint, path, None, event)
        yield event


def _decode(endpoint: Endpoint, path: str, data: bytes) -> dict:
    try:
        answer = json.loads(data)
    except ValueError:
        raise RemoteError(f"{endpoint.base_url}{path} answered with something that is not JSON "
                          f"({data[:80]!r}); is this the base URL of an OpenAI-compatible server (ending in /v1)?") from None
    if not isinstance(answer, dict):
        raise RemoteError(f"{endpoint.base_url}{path} answered with JSON that is not an object; "
                          "is this an OpenAI-compatible server?")
    return answer


def _http_error(endpoint: Endpoint, path: str, status: int, data: bytes, retry_after: str | None):
    try:
        body = json.loads(data)
    except ValueError:
        body = None
    error = _error_from_body(endpoint, path, status, body, data)
    if status in RETRY_STATUSES:
        wait = None
        if retry_after:
            try:
                wait = min(max(float(retry_after), 0.0), MAX_RETRY_AFTER_S)
            except ValueError:
                wait = None
        return _Retryable(error, wait)
    return error


def _error_from_body(endpoint: Endpoint, path: str, status: int | None, body, raw: bytes = b"") -> RemoteError:
    """OpenAI's {"error": {"message", "type", "code"}} (also vLLM's and llama.cpp's), or FastAPI's {"detail"}."""
    message, code = None, None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message, code = error.get("message"), error.get("code")
        elif isinstance(error, str):
            message = error
        elif body.get("detail") is not None:
            message = str(body["detail"])
        elif isinstance(body.get("message"), str):
            message = body["message"]
    if not message:
        message = raw[:200].decode("utf-8", "replace").strip() or "no reason given"
    where = f"{endpoint.base_url}{path}"
    if status == 401 or status == 403:
        return RemoteError(f"{where} refused the request ({status}: {message}); give the server's API key "
                           "(--api-key, or GLASSLM_API_KEY)", status, code and str(code))
    if status == 404:
        return RemoteError(f"{where} does not exist on this server ({message}); check the base URL (it usually "
                           "ends in /v1) and the model name", status, code and str(code))
    prefix = f"{where} answered {status}" if status else f"{where} reported an error"
    return RemoteError(f"{prefix}: {message}", status, code and str(code))


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__
