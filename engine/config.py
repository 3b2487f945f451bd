"""Model configuration read from a checkpoint's `config.json`.

Knows the field names Hugging Face uses for the supported decoder-only architectures
(llama, mistral, qwen2, qwen3), in both the transformers 4.x (`rope_theta`, `rope_scaling`)
and 5.x (`rope_parameters`) spellings. It does not read weights or tokenizers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import UnsupportedModelError

SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3")
SUPPORTED_ROPE_TYPES = ("default", "llama3", "linear", "yarn")


@dataclass(frozen=True)
class RopeConfig:
    theta: float = 10000.0  # base of the rotary frequencies
    rope_type: str = "default"  # default | llama3 | linear | yarn
    factor: float = 1.0  # llama3 / linear / yarn: how far the context was stretched
    low_freq_factor: float = 1.0  # llama3: wavelengths above original/low are fully scaled
    high_freq_factor: float = 4.0  # llama3: wavelengths below original/high are untouched
    original_max_position_embeddings: int = 8192  # llama3 / yarn: context length before scaling
    attention_factor: float | None = None  # yarn: scale of cos/sin (None: from factor, mscale, mscale_all_dim)
    beta_fast: float = 32.0  # yarn: rotations above which a pair is extrapolated
    beta_slow: float = 1.0  # yarn: rotations below which a pair is interpolated
    mscale: float | None = None  # yarn (DeepSeek form of the attention factor)
    mscale_all_dim: float | None = None
    truncate: bool = True  # yarn: round the correction range to whole pairs


@dataclass(frozen=True)
class ModelConfig:
    model_type: str  # one of SUPPORTED_MODEL_TYPES
    vocab_size: int  # rows of the embedding matrix
    hidden_size: int  # width of the residual stream
    intermediate_size: int  # width of the MLP's hidden layer
    num_hidden_layers: int  # decoder blocks
    num_attention_heads: int  # query heads
    num_key_value_heads: int  # key/value heads (GQA when fewer than query heads)
    head_dim: int  # width of one head (qwen3 sets it explicitly)
    max_position_embeddings: int  # context window
    rms_norm_eps: float = 1e-6  # RMSNorm epsilon
    rope: RopeConfig = field(default_factory=RopeConfig)
    tie_word_embeddings: bool = False  # lm_head shares the embedding matrix
    attention_bias: bool = False  # bias on q/k/v/o projections (llama option)
    qkv_bias: bool = False  # bias on q/k/v only (qwen2)
    mlp_bias: bool = False  # bias on the MLP projections (llama option)
    qk_norm: bool = False  # RMSNorm on each query/key head before rotary (qwen3)
    sliding_window: int | None = None  # attend to at most this many past tokens (mistral)
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = ()

    @property
    def n_rep(self) -> int:
        """How many query heads share one key/value head."""
        return self.num_attention_heads // self.num_key_value_heads

    @classmethod
    def from_dict(cls, raw: dict) -> "ModelConfig":
        model_type = raw.get("model_type")
        if model_type not in SUPPORTED_MODEL_TYPES:
            raise UnsupportedModelError(
                f"model_type {model_type!r} in config.json is not supported; "
                f"supported model types: {', '.join(SUPPORTED_MODEL_TYPES)}"
            )
        hidden_act = raw.get("hidden_act", "silu")
        if hidden_act not in ("silu", "swish"):
            raise UnsupportedModelError(f"hidden_act {hidden_act!r} is not supported; only silu is")
        try:
            hidden = int(raw["hidden_size"])
            heads = int(raw["num_attention_heads"])
            kv_heads = int(raw.get("num_key_value_heads") or heads)
            head_dim = int(raw.get("head_dim") or hidden // heads)
            sliding = None
            if model_type == "mistral":
                sliding = raw.get("sliding_window")
            elif model_type in ("qwen2", "qwen3") and raw.get("use_sliding_window"):
                sliding = raw.get("sliding_window")
                if raw.get("max_window_layers", 0) < raw["num_hidden_layers"]:
                    raise UnsupportedModelError(
                        "qwen sliding-window attention on only some layers is not supported"
                    )
            config = cls(
                model_type=model_type,
                vocab_size=int(raw["vocab_size"]),
                hidden_size=hidden,
                intermediate_size=int(raw["intermediate_size"]),
                num_hidden_layers=int(raw["num_hidden_layers"]),
                num_attention_heads=heads,
                num_key_value_heads=kv_heads,
                head_dim=head_dim,
                max_position_embeddings=int(raw.get("max_position_embeddings", 2048)),
                rms_norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
                rope=_rope_from_dict(raw),
                tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
                attention_bias=bool(raw.get("attention_bias", False)) and model_type != "qwen2",
                qkv_bias=model_type == "qwen2",
                mlp_bias=bool(raw.get("mlp_bias", False)),
                qk_norm=model_type == "qwen3",
                sliding_window=int(sliding) if sliding else None,
                bos_token_id=raw.get("bos_token_id"),
                eos_token_ids=_as_id_tuple(raw.get("eos_token_id")),
            )
        except KeyError as missing:
            raise UnsupportedModelError(f"config.json has no {missing} field, which a {model_type} model needs")
        if heads % kv_heads:
            raise UnsupportedModelError(
                f"num_attention_heads ({heads}) is not a multiple of num_key_value_heads ({kv_heads})"
            )
        return config


def _as_id_tuple(value) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)


def _rope_from_dict(raw: dict) -> RopeConfig:
    params = dict(raw.get("rope_parameters") or {})
    scaling = raw.get("rope_scaling") or {}
    params = {**scaling, **params}
    theta = params.get("rope_theta", raw.get("rope_theta", 10000.0))
    rope_type = params.get("rope_type", params.get("type", "default")) or "default"
    if rope_type not in SUPPORTED_ROPE_TYPES:
        raise UnsupportedModelError(
            f"rope type {rope_type!r} is not supported; supported: {', '.join(SUPPORTED_ROPE_TYPES)}"
        )
    # as transformers: a top-level original_max_position_embeddings wins, else the context window
    original = raw.get("original_max_position_embeddings") or params.get("original_max_position_embeddings") \
        or raw.get("max_position_embeddings", 8192)
    factor = params.get("factor")
    if factor is None:
        factor = raw.get("max_position_embeddings", original) / original if rope_type == "yarn" else 1.0
    optional = {key: float(params[key]) for key in ("attention_factor", "mscale", "mscale_all_dim")
                if params.get(key) is not None}
    return RopeConfig(
        theta=float(theta),
        rope_type=rope_type,
        factor=float(factor),
        low_freq_factor=float(params.get("low_freq_factor", 1.0)),
        high_freq_factor=float(params.get("high_freq_factor", 4.0)),
        original_max_position_embeddings=int(original),
        beta_fast=float(params.get("beta_fast") or 32.0),
        beta_slow=float(params.get("beta_slow") or 1.0),
        truncate=bool(params.get("truncate", True)),
        **optional,
    )


def rope_inverse_frequencies(config: ModelConfig):
    """Per-pair rotary frequencies, with llama3/linear/yarn scaling applied. Returns FloatTensor [head_dim/2]."""
    import torch

    rope = config.rope
    dim = config.head_dim
    inv_freq = 1.0 / (rope.theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))  # (D/2,)
    if rope.rope_type == "linear":
        inv_freq = inv_freq / rope.factor
    elif rope.rope_type == "llama3":
        low_wavelen = rope.original_max_position_embeddings / rope.low_freq_factor
        high_wavelen = rope.original_max_position_embeddings / rope.high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_wavelen, inv_freq / rope.factor, inv_freq)
        smooth = (rope.original_max_position_embeddings / wavelen - rope.low_freq_factor) / (
            rope.high_freq_factor - rope.low_freq_factor
        )
        smoothed = (1 - smooth) * scaled / rope.factor + smooth * scaled
        is_medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        inv_freq = torch.where(is_medium, smoothed, scaled)
    elif rope.rope_type == "yarn":
        inv_freq = _yarn_inverse_frequencies(rope, dim)
    return inv_freq


def rope_attention_factor(config: ModelConfig) -> float:
    """The scale YaRN puts on cos and sin (1.0 for every other rope type)."""
    rope = config.rope
    if rope.rope_type != "yarn":
        return 1.0
    if rope.attention_factor is not None:
        return rope.attention_factor

    def mscale(scale, m=1.0):
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    if rope.mscale and rope.mscale_all_dim:
        return float(mscale(rope.factor, rope.mscale) / mscale(rope.factor, rope.mscale_all_dim))
    return mscale(rope.factor)


def _yarn_inverse_frequencies(rope: RopeConfig, dim: int):
    """YaRN (Peng et al. 2023) as transformers computes it: pairs that turn fast keep their frequency,
    slow ones are interpolated by `factor`, with a linear ramp between."""
    import torch

    def correction_dim(rotations):
        return dim * math.log(rope.original_max_position_embeddings / (rotations * 2 * math.pi)) / (2 * math.log(rope.theta))

    low, high = correction_dim(rope.beta_fast), correction_dim(rope.beta_slow)
    if rope.truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # avoid dividing by zero
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)  # (D/2,)
    extrapolation_share = 1 - ramp
    pos_freqs = rope.theta ** (torch.arange(0, dim, 2).float() / dim)  # (D/2,)
    extrapolated, interpolated = 1.0 / pos_freqs, 1.0 / (rope.factor * pos_freqs)
    return interpolated * (1 - extrapolation_share) + extrapolated * extrapolation_share
