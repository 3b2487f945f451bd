"""The decoder-only Transformer: llama, mistral, qwen2, qwen3, gemma2, gemma3_text, phi3 and gpt2
in one definition, built from the pieces in layers/.

Module and parameter names follow the Hugging Face checkpoints of the Llama family
(`model.layers.0.self_attn.q_proj`), plus Gemma's extra norms and Phi-3's stored fused
`qkv_proj`/`gate_up_proj`; GPT-2's checkpoint names are mapped onto these at load
(hf_names.py). Every call (prompts, scoring, attention capture, the one-token decode step and
the static compiled step) runs the same layers through one loop: `forward` builds a `Span`
(positions, which keys each layer's queries may see, the cache) and each `DecoderLayer` reads it.
Once loaded, q/k/v and gate/up of plain layers run as one stacked matmul each (`fuse_projections`).
It knows nothing about files, tokenizers, sampling or quantization (quantization swaps the
nn.Linear projections from outside).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig, rope_inverse_frequencies
from .kv_cache import KVCache
from .layers.block import DecoderLayer
from .layers.linear import linear
from .layers.norms import make_norm
from .layers.positions import RotaryTables
from .layers.span import Span, key_range, static_key_range


class DecoderStack(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        if config.positions == "learned":
            self.embed_positions = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = make_norm(config)


class Transformer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.model = DecoderStack(config)
        if not config.tie_word_embeddings:
            self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.register_buffer("inv_freq", rope_inverse_frequencies(config), persistent=False)
        self.rotary_tables = RotaryTables(config)
        self.windows = sorted({config.window_of(i) for i in range(config.num_hidden_layers)},
                              key=lambda w: -1 if w is None else w)  # the sliding windows in use (None: full)
        self.rope_kinds = sorted({config.rope_kind_of(i) for i in range(config.num_hidden_layers)} - {None})
        # LongRoPE picks its factors by the length a sequence has reached (see reencodes)
        self.switches_rope = config.positions == "rope" and config.rope.rope_type == "longrope"
        self._embed_scale: dict[torch.dtype, float] = {}  # Gemma's embedding scale, rounded per dtype
        # a callable in place of the output matmul (rows (N, C) -> logits (N, V) in the compute dtype), set
        # by loaders that keep the head in another dtype (int4 models: a bf16 copy); None = the weight itself
        self.output_head = None

    def fuse_projections(self):
        """Stack q/k/v and gate/up weights so each runs as one matmul (call once the weights are loaded;
        quantized layers stay as they are). Results are unchanged; a decode step makes 18 fewer calls."""
        for layer in self.model.layers:
            layer.self_attn.fuse()
            layer.mlp.fuse()

    def output_weight(self) -> torch.Tensor:
        return self.model.embed_tokens.weight if self.config.tie_word_embeddings else self.lm_head.weight

    def prepare_static(self, max_len: int, dtype):
        """Build the tables a static decode step reads, so the step itself has no Python-side branching."""
        self.rotary_tables.prepare(self.rope_kinds, max_len, dtype, self.inv_freq)
        self._key_positions = torch.arange(max_len, device=self.inv_freq.device)

    def span(self, start: int | torch.Tensor, length: int, cache: KVCache | None, capture: list | None,
             dtype, device) -> Span:
        """What every layer needs to know about `length` tokens from `start` (an int, or a (1,) tensor
        for the static step over the whole cache)."""
        if isinstance(start, torch.Tensor):
            rotary = {kind: self.rotary_tables.at_position(kind, start) for kind in self.rope_kinds}  # (1, 1, R)
            keys = {w: static_key_range(start, self._key_positions[:cache.max_len], w) for w in self.windows}
        else:
            end = start + length
            rotary = {kind: self.rotary_tables.span(self.rotary_tables.kind_at(kind, end), start, length, dtype,
                                                    self.inv_freq) for kind in self.rope_kinds}  # (T, 1, R)
            # kept attention weights are written out in full, so they need every mask spelled out
            keys = {w: key_range(start, length, w, device, explicit=capture is not None) for w in self.windows}
        return Span(start, length, cache, rotary, keys, capture)

    def embed(self, input_ids: torch.Tensor, start: int | torch.Tensor) -> torch.Tensor:
        """Token ids (B, T) -> input hidden states (B, T, C): embeddings, scaled (Gemma) or plus learned
        absolute positions (GPT-2)."""
        x = self.model.embed_tokens(input_ids)  # (B, T, C)
        c = self.config
        if c.embedding_scale is not None:
            if x.dtype not in self._embed_scale:
                # as transformers: the fp32 scale rounded to the weights' dtype (sqrt(3072) becomes 55.5 in bf16)
                self._embed_scale[x.dtype] = float(torch.tensor(c.embedding_scale, dtype=torch.float32).to(x.dtype))
            x = x * self._embed_scale[x.dtype]
        if c.positions == "learned":
            table = self.model.embed_positions.weight  # (P, C)
            if isinstance(start, torch.Tensor):
                x = x + table.index_select(0, start)  # (1, C) broadcast over (B, 1, C)
            else:
                x = x + table[start:start + input_ids.shape[1]]  # (T, C)
        return x

    def reencodes(self, start: int, length: int, cache: KVCache | None) -> bool:
        """Whether a call for [start, start + length) first computes the cached prefix again.

        LongRoPE uses its short factors while a sequence fits original_max_position_embeddings and its
        long ones for the whole sequence once it is longer; as transformers' Phi-3 does, the prefix is
        then computed again (once, at the crossing), so every step equals a full forward of the
        sequence so far. The static step cannot branch on this: its caller runs that step eagerly."""
        if not self.switches_rope or cache is None or start == 0:
            return False
        return cache.long_rope != (start + length > self.config.rope.original_max_position_embeddings)

    def forward(
        self,
        input_ids: torch.Tensor,  # (B, T)
        cache: KVCache | None = None,
        start: int | torch.Tensor = 0,
        last_only: bool = False,
        capture: list | None = None,
        residuals: list | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, V), or (B, 1, V) with last_only. With a cache, positions start at `start`.
        residuals: the residual stream (B, T, C) is appended after the embeddings and after each layer
        (before the final norm), for the logit lens (engine/inside/lens.py)."""
        B, T = input_ids.shape
        prefix = 0  # cached positions computed again in front of input_ids (LongRoPE crossing, see reencodes)
        if cache is not None and self.switches_rope:
            if not isinstance(start, torch.Tensor):
                if self.reencodes(start, T, cache):
                    input_ids = torch.cat((cache.ids[:B, :start].expand(B, -1), input_ids), dim=1)  # (B, start+T)
                    prefix, start = start, 0
                cache.long_rope = start + input_ids.shape[1] > self.config.rope.original_max_position_embeddings
            cache.record_ids(start, input_ids)
        x = self.embed(input_ids, start)  # (B, prefix+T, C)
        span = self.span(start, input_ids.shape[1], cache, capture, x.dtype, x.device)
        if residuals is not None:
            residuals.append(x[:, prefix:])
        for layer in self.model.layers:
            x = layer(x, span)  # (B, prefix+T, C)
            if residuals is not None:
                residuals.append(x[:, prefix:])
        x = self.model.norm(x[:, prefix:])  # (B, T, C)
        if last_only:
            x = x[:, -1:, :]  # (B, 1, C)
        return self._output(x)

    def decode(self, token_ids: torch.Tensor, cache: KVCache, position: int | torch.Tensor) -> torch.Tensor:
        """One new token per sequence, token_ids (B, 1), at `position` -> logits (B, 1, V).

        The same layers as forward. `position` is an int (attend to the filled cache prefix), or a (1,)
        device tensor for the static step: the whole cache with a key mask, so the step has one fixed
        shape, no Python branching on the position and no host sync (what torch.compile and CUDA graphs need).
        """
        return self.forward(token_ids, cache=cache, start=position)

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        """A residual stream (B, T, C) -> logits (B, T, V) through the final norm and the output head
        (what forward does after its last layer; the logit lens applies it after every layer)."""
        return self._output(self.model.norm(x))

    def _output(self, x: torch.Tensor) -> torch.Tensor:
        """Final hidden states (B, T, C) -> logits (B, T, V)."""
        # Project as one 2-D matmul: a sliced 3-D input would send torch down a batched path that
        # copies the whole (V, C) output matrix on every call.
        rows = x.reshape(-1, x.shape[-1])  # (B*T, C)
        if self.output_head is not None:
            logits = self.output_head(rows)  # (B*T, V)
        elif self.config.tie_word_embeddings:
            logits = F.linear(rows, self.model.embed_tokens.weight)  # (B*T, V)
        else:
            logits = linear(self.lm_head, rows)  # (B*T, V)
        cap = self.config.final_logit_softcap
        if cap is not None:
            logits = torch.tanh(logits / cap) * cap  # Gemma 2: logits bounded to (-cap, cap)
        return logits.view(x.shape[0], x.shape[1], -1)  # (B, T, V)
