"""The values the engine hands out: sampling settings, streamed tokens, stats, model info.

Plain dataclasses with no behaviour beyond conversion to dicts (for storage and display).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0  # 0 means greedy
    top_k: int = 0  # keep the k most likely tokens; 0 = off
    top_p: float = 1.0  # keep the smallest set with this much probability; 1 = off
    min_p: float = 0.0  # drop tokens below min_p x the top probability; 0 = off
    repetition_penalty: float = 1.0  # >1 discourages tokens already in prompt or output
    max_new_tokens: int = 256  # stop after this many generated tokens
    seed: int | None = None  # same seed and settings give the same tokens
    stop: tuple[str, ...] = ()  # stop when any of these strings appears in the output
    stop_on_eos: bool = True  # stop at the model's end-of-sequence tokens

    def __post_init__(self):
        object.__setattr__(self, "stop", tuple(self.stop))
        checks = (
            (self.temperature >= 0, "temperature must be 0 (greedy) or more"),
            (self.top_k >= 0, "top_k must be 0 (off) or more"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]; 1 turns it off"),
            (0 <= self.min_p <= 1, "min_p must be in [0, 1]; 0 turns it off"),
            (self.repetition_penalty > 0, "repetition_penalty must be above 0; 1 turns it off"),
            (self.max_new_tokens >= 0, "max_new_tokens must be 0 or more"),
        )
        for ok, message in checks:
            if not ok:
                from .errors import EngineError

                raise EngineError(f"bad sampling setting: {message}")

    def to_dict(self) -> dict:
        return {**asdict(self), "stop": list(self.stop)}

    @classmethod
    def from_dict(cls, data: dict) -> "Sampling":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


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
