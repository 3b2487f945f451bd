"""Model configuration read from a checkpoint's `config.json`.

`ModelConfig` is one dataclass for every supported decoder-only architecture (llama, mistral,
qwen2, qwen3, gemma2, gemma3_text, phi3, gpt2): the shared sizes plus the switches that tell the
families apart (norm kind, learned or rotary positions, soft-capping, per-layer sliding windows,
fused checkpoint projections). What each model_type's fields mean is in architectures.py; the
rope settings in rope.py. It does not read weights or tokenizers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .architectures import SUPPORTED_MODEL_TYPES, read_fields
from .errors import UnsupportedModelError
from .rope import SUPPORTED_ROPE_TYPES, RopeConfig, attention_factor, check_rope, inverse_frequencies

__all__ = ["ModelConfig", "RopeConfig", "SUPPORTED_MODEL_TYPES", "SUPPORTED_ROPE_TYPES", "SUPPORTED_ACTIVATIONS",
           "rope_inverse_frequencies", "rope_attention_factor"]

SUPPORTED_ACTIVATIONS = ("silu", "swish", "gelu_pytorch_tanh", "gelu_new", "gelu", "relu")
LAYER_TYPES = ("full_attention", "sliding_attention")


@dataclass(frozen=True)
class ModelConfig:
    model_type: str  # one of SUPPORTED_MODEL_TYPES
    vocab_size: int  # rows of the embedding matrix
    hidden_size: int  # width of the residual stream
    intermediate_size: int  # width of the MLP's hidden layer
    num_hidden_layers: int  # decoder blocks
    num_attention_heads: int  # query heads
    num_key_value_heads: int  # key/value heads (GQA when fewer than query heads)
    head_dim: int  # width of one head (qwen3 and gemma set it explicitly)
    max_position_embeddings: int  # context window
    rms_norm_eps: float = 1e-6  # epsilon of every norm (RMSNorm, or LayerNorm for gpt2)
    rope: RopeConfig = field(default_factory=RopeConfig)  # rotary of global (full-attention) layers
    tie_word_embeddings: bool = False  # lm_head shares the embedding matrix
    attention_bias: bool = False  # bias on q/k/v/o projections (llama option, gpt2)
    qkv_bias: bool = False  # bias on q/k/v only (qwen2)
    mlp_bias: bool = False  # bias on the MLP projections (llama option, gpt2)
    qk_norm: bool = False  # a norm on each query/key head before rotary (qwen3, gemma3)
    sliding_window: int | None = None  # sliding layers attend to at most this many past tokens
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = ()
    hidden_act: str = "silu"  # MLP activation, one of SUPPORTED_ACTIVATIONS
    gated_mlp: bool = True  # down(act(gate(x)) * up(x)); False: down(act(up(x))) (gpt2)
    fused_qkv: bool = False  # the checkpoint stores q/k/v as one qkv_proj (phi3, gpt2)
    fused_gate_up: bool = False  # the checkpoint stores gate/up as one gate_up_proj (phi3)
    norm: str = "rms"  # rms | rms_unit_offset (gemma: scale by 1 + weight) | layer (LayerNorm with bias, gpt2)
    sandwich_norms: bool = False  # gemma: norms after attention and MLP as well as before
    embedding_scale: float | None = None  # gemma: embeddings times sqrt(hidden_size)
    positions: str = "rope"  # rope | learned (absolute position embeddings, gpt2)
    partial_rotary_factor: float = 1.0  # share of each head that rotates (Phi-4-mini: 0.75)
    attention_scale: float | None = None  # scores times this (None: 1/sqrt(head_dim)); gemma: query_pre_attn_scalar**-0.5
    scale_attention_by_layer: bool = False  # gpt2 option: scores also divided by layer index + 1
    attention_upcast: bool = False  # gpt2 option (reorder_and_upcast_attn): attention in fp32
    attn_logit_softcap: float | None = None  # gemma2: scores = cap * tanh(scores / cap)
    final_logit_softcap: float | None = None  # gemma2: logits = cap * tanh(logits / cap)
    layer_types: tuple[str, ...] = ()  # per layer: full_attention | sliding_attention (empty: all sliding if a window)
    local_rope: RopeConfig | None = None  # gemma3: rotary of the sliding layers

    @property
    def n_rep(self) -> int:
        """How many query heads share one key/value head."""
        return self.num_attention_heads // self.num_key_value_heads

    @property
    def rotary_dim(self) -> int:
        """Dimensions of each head that rotate (the whole head but for partial rotary)."""
        return int(self.head_dim * self.partial_rotary_factor)

    def window_of(self, layer: int) -> int | None:
        """The sliding window of that layer, or None for full attention."""
        if self.layer_types:
            return self.sliding_window if self.layer_types[layer] == "sliding_attention" else None
        return self.sliding_window

    def rope_kind_of(self, layer: int) -> str | None:
        """Which rotary table that layer reads: global, local (gemma3's sliding layers), or None (learned positions)."""
        if self.positions != "rope":
            return None
        if self.local_rope is not None and self.window_of(layer) is not None:
            return "local"
        return "global"

    def attention_scale_of(self, layer: int) -> float | None:
        """Score scale of that layer (None: SDPA's default 1/sqrt(head_dim))."""
        if not self.scale_attention_by_layer:
            return self.attention_scale
        base = self.head_dim ** -0.5 if self.attention_scale is None else self.attention_scale
        return base / float(layer + 1)

    @classmethod
    def from_dict(cls, raw: dict) -> "ModelConfig":
        model_type = raw.get("model_type")
        config = cls(**read_fields(model_type, raw))
        config.validate()
        return config

    def validate(self):
        """Refuse, by name, a combination the engine cannot run exactly."""
        if self.num_attention_heads % self.num_key_value_heads:
            raise UnsupportedModelError(
                f"num_attention_heads ({self.num_attention_heads}) is not a multiple of num_key_value_heads "
                f"({self.num_key_value_heads})"
            )
        if self.hidden_act not in SUPPORTED_ACTIVATIONS:
            raise UnsupportedModelError(f"activation {self.hidden_act!r} is not supported; supported: "
                                        f"{', '.join(SUPPORTED_ACTIVATIONS)}")
        if self.layer_types:
            unknown = sorted(set(self.layer_types) - set(LAYER_TYPES))
            if unknown:
                raise UnsupportedModelError(f"layer type {unknown[0]!r} in layer_types is not supported; "
                                            f"supported: {', '.join(LAYER_TYPES)}")
            if len(self.layer_types) != self.num_hidden_layers:
                raise UnsupportedModelError(f"layer_types names {len(self.layer_types)} layers but the model has "
                                            f"{self.num_hidden_layers}; fix the config.json")
            if "sliding_attention" in self.layer_types and not self.sliding_window:
                raise UnsupportedModelError("layer_types has sliding_attention layers but sliding_window is not set")
        rotary = self.rotary_dim
        if self.positions == "rope" and (rotary <= 0 or rotary % 2 or rotary > self.head_dim):
            raise UnsupportedModelError(f"partial_rotary_factor {self.partial_rotary_factor} rotates {rotary} of "
                                        f"{self.head_dim} head dimensions; it must be an even number up to the head size")
        if self.positions == "rope":
            check_rope(self.rope, rotary)
        if self.local_rope is not None:
            check_rope(self.local_rope, rotary)


def rope_inverse_frequencies(config: ModelConfig):
    """Per-pair rotary frequencies of the global layers (LongRoPE: its short factors): FloatTensor [rotary_dim/2]."""
    return inverse_frequencies(config.rope, config.rotary_dim)


def rope_attention_factor(config: ModelConfig) -> float:
    """The scale YaRN and LongRoPE put on cos and sin (1.0 for every other rope type)."""
    return attention_factor(config.rope)
