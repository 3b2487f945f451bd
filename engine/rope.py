"""Rotary position embedding settings and frequencies, as transformers computes them.

`RopeConfig` holds one rope (base, scaling type and its parameters) read from a config.json's
`rope_theta`/`rope_scaling` (transformers 4.x) or `rope_parameters` (5.x) spelling;
`inverse_frequencies` and `attention_factor` turn it into per-pair frequencies and the scale
on cos/sin. Scalings: default, linear, llama3, yarn, longrope (Phi-3's short/long factors).
It builds no tables (see layers/positions.py) and reads no files.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import UnsupportedModelError

SUPPORTED_ROPE_TYPES = ("default", "llama3", "linear", "yarn", "longrope")


@dataclass(frozen=True)
class RopeConfig:
    theta: float = 10000.0  # base of the rotary frequencies
    rope_type: str = "default"  # one of SUPPORTED_ROPE_TYPES
    factor: float = 1.0  # llama3 / linear / yarn / longrope: how far the context was stretched
    low_freq_factor: float = 1.0  # llama3: wavelengths above original/low are fully scaled
    high_freq_factor: float = 4.0  # llama3: wavelengths below original/high are untouched
    original_max_position_embeddings: int = 8192  # llama3 / yarn / longrope: context length before scaling
    attention_factor: float | None = None  # yarn / longrope: scale of cos/sin (None: derived from factor)
    beta_fast: float = 32.0  # yarn: rotations above which a pair is extrapolated
    beta_slow: float = 1.0  # yarn: rotations below which a pair is interpolated
    mscale: float | None = None  # yarn (DeepSeek form of the attention factor)
    mscale_all_dim: float | None = None
    truncate: bool = True  # yarn: round the correction range to whole pairs
    short_factor: tuple[float, ...] = ()  # longrope: per-pair divisors up to the original context
    long_factor: tuple[float, ...] = ()  # longrope: per-pair divisors past it


def rope_from_dict(raw: dict, params: dict | None = None, theta_default: float = 10000.0) -> RopeConfig:
    """One rope from a config.json dict; `params` (a nested per-layer-kind entry) wins over the top level."""
    if params is None:
        params = {**(raw.get("rope_scaling") or {}), **(raw.get("rope_parameters") or {})}
    theta = params.get("rope_theta", raw.get("rope_theta", theta_default))
    rope_type = params.get("rope_type", params.get("type", "default")) or "default"
    if rope_type not in SUPPORTED_ROPE_TYPES:
        raise UnsupportedModelError(
            f"rope type {rope_type!r} is not supported; supported: {', '.join(SUPPORTED_ROPE_TYPES)}"
        )
    context = raw.get("max_position_embeddings", 8192)
    # as transformers: a top-level original_max_position_embeddings wins, else the context window
    original = raw.get("original_max_position_embeddings") or params.get("original_max_position_embeddings") \
        or context
    factor = params.get("factor")
    if factor is None:
        factor = context / original if rope_type in ("yarn", "longrope") else 1.0
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
        short_factor=tuple(float(v) for v in params.get("short_factor") or ()),
        long_factor=tuple(float(v) for v in params.get("long_factor") or ()),
        **optional,
    )


def check_rope(rope: RopeConfig, rotary_dim: int):
    """Refuse a LongRoPE whose factor lists do not cover the rotated pairs."""
    if rope.rope_type != "longrope":
        return
    for name in ("short_factor", "long_factor"):
        values = getattr(rope, name)
        if len(values) != rotary_dim // 2:
            raise UnsupportedModelError(
                f"longrope {name} has {len(values)} values but the heads rotate {rotary_dim // 2} pairs; "
                "the config.json's rope_scaling does not belong to this model"
            )


def inverse_frequencies(rope: RopeConfig, dim: int, long: bool = False):
    """Per-pair rotary frequencies over `dim` rotated dimensions, scaling applied: FloatTensor (dim/2,).
    long: LongRoPE's long factors (else its short ones)."""
    import torch

    if rope.rope_type == "longrope":
        factors = torch.tensor(rope.long_factor if long else rope.short_factor, dtype=torch.float32)  # (D/2,)
        return 1.0 / (factors * rope.theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
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


def attention_factor(rope: RopeConfig) -> float:
    """The scale YaRN and LongRoPE put on cos and sin (1.0 for every other rope type)."""
    if rope.rope_type == "longrope":
        if rope.attention_factor is not None:
            return rope.attention_factor
        if rope.factor <= 1.0:
            return 1.0
        return math.sqrt(1 + math.log(rope.factor) / math.log(rope.original_max_position_embeddings))
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
