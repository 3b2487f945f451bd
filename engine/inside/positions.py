"""How this model knows word order, and what it does with it.

- Rotary models (Llama, Qwen, Mistral, Gemma, Phi-3): each pair of dimensions in a head turns
  by position x frequency; `position_info` gives the frequency and wavelength (in tokens) of
  every pair as the model uses them (scaling applied, or the file's own table), next to the
  unscaled ones, and the scaling's name and factor.
- Learned absolute positions (GPT-2): a vector per position added to the embedding;
  `learned_position_similarity` gives their cosine similarity matrix.
- Either way, `attention_by_distance` measures, from attention weights, how much each head
  attends to tokens d positions back.
It runs no forward pass itself (attention weights come from `Model.attention`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from ..errors import EngineError
from ..rope import attention_factor, inverse_frequencies


@dataclass(frozen=True)
class PositionInfo:
    kind: str  # "rope" or "learned"
    head_dim: int
    rotary_dim: int  # dimensions of each head that rotate (0 for learned positions)
    rope_type: str = ""  # default | linear | llama3 | yarn | longrope
    theta: float = 0.0  # base of the frequencies
    factor: float = 1.0  # how far the context was stretched by the scaling
    cos_sin_scale: float = 1.0  # YaRN/LongRoPE's attention factor on cos and sin
    original_context: int = 0  # context before scaling (llama3, yarn, longrope)
    context: int = 0  # the model's context window
    inv_freq: tuple[float, ...] = ()  # radians per token of each pair, as the model uses them
    base_inv_freq: tuple[float, ...] = ()  # the same without scaling (theta only)
    local_inv_freq: tuple[float, ...] = ()  # Gemma 3's sliding layers use their own rope
    learned_positions: int = 0  # rows of a learned position table

    @property
    def wavelengths(self) -> tuple[float, ...]:
        """Tokens for each pair to turn a full circle (2 pi / frequency)."""
        return tuple(2 * math.pi / f if f > 0 else math.inf for f in self.inv_freq)

    @property
    def base_wavelengths(self) -> tuple[float, ...]:
        return tuple(2 * math.pi / f if f > 0 else math.inf for f in self.base_inv_freq)

    @property
    def scaled(self) -> bool:
        return self.kind == "rope" and self.rope_type != "default"


def position_info(model) -> PositionInfo:
    c = model.config
    if c.positions == "learned":
        table = learned_position_table(model)
        return PositionInfo("learned", c.head_dim, 0, context=c.max_position_embeddings,
                            learned_positions=table.shape[0])
    rope = c.rope
    used = model.network.inv_freq.float().cpu()  # what the loader set (a GGUF file may store its own)
    base = inverse_frequencies(replace(rope, rope_type="default"), c.rotary_dim)
    local = inverse_frequencies(c.local_rope, c.rotary_dim).tolist() if c.local_rope is not None else []
    return PositionInfo(
        "rope", c.head_dim, c.rotary_dim, rope.rope_type, rope.theta, rope.factor, attention_factor(rope),
        rope.original_max_position_embeddings, c.max_position_embeddings,
        tuple(used.tolist()), tuple(base.tolist()), tuple(local))


def learned_position_table(model) -> torch.Tensor:
    """The learned absolute position embeddings (P, C) of a GPT-2-style model."""
    stack = model.network.model
    if model.config.positions != "learned" or not hasattr(stack, "embed_positions"):
        raise EngineError(f"this {model.config.model_type} model has no learned position embeddings; "
                          "it encodes positions by rotating queries and keys (rotary)")
    return stack.embed_positions.weight


@torch.inference_mode()
def learned_position_similarity(model, positions: int = 128) -> torch.Tensor:
    """Cosine similarity of the first `positions` learned position vectors: FloatTensor (P, P)."""
    table = learned_position_table(model)[:positions].float()  # (P, C)
    unit = table / table.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return (unit @ unit.T).cpu()  # (P, P)


def attention_by_distance(weights: torch.Tensor, max_distance: int | None = None,
                          skip_first: bool = False) -> torch.Tensor:
    """weights (L, H, T, T) attention probabilities -> (L, H, D): for each distance d = 0 .. D-1, the
    mean weight a query puts on the token d positions before it (over the queries that have one).
    skip_first: leave out the first token as a key, so a head that parks its attention there (a
    first-token sink, see heads.py) does not show up as attending "far back"."""
    if weights.dim() != 4 or weights.shape[-1] != weights.shape[-2]:
        raise EngineError("attention weights must be (layers, heads, T, T)")
    T = weights.shape[-1]
    first = 1 if skip_first else 0
    D = T - first if max_distance is None else max(1, min(max_distance, T - first))
    rows = []
    for d in range(D):
        diagonal = torch.diagonal(weights, offset=-d, dim1=-2, dim2=-1).float()  # (L, H, T-d): keys 0 .. T-d-1
        rows.append(diagonal[..., first:].mean(-1))  # (L, H)
    return torch.stack(rows, dim=-1)  # (L, H, D)
