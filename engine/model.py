"""The decoder-only Transformer: llama, mistral, qwen2 and qwen3 in one definition.

Module and parameter names follow the Hugging Face checkpoints (`model.layers.0.self_attn.q_proj`),
so a checkpoint's tensor names are the state-dict keys. It knows nothing about files,
tokenizers, sampling or quantization (quantization swaps the nn.Linear projections from outside).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig, rope_inverse_frequencies
from .kv_cache import KVCache


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: (B, H, T, D); cos, sin: (T, D)."""
    return x * cos + rotate_half(x) * sin


class Attention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        qkv_bias = c.attention_bias or c.qkv_bias
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * c.head_dim, bias=qkv_bias)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=qkv_bias)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=qkv_bias)
        self.o_proj = nn.Linear(c.num_attention_heads * c.head_dim, c.hidden_size, bias=c.attention_bias)
        if c.qk_norm:
            self.q_norm = RMSNorm(c.head_dim, c.rms_norm_eps)
            self.k_norm = RMSNorm(c.head_dim, c.rms_norm_eps)

    def forward(self, x, cos, sin, mask, layer, cache: KVCache | None, start: int, capture: list | None):
        c = self.config
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, c.num_attention_heads, c.head_dim)  # (B, T, H, D)
        k = self.k_proj(x).view(B, T, c.num_key_value_heads, c.head_dim)  # (B, T, Hkv, D)
        v = self.v_proj(x).view(B, T, c.num_key_value_heads, c.head_dim)  # (B, T, Hkv, D)
        if c.qk_norm:
            q = self.q_norm(q)
            k = self.k_norm(k)
        q = apply_rotary(q.transpose(1, 2), cos, sin)  # (B, H, T, D)
        k = apply_rotary(k.transpose(1, 2), cos, sin)  # (B, Hkv, T, D)
        v = v.transpose(1, 2)  # (B, Hkv, T, D)
        if isinstance(start, torch.Tensor):  # static decode: a position tensor, the whole cache, a key mask
            k, v = cache.write_at(layer, start, k, v)  # (B, Hkv, max_len, D)
            q = q.view(B, c.num_key_value_heads, c.n_rep, c.head_dim)  # (B, Hkv, n_rep, D)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, Hkv, n_rep, D)
            return self.o_proj(y.reshape(B, 1, c.num_attention_heads * c.head_dim))
        if cache is not None:
            k, v = cache.write(layer, start, k, v)  # (B, Hkv, S, D), S = start + T
            if k.shape[0] > B:  # a shared prefix run once (batch 1) into a cache sized for a batch
                k, v = k[:B], v[:B]
        if T == 1 and capture is None and mask is None:
            # One query token sees every cached key: fold each KV head's query heads into the
            # query-length axis so grouped-query attention reads the cache without copying it.
            q = q.view(B, c.num_key_value_heads, c.n_rep, c.head_dim)  # (B, Hkv, n_rep, D)
            y = F.scaled_dot_product_attention(q, k, v)  # (B, Hkv, n_rep, D)
            y = y.reshape(B, 1, c.num_attention_heads * c.head_dim)  # (B, 1, H*D)
            return self.o_proj(y)
        if c.n_rep > 1:
            k = k.repeat_interleave(c.n_rep, dim=1)  # (B, H, S, D)
            v = v.repeat_interleave(c.n_rep, dim=1)  # (B, H, S, D)
        if capture is not None:
            y = self._explicit_attention(q, k, v, mask, capture)
        elif mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)  # (B, H, T, D)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, T, D)
        y = y.transpose(1, 2).reshape(B, T, c.num_attention_heads * c.head_dim)  # (B, T, H*D)
        return self.o_proj(y)

    def _explicit_attention(self, q, k, v, mask, capture: list):
        """Softmax(QK^T/sqrt(d)) written out, so the weights can be kept. Used only by Model.attention()."""
        T, S = q.shape[2], k.shape[2]
        scores = (q.float() @ k.float().transpose(-1, -2)) / (q.shape[-1] ** 0.5)  # (B, H, T, S)
        if mask is None:
            mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T)
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=-1)  # (B, H, T, S)
        capture.append(weights)
        return (weights @ v.float()).to(v.dtype)  # (B, H, T, D)


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        c = config
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=c.mlp_bias)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=c.mlp_bias)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=c.mlp_bias)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.self_attn = Attention(config)
        self.mlp = MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, x, cos, sin, mask, layer, cache, start, capture):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, layer, cache, start, capture)
        return x + self.mlp(self.post_attention_layernorm(x))


