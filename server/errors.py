"""Errors in OpenAI's JSON shape, `{"error": {"message", "type", "param", "code"}}`, with the right status.

`APIError` is what route code raises; `install(app)` turns it, FastAPI's request validation
errors (400, naming the field) and the engine's errors (a prompt too long: 400; out of memory:
503; anything else the model raises: 500) into that shape. Nothing else here.
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import engine

log = logging.getLogger("glasslm.server")


class APIError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.headers = headers

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def from_engine(err: Exception) -> APIError:
    """The APIError for an exception raised while the model worked on a request."""
    if isinstance(err, APIError):
        return err
    if isinstance(err, engine.PromptTooLongError):
        return APIError(400, str(err), code="context_length_exceeded")
    if isinstance(err, engine.OutOfMemoryError):
        return APIError(503, str(err), type_="server_error", code="out_of_memory", headers={"Retry-After": "5"})
    if isinstance(err, engine.EngineError):
        return APIError(500, str(err), type_="server_error")
    log.exception("unexpected error while serving a request", exc_info=err)
    return APIError(500, f"unexpected error in the server: {type(err).__name__}: {err}", type_="server_error")


def install(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_request: Request, err: APIError):
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, err: RequestValidationError):
        problems = err.errors()
        first = problems[0] if problems else {}
        location = [str(p) for p in first.get("loc", ()) if p != "body"]
        param = ".".join(location) or None
        message = first.get("msg", "invalid request")
        if first.get("type") == "json_invalid":
            message, param = "the request body is not valid JSON", None
        elif first.get("type") == "missing":
            message = f"{param} is required"
        elif param:
            message = f"{param}: {message}"
        return bad_request(message, param=param).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, err: StarletteHTTPException):
        kind = "invalid_request_error" if err.status_code < 500 else "server_error"
        code = "not_found" if err.status_code == 404 else None
        message = str(err.detail)
        if err.status_code == 404:
            message = "no such endpoint; glasslm serves /v1/models, /v1/chat/completions, /v1/completions and /health"
        return APIError(err.status_code, message, kind, code=code).response()

    @app.exception_handler(engine.EngineError)
    async def _engine(_request: Request, err: engine.EngineError):
        return from_engine(err).response()
