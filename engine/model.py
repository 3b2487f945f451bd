"""The decoder-only Transformer: llama, mistral, qwen2 and qwen3 in one definition.

Module and parameter names follow the Hugging Face checkpoints (`model.layers.0.self_attn.q_proj`),
so a checkpoint's tensor names are the state-dict keys. Two paths: `forward` (prompts, scoring,
attention capture) and `decode` (one token per step through the KV cache, flat, for speed); once
loaded, q/k/v and gate/up of plain layers run as one stacked matmul each (`fuse_projections`).
It knows nothing about files, tokenizers, sampling or quantization (quantization swaps the
nn.Linear projections from outside).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig, rope_attention_factor, rope_inverse_frequencies
from .kv_cache import KVCache


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Hugging Face's RMSNorm arithmetic: normalise in fp32, cast back, then scale."""
    dtype = x.dtype
    x = x.float()
    # sum / n is what mean() computes, without mean's extra casts (a decode step runs 13 norms)
    x = x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) / x.shape[-1] + eps)
    return weight * (x if dtype == torch.float32 else x.to(dtype))


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.weight, self.eps)


def linear(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """module(x), skipping nn.Module's call machinery for a plain nn.Linear (quantized layers are called)."""
    if type(module) is nn.Linear:
        return F.linear(x, module.weight, module.bias)
    return module(x)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """x: (B, T, heads, D); cos, signed_sin: (T, 1, D), signed_sin = [-sin, sin] over the two halves.

    Equal, bit for bit, to Hugging Face's x * cos + rotate_half(x) * sin (rotate_half = [-x2, x1]):
    rolling by half the head gives [x2, x1], and the sign sits in the table instead of a negation."""
    return x * cos + x.roll(x.shape[-1] // 2, dims=-1) * signed_sin


class FusedLinear:
    """Several nn.Linear layers reading the same input, run as one matmul over their stacked weights.

    The layers' own parameters become views into the stacked weight, so names, state dicts and memory
    are unchanged; only plain (unquantized) layers of one dtype and device can be fused."""

    def __init__(self, layers: list[nn.Linear]):
        with torch.no_grad():
            self.weight = torch.cat([layer.weight for layer in layers])  # (sum of out_features, in_features)
            self.bias = torch.cat([layer.bias for layer in layers]) if layers[0].bias is not None else None
            self.sizes = [layer.out_features for layer in layers]
            offset = 0
            for layer, size in zip(layers, self.sizes):
                layer.weight = nn.Parameter(self.weight[offset:offset + size], requires_grad=False)
                if self.bias is not None:
                    layer.bias = nn.Parameter(self.bias[offset:offset + size], requires_grad=False)
                offset += size

    @staticmethod
    def possible(layers: list[nn.Module]) -> bool:
        first = layers[0]
        return all(
            type(layer) is nn.Linear and layer.weight.dtype == first.weight.dtype
            and layer.weight.device == first.weight.device and layer.weight.device.type != "meta"
            and (layer.bias is None) == (first.bias is None)
            for layer in layers
        )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)  # (..., sum of out_features)


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
        self.qkv: FusedLinear | None = None  # set by fuse() once the weights are loaded

    def fuse(self):
        """Run q, k and v as one matmul from now on (a no-op for quantized projections)."""
        layers = [self.q_proj, self.k_proj, self.v_proj]
        if self.qkv is None and FusedLinear.possible(layers):
            self.qkv = FusedLinear(layers)

    def _project(self, x, cos, sin):
        """q (B, T, H, D) and k (B, T, Hkv, D) with positions applied, and v (B, T, Hkv, D)."""
        c = self.config
        B, T, _ = x.shape
        H, Hkv, D = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        if self.qkv is not None and not c.qk_norm:
            qkv = self.qkv(x)  # (B, T, (H + 2*Hkv) * D)
            # q and k share the rotation: turn both with one set of ops
            qk = apply_rotary(qkv[..., :(H + Hkv) * D].view(B, T, H + Hkv, D), cos, sin)  # (B, T, H+Hkv, D)
            return qk[:, :, :H], qk[:, :, H:], qkv[..., (H + Hkv) * D:].view(B, T, Hkv, D)
        if self.qkv is not None:
            q, k, v = self.qkv(x).split(self.qkv.sizes, dim=-1)
        else:
            q, k, v = linear(self.q_proj, x), linear(self.k_proj, x), linear(self.v_proj, x)
        q, k, v = q.view(B, T, H, D), k.view(B, T, Hkv, D), v.view(B, T, Hkv, D)
        if c.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        return apply_rotary(q, cos, sin), apply_rotary(k, cos, sin), v

    def forward(self, x, cos, sin, mask, layer, cache: KVCache | None, start: int, capture: list | None):
        """x (B, T, C) -> (B, T, C). Prompts and scoring; one-token decoding goes through Transformer.decode."""
        c = self.config
        B, T, _ = x.shape
        q, k, v = self._project(x, cos, sin)  # (B, T, heads, D) each
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, heads, T, D)
        if cache is not None:
            k, v = cache.write(layer, start, k, v)  # (B, Hkv, S, D), S = start + T
            if k.shape[0] > B:  # a shared prefix run once (batch 1) into a cache sized for a batch
                k, v = k[:B], v[:B]
        if T == 1 and capture is None and mask is None:
            # One query token sees every cached key: fold each KV head's query heads into the
            # query-length axis so grouped-query attention reads the cache without copying it.
            q = q.reshape(B, c.num_key_value_heads, c.n_rep, c.head_dim)  # (B, Hkv, n_rep, D)
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
        self.gate_up: FusedLinear | None = None  # set by fuse() once the weights are loaded

    def fuse(self):
        """Run gate and up as one matmul from now on (a no-op for quantized projections)."""
        layers = [self.gate_proj, self.up_proj]
        if self.gate_up is None and FusedLinear.possible(layers):
            self.gate_up = FusedLinear(layers)

    def forward(self, x):
        if self.gate_up is not None:
            gate, up = self.gate_up(x).split(self.gate_up.sizes, dim=-1)  # (..., I) each
        else:
            gate, up = linear(self.gate_proj, x), linear(self.up_proj, x)
        return linear(self.down_proj, F.silu(gate) * up)


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

    def fuse_projections(self):
        """Stack q/k/v and gate/up weights so each runs as one matmul (call once the weights are loaded;
        quantized layers stay as they are). Results are unchanged; a decode step makes 18 fewer calls."""
        for layer in self.model.layers:
            layer.self_attn.fuse()
            layer.mlp.fuse()

    def output_weight(self) -> torch.Tensor:
        return self.model.embed_tokens.weight if self.config.tie_word_embeddings else self.lm_head.weight

    def rotary(self, start: int, length: int, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, signed sin (T, 1, D) for positions [start, start+length), from a table grown on demand
        (signed: the first half negated, see apply_rotary)."""
        end = start + length
        table = getattr(self, "_rope_table", None)
        if table is None or table[0].shape[0] < end or table[0].dtype != dtype or table[0].device != self.inv_freq.device:
            size = max(end, 256, 2 * table[0].shape[0] if table is not None else 0)
            positions = torch.arange(size, device=self.inv_freq.device, dtype=torch.float32)
            freqs = torch.outer(positions, self.inv_freq.float())  # (size, D/2)
            scale = rope_attention_factor(self.config)  # 1.0 but for YaRN
            cos, sin = freqs.cos() * scale, freqs.sin() * scale  # (size, D/2)
            cos = torch.cat((cos, cos), dim=-1).to(dtype)  # (size, D)
            signed_sin = torch.cat((-sin, sin), dim=-1).to(dtype)  # (size, D)
            table = self._rope_table = (cos[:, None, :], signed_sin[:, None, :])  # (size, 1, D) each
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
        """cos, signed sin (1, 1, D) and the key mask (1, max_len) for a position held in a tensor (no host sync)."""
        cos_table, sin_table = self._rope_table  # prepared by prepare_static
        cos, sin = cos_table.index_select(0, position), sin_table.index_select(0, position)  # (1, 1, D)
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
        start: int = 0,
        last_only: bool = False,
        capture: list | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, V), or (B, 1, V) with last_only. With a cache, positions start at `start`."""
        B, T = input_ids.shape
        x = self.model.embed_tokens(input_ids)  # (B, T, C)
        cos, sin = self.rotary(start, T, x.dtype)
        mask = self.attention_mask(start, T, x.device)
        if mask is None and capture is not None and T == 1 and start > 0:
            mask = torch.ones(1, start + 1, dtype=torch.bool, device=x.device)
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, mask, i, cache, start, capture)
        x = self.model.norm(x)  # (B, T, C)
        if last_only:
            x = x[:, -1:, :]  # (B, 1, C)
        return self._output(x)

    def decode(self, token_ids: torch.Tensor, cache: KVCache, position: int | torch.Tensor) -> torch.Tensor:
        """One new token per sequence, token_ids (B, 1), at `position` -> logits (B, 1, V).

        The arithmetic of forward() for T = 1 in one flat loop (a decode step is mostly call overhead
        for small models). `position` is an int (attend to the filled cache prefix), or a (1,) device
        tensor for the static step: the whole cache with a key mask, so the step has one fixed shape,
        no Python branching on the position and no host sync (what torch.compile and CUDA graphs need).
        """
        c = self.config
        B = token_ids.shape[0]
        H, Hkv, D = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        x = self.model.embed_tokens(token_ids)  # (B, 1, C)
        static = isinstance(position, torch.Tensor)
        if static:
            cos, sin, mask = self._static_position(position, cache.max_len, x.dtype)  # (1, 1, D), (1, S)
            first = 0
        else:
            cos, sin = self.rotary(position, 1, x.dtype)  # (1, 1, D)
            mask = None
            first = position + 1 - c.sliding_window if c.sliding_window and position >= c.sliding_window else 0
        for i, layer in enumerate(self.model.layers):
            attn = layer.self_attn
            norm = layer.input_layernorm
            q, k, v = attn._project(rms_norm(x, norm.weight, norm.eps), cos, sin)  # (B, 1, H|Hkv, D)
            k, v = k.transpose(1, 2), v.transpose(1, 2)  # (B, Hkv, 1, D)
            if static:
                keys, values = cache.write_at(i, position, k, v)  # (B, Hkv, max_len, D)
            else:
                keys, values = cache.write(i, position, k, v)  # (B|more, Hkv, position+1, D)
                keys, values = keys[:B, :, first:], values[:B, :, first:]  # the sliding window's keys
            # one query sees every allowed key: fold each KV head's query heads into the query axis so
            # grouped-query attention reads the cache without copying it
            q = q.reshape(B, Hkv, c.n_rep, D)  # (B, Hkv, n_rep, D)
            if static:  # written out, so torch.compile fuses the mask and softmax (a masked SDPA call is slower)
                scores = (q @ keys.transpose(-1, -2)) * D ** -0.5  # (B, Hkv, n_rep, S)
                weights = scores.masked_fill(~mask, float("-inf")).softmax(-1, dtype=torch.float32)  # (B, Hkv, n_rep, S)
                y = weights.to(values.dtype) @ values  # (B, Hkv, n_rep, D)
            else:
                y = F.scaled_dot_product_attention(q, keys, values)  # (B, Hkv, n_rep, D)
            x = x + linear(attn.o_proj, y.view(B, 1, H * D))  # (B, 1, C)
            norm = layer.post_attention_layernorm
            x = x + layer.mlp(rms_norm(x, norm.weight, norm.eps))  # (B, 1, C)
        return self._output(rms_norm(x, self.model.norm.weight, self.model.norm.eps))  # (B, 1, V)

    def _output(self, x: torch.Tensor) -> torch.Tensor:
        """Final hidden states (B, T, C) -> logits (B, T, V)."""
        # Project as one 2-D matmul: a sliced 3-D input would send torch down a batched path that
        # copies the whole (V, C) output matrix on every call.
        rows = x.reshape(-1, x.shape[-1])  # (B*T, C)
        if self.config.tie_word_embeddings:
            logits = F.linear(rows, self.model.embed_tokens.weight)  # (B*T, V)
        else:
            logits = linear(self.lm_head, rows)  # (B*T, V)
        return logits.view(x.shape[0], x.shape[1], -1)  # (B, T, V)
