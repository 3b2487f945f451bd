"""A model served by an OpenAI-compatible server, behind the same surface as a loaded `Model`.

`connect(url, model=None, api_key=None)` asks the server's /v1/models which model to use and
returns a `RemoteModel`: `chat` and `generate` stream `Token`s (with `top_logprobs`
alternatives), `continuation_logprobs` scores token ids through completions with echo,
`info` names the endpoint and served model (its fingerprint hashes the endpoint and the stable
fields of what /v1/models says about the model). What needs the weights or the tokenizer (attention maps,
the logit lens, token counts) raises one EngineError saying why. It loads nothing locally.
"""
from __future__ import annotations

import hashlib
import json
import threading
from urllib.parse import urlsplit

from ..errors import EngineError
from ..sampling import Sampling
from ..types import ContinuationScore, ModelInfo
from .client import OpenAIClient, sampling_fields
from .http import RemoteError
from .stream import RemoteGeneration

WHY_NO_WEIGHTS = ("{what} needs the model's weights, and a remote server ({url}) sends only tokens and their "
                  "probabilities; load a local copy of the model to see it")
# What identifies a served model in its /v1/models entry; left out: "created" (vLLM stamps each request's
# time) and vLLM's "permission" (fresh random ids each time).
STABLE_CARD_FIELDS = ("id", "object", "owned_by", "root", "parent", "max_model_len", "meta", "glasslm")


class RemoteModel:
    is_remote = True

    def __init__(self, client: OpenAIClient, card: dict):
        self.client, self.card = client, dict(card)
        self.model_id = card["id"]
        extra = card.get("glasslm") if isinstance(card.get("glasslm"), dict) else {}
        self.tokenizer = None  # the server's tokenizer stays on the server
        self.generation_defaults: dict = {}
        self.lock = threading.RLock()
        self.has_chat_template = bool(extra.get("chat_template", True))
        context = card.get("max_model_len") or extra.get("context_length") or 0
        self.info = ModelInfo(
            path=client.base_url, model_type=str(extra.get("model_type") or "remote"),
            n_params=int(extra.get("n_params") or 0), context_length=int(context) if isinstance(context, int) else 0,
            vocab_size=int(extra.get("vocab_size") or 0), n_layers=0, n_heads=0, n_kv_heads=0,
            precision=str(extra.get("precision") or "remote"), device=urlsplit(client.base_url).netloc,
            fingerprint=card_fingerprint(client.base_url, card), name=self.model_id,
            source_format=f"served by {client.base_url}")

    # ---- the Model surface ----------------------------------------------------------------------
    def default_sampling(self, **overrides) -> Sampling:
        return Sampling(**overrides)

    def chat(self, messages: list[dict], settings: Sampling | None = None, truncate: bool = False,
             top: int = 5) -> RemoteGeneration:
        """Stream the assistant's reply; the server applies its chat template. `truncate` is not
        available remotely (the server refuses a conversation longer than its context)."""
        body = {"model": self.model_id, "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
                **sampling_fields(settings or Sampling())}
        if top:
            body.update(logprobs=True, top_logprobs=min(int(top), 20))
        return RemoteGeneration(lambda handle: self.client.stream("/chat/completions", body, handle), chat=True)

    def generate(self, prompt: list[int] | str, settings: Sampling | None = None, truncate: bool = False,
                 top: int = 5) -> RemoteGeneration:
        """Stream a plain completion of prompt (token ids of the server's tokenizer, or text)."""
        prompt = list(prompt) if not isinstance(prompt, str) else prompt
        body = {"model": self.model_id, "prompt": prompt, **sampling_fields(settings or Sampling())}
        if top:
            body["logprobs"] = min(int(top), 20)
        return RemoteGeneration(lambda handle: self.client.stream("/completions", body, handle), chat=False)

    def continuation_logprobs(self, context_ids: list[int], continuations: list[list[int]]) -> list[ContinuationScore]:
        """Score each continuation after the context (token ids of the server's tokenizer), one request each."""
        if not context_ids:
            raise EngineError("continuation_logprobs needs a non-empty context (use the BOS token as the context)")
        if not continuations or any(not c for c in continuations):
            raise EngineError("each continuation needs at least one token")
        scores = []
        for cont in continuations:
            echo = self.client.echo_logprobs(self.model_id, list(context_ids) + list(cont), top=1)
            values = echo.logprobs[len(context_ids):]
            tops = echo.top[len(context_ids):]
            if len(values) != len(cont) or any(v is None for v in values):
                raise RemoteError(f"{self.client.base_url} echoed {len(echo.logprobs)} tokens for a prompt of "
                                  f"{len(context_ids) + len(cont)} token ids; it cannot score token ids")
            greedy = all(top and v >= max(top.values()) for v, top in zip(values, tops))
            scores.append(ContinuationScore(float(sum(values)), bool(greedy), tuple(float(v) for v in values)))
        return scores

    def render_chat(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        raise EngineError(f"the chat template of a remote model is applied by its server ({self.client.base_url}); "
                          "glasslm cannot show the rendered prompt")

    def chat_ids(self, messages: list[dict], add_generation_prompt: bool = True) -> list[int]:
        raise EngineError(f"token counts need the model's tokenizer, which stays on the server ({self.client.base_url}); "
                          "the server says how many tokens a reply used once it is done")

    def attention(self, ids: list[int]):
        raise EngineError(WHY_NO_WEIGHTS.format(what="the attention view", url=self.client.base_url))

    def logit_lens(self, ids: list[int], top_k: int = 5):
        raise EngineError(WHY_NO_WEIGHTS.format(what="the logit lens", url=self.client.base_url))

    def embedding_neighbors(self, token_id: int, k: int = 10):
        raise EngineError(WHY_NO_WEIGHTS.format(what="embedding neighbours", url=self.client.base_url))

    def memory(self) -> dict:
        return {"weights_bytes_by_dtype": {}, "weights_bytes": 0, "kv_cache_bytes": 0,
                "device": self.info.device, "loaded_from": self.info.source_format}

    def close(self):
        pass  # nothing is held between requests

    def __getattr__(self, name: str):
        """Anything else a local Model has (network, config, decode_step, ...) needs the weights: say so."""
        if name.startswith("__") or "client" not in self.__dict__:
            raise AttributeError(name)
        raise NeedsWeightsError(WHY_NO_WEIGHTS.format(what=f"this ({name})", url=self.client.base_url))

    def __repr__(self):
        return f"RemoteModel({self.model_id} at {self.client.base_url})"


class NeedsWeightsError(EngineError, AttributeError):
    """What a local model offers and a remote one cannot (also an AttributeError, so getattr defaults work)."""


def card_fingerprint(base_url: str, card: dict) -> str:
    """What identifies a served model: the endpoint and its /v1/models entry, less fields that change per request."""
    stable = {k: v for k, v in card.items() if k in STABLE_CARD_FIELDS}
    text = json.dumps({"endpoint": base_url, "card": stable}, sort_keys=True, default=str)
    return "remote-" + hashlib.sha256(text.encode()).hexdigest()


def connect(url: str, model: str | None = None, api_key: str | None = None, timeout_s: float = 120.0,
            retries: int = 4) -> RemoteModel:
    """A RemoteModel for `model` at url (the only model served when None); RemoteError when unreachable."""
    client = OpenAIClient(url, api_key=api_key, timeout_s=timeout_s, retries=retries)
    return RemoteModel(client, client.model_card(model))
