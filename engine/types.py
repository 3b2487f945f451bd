"""The values the engine hands out: streamed tokens, stats, model info (sampling settings are in sampling.py).

Plain dataclasses with no behaviour beyond conversion to dicts (for storage and display).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Alternative:
    id: int
    text: str
    logprob: float


@dataclass(frozen=True)
class Token:
    id: int
    text: str  # the decoded text this token adds (whole characters; may be "" while a character is incomplete)
    logprob: float  # log-probability of this token under the model's (unmodified) distribution
    top: tuple[Alternative, ...] = ()  # the most likely tokens at this step, best first


@dataclass
class Stats:
    prompt_tokens: int = 0
    generated_tokens: int = 0
    reused_prompt_tokens: int = 0  # prompt tokens whose keys/values were already cached
    time_to_first_token_s: float = 0.0
    prefill_tokens_per_s: float = 0.0
    decode_tokens_per_s: float = 0.0
    total_s: float = 0.0
    stop_reason: str = ""  # eos | stop | length | context | cancelled
    truncated_prompt_tokens: int = 0  # tokens dropped from the start of the prompt, when asked to truncate
    dropped_messages: int = 0  # oldest chat turns left out to fit the context, when asked to truncate

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ContinuationScore:
    logprob: float  # sum of log-probabilities of the continuation's tokens
    greedy: bool  # every continuation token was the argmax
    token_logprobs: tuple[float, ...] = field(default=())


@dataclass(frozen=True)
class ModelInfo:
    path: str
    model_type: str
    n_params: int
    context_length: int
    vocab_size: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    precision: str
    device: str
    fingerprint: str
    name: str = ""
    source_format: str = ""  # what the file stores: "GGUF Q4_1", "safetensors BF16", ...

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # "cpu" or "cuda:N"
    label: str  # what to show a person
    free_bytes: int | None = None
    total_bytes: int | None = None
