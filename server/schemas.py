"""The request bodies glasslm serve accepts, as pydantic models, and their translation into engine `Sampling`.

Field names and defaults follow OpenAI's API (temperature 1, top_p 1; completions' max_tokens
16) plus the extras vLLM accepts (`top_k`, `min_p`, `repetition_penalty`, `ignore_eos`). Unknown
fields are ignored, as OpenAI-compatible servers do; fields glasslm cannot honour (tools,
logit_bias, presence/frequency penalties) are refused with a 400 that says so. No model work here.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import engine

from .errors import bad_request

MAX_SEED = 2**63 - 1
MAX_TOP_LOGPROBS = 20  # OpenAI's limit
MAX_CHOICES = 16


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = "text"
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        for part in self.content:
            if part.type != "text":
                raise bad_request(f"message content of type {part.type!r} is not supported; glasslm serves text "
                                  "models (send text parts only)", param="messages")
        return "".join(part.text or "" for part in self.content)


class SamplingFields(BaseModel):
    """What both endpoints share."""
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=-1)  # vLLM: -1 (or 0) = off
    min_p: float | None = Field(default=None, ge=0, le=1)
    repetition_penalty: float | None = Field(default=None, gt=0)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=MAX_SEED)
    n: int = Field(default=1, ge=1, le=MAX_CHOICES)
    ignore_eos: bool = False
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None

    def refuse_unsupported(self) -> None:
        for name in ("presence_penalty", "frequency_penalty"):
            if getattr(self, name):
                raise bad_request(f"{name} is not supported by glasslm serve; use repetition_penalty instead",
                                  param=name)
        if self.logit_bias:
            raise bad_request("logit_bias is not supported by glasslm serve", param="logit_bias")

    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))

    def sampling(self, max_new_tokens: int, choice: int = 0) -> engine.Sampling:
        """Engine Sampling for choice number `choice` (n > 1 with a seed: seed, seed + 1, ...)."""
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        if any(not s for s in stop):
            raise bad_request("stop strings must not be empty", param="stop")
        seed = None if self.seed is None else (self.seed + choice) % 2**63
        try:
            return engine.Sampling(
                temperature=1.0 if self.temperature is None else self.temperature,
                top_k=max(0, self.top_k or 0), top_p=1.0 if self.top_p is None else self.top_p,
                min_p=self.min_p or 0.0,
                repetition_penalty=1.0 if self.repetition_penalty is None else self.repetition_penalty,
                max_new_tokens=max_new_tokens, seed=seed, stop=stop, stop_on_eos=not self.ignore_eos)
        except engine.EngineError as err:
            raise bad_request(str(err)) from None


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=0)
    max_completion_tokens: int | None = Field(default=None, ge=0)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    tools: list[Any] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None

    def refuse_unsupported(self) -> None:
        super().refuse_unsupported()
        if self.tools:
            raise bad_request("tools (function calling) are not supported by glasslm serve", param="tools")
        if self.response_format and self.response_format.get("type") not in (None, "text"):
            raise bad_request("response_format other than text is not supported by glasslm serve",
                              param="response_format")
        if self.top_logprobs and not self.logprobs:
            raise bad_request("top_logprobs needs logprobs set to true", param="top_logprobs")

    def requested_max(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    def plain_messages(self) -> list[dict]:
        return [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in self.messages]


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(default=16, ge=0)  # OpenAI's default for completions
    echo: bool = False
    logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    suffix: str | None = None
    best_of: int | None = None

    def refuse_unsupported(self) -> None:
        super().refuse_unsupported()
        if self.suffix:
            raise bad_request("suffix (fill in the middle) is not supported by glasslm serve", param="suffix")
        if self.best_of not in (None, 1, self.n):
            raise bad_request("best_of is not supported by glasslm serve; leave it out", param="best_of")

    def prompts(self) -> list[str | list[int]]:
        """The prompts of the request: one text or token-id list per prompt."""
        p = self.prompt
        if isinstance(p, str):
            return [p]
        if not p:
            raise bad_request("prompt is empty", param="prompt")
        if all(isinstance(x, int) for x in p):
            return [list(p)]
        return [x if isinstance(x, str) else list(x) for x in p]
