"""The FastAPI application of `glasslm serve`: one loaded engine model behind OpenAI's API.

`create_app(model, name=None, api_key=None)` returns the app: GET /v1/models, POST
/v1/chat/completions (chat.py), POST /v1/completions (completions.py), GET /health (the model,
what it is doing, how many requests wait). With an API key, every request must carry
`Authorization: Bearer KEY` (401 otherwise). `Served` holds what the routes share: the model,
its served name, the request queue and the context-window checks. It does not load models or
bind sockets (see cli.py).
"""
from __future__ import annotations

import secrets
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request

import engine

from . import errors
from .chat import chat_completions
from .completions import completions
from .errors import APIError
from .queue import ModelQueue


class Served:
    def __init__(self, model: engine.Model, name: str | None = None, api_key: str | None = None,
                 max_waiting: int = 256):
        self.model = model
        info = model.info
        self.name = name or info.name or Path(str(info.path)).name
        self.api_key = api_key or None
        self.queue = ModelQueue(max_waiting=max_waiting)
        self.created = int(time.time())
        self.vocab_size = int(getattr(model.config, "vocab_size", 0) or info.vocab_size)

    def check_model(self, requested: str | None) -> None:
        if requested and requested not in (self.name, str(self.model.info.path)):
            raise APIError(404, f"the model {requested!r} is not served here; this server serves {self.name!r} "
                           "(GET /v1/models lists it)", param="model", code="model_not_found")

    def check_fits(self, ids: list[int], what: str) -> None:
        """400 when the tokens alone exceed the context window, saying by how much."""
        context = self.model.info.context_length
        if len(ids) > context:
            raise APIError(400, f"this model's maximum context length is {context} tokens, but {what} is "
                           f"{len(ids)} tokens ({len(ids) - context} too many); shorten it", param="messages"
                           if what == "the messages" else "prompt", code="context_length_exceeded")

    def room_after(self, ids: list[int], what: str) -> int:
        """How many tokens can follow ids in the context window; 400 when none can."""
        context = self.model.info.context_length
        self.check_fits(ids, what)
        if len(ids) >= context:
            raise APIError(400, f"this model's maximum context length is {context} tokens and {what} already "
                           f"fills it ({len(ids)} tokens), leaving no room for a reply; shorten it by at least "
                           f"{len(ids) - context + 1} tokens", param="messages" if what == "the messages"
                           else "prompt", code="context_length_exceeded")
        return context - len(ids)

    def card(self) -> dict:
        info = self.model.info
        return {
            "id": self.name, "object": "model", "created": self.created, "owned_by": "glasslm",
            "root": str(info.path), "parent": None, "max_model_len": info.context_length,
            "glasslm": {"fingerprint": info.fingerprint, "model_type": info.model_type, "n_params": info.n_params,
                        "precision": info.precision, "device": info.device, "vocab_size": info.vocab_size,
                        "context_length": info.context_length, "source_format": info.source_format,
                        "chat_template": bool(self.model.has_chat_template)},
        }

    def health(self) -> dict:
        queue = self.queue.health()
        info = self.model.info
        state = {"chat": "generating", "completion": "generating"}.get(queue["running"] or "", "idle")
        return {"status": "ok", "model": {"id": self.name, "path": str(info.path), "precision": info.precision,
                                          "device": info.device, "state": state},
                "queue": {"waiting": queue["waiting"], "running": 1 if queue["running"] else 0,
                          "max_waiting": queue["max_waiting"]},
                "requests": queue["requests"]}


def create_app(model: engine.Model, name: str | None = None, api_key: str | None = None,
               max_waiting: int = 256) -> FastAPI:
    served = Served(model, name, api_key, max_waiting)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        served.queue.close()

    app = FastAPI(title="glasslm serve", lifespan=lifespan, dependencies=[Depends(_authorized)],
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.served = served
    errors.install(app)
    app.add_api_route("/v1/models", _models, methods=["GET"])
    app.add_api_route("/v1/models/{model_id:path}", _one_model, methods=["GET"])
    app.add_api_route("/v1/chat/completions", chat_completions, methods=["POST"])
    app.add_api_route("/v1/completions", completions, methods=["POST"])
    app.add_api_route("/health", _health, methods=["GET"])
    return app


async def _authorized(request: Request) -> None:
    key = request.app.state.served.api_key
    if key is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), key.encode()):
        raise APIError(401, "this server needs an API key: send it as 'Authorization: Bearer KEY' (the openai "
                       "client's api_key)" if not header else "the API key is not the one this server was started "
                       "with", code="invalid_api_key")


async def _models(request: Request):
    return {"object": "list", "data": [request.app.state.served.card()]}


async def _one_model(model_id: str, request: Request):
    served = request.app.state.served
    served.check_model(model_id)
    return served.card()


async def _health(request: Request):
    return request.app.state.served.health()