class DecoderStack(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)


class Transformer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.model = DecoderStack(config)
        if not config.tie_word_embeddings:
            self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.register_buffer("inv_freq", rope_inverse_frequencies(config), persistent=False)

    def output_weight(self) -> torch.Tensor:
        return self.model.embed_tokens.weight if self.config.tie_word_embeddings else self.lm_head.weight

    def rotary(self, start: int, length: int, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin (T, D) for positions [start, start+length), from a table grown on demand."""
        end = start + length
        table = getattr(self, "_rope_table", None)
        if table is None or table[0].shape[0] < end or table[0].dtype != dtype or table[0].device != self.inv_freq.device:
            size = max(end, 256, 2 * table[0].shape[0] if table is not None else 0)
            positions = torch.arange(size, device=self.inv_freq.device, dtype=torch.float32)
            freqs = torch.outer(positions, self.inv_freq.float())  # (size, D/2)
            angles = torch.cat((freqs, freqs), dim=-1)  # (size, D)
            table = self._rope_table = (angles.cos().to(dtype), angles.sin().to(dtype))
        return table[0][start:end], table[1][start:end]

    def attention_mask(self, start: int, length: int, device) -> torch.Tensor | None:
        """Boolean (T, S) mask of allowed keys, or None when plain causal attention is exact."""
        window = self.config.sliding_window
        end = start + length
        if (start == 0 or length == 1) and (window is None or end <= window):
            return None  # causal from 0 (is_causal) or a single query that sees everything
        query_pos = torch.arange(start, end, device=device)[:, None]  # (T, 1)
        key_pos = torch.arange(0, end, device=device)[None, :]  # (1, S)
        mask = key_pos <= query_pos
        if window is not None:
            mask &= key_pos > query_pos - window
        return mask  # (T, S)

    def _static_position(self, position: torch.Tensor, max_len: int, dtype):
        """cos, sin (1, D) and the key mask (1, max_len) for a position held in a tensor (no host sync)."""
        cos_table, sin_table = self._rope_table  # prepared by prepare_static
        cos, sin = cos_table.index_select(0, position), sin_table.index_select(0, position)  # (1, D)
        key_pos = self._key_positions[:max_len]  # (S,)
        mask = key_pos <= position
        if self.config.sliding_window is not None:
            mask = mask & (key_pos > position - self.config.sliding_window)
        return cos, sin, mask[None, :]  # (1, S)

    def prepare_static(self, max_len: int, dtype):
        """Build the tables a static decode step reads, so the step itself has no Python-side branching."""
        self.rotary(0, max_len, dtype)
        self._key_positions = torch.arange(max_len, device=self.inv_freq.device)

    def forward(
        self,
        input_ids: torch.Tensor,  # (B, T)
        cache: KVCache | None = None,
        start: int | torch.Tensor = 0,  # a (1,) tensor means one static decode step over the whole cache
        last_only: bool = False,
        capture: list | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, V), or (B, 1, V) with last_only. With a cache, positions start at `start`."""
        B, T = input_ids.shape
        x = self.model.embed_tokens(input_ids)  # (B, T, C)
        if isinstance(start, torch.Tensor):  # static decode step (see decode_static)
            cos, sin, mask = self._static_position(start, cache.max_len, x.dtype)
        else:
            cos, sin = self.rotary(start, T, x.dtype)
            mask = self.attention_mask(start, T, x.device)
        if mask is None and capture is not None and T == 1 and start > 0:
            mask = torch.ones(1, start + 1, dtype=torch.bool, device=x.device)
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, mask, i, cache, start, capture)
        x = self.model.norm(x)  # (B, T, C)
        if last_only:
            x = x[:, -1:, :]  # (B, 1, C)
        # Project as one 2-D matmul: a sliced 3-D input would send torch down a batched path that
        # copies the whole (V, C) output matrix on every call.
        rows = x.reshape(-1, x.shape[-1])  # (B*T, C)
        if self.config.tie_word_embeddings:
            logits = F.linear(rows, self.model.embed_tokens.weight)  # (B*T, V)
        else:
            logits = self.lm_head(rows)  # (B*T, V)
        return logits.view(x.shape[0], x.shape[1], -1)  # (B, T, V)
