"""What each supported model_type's config.json means, as `ModelConfig` fields.

One reader per family, written against transformers' own configuration classes (their field
names and defaults, in both the 4.x and 5.x spellings): the Llama family (llama, mistral, qwen2,
qwen3), Gemma 2, Gemma 3 (text), Phi-3 and GPT-2. A setting the engine cannot run exactly is
refused here by name. It builds no network and reads no files.
"""
from __future__ import annotations

from .errors import UnsupportedModelError
from .rope import RopeConfig, rope_from_dict

LLAMA_FAMILY = ("llama", "mistral", "qwen2", "qwen3")
SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3", "gpt2")


def read_fields(model_type, raw: dict) -> dict:
    reader = _READERS.get(model_type)
    if reader is None:
        hint = ""
        if model_type == "gemma3":
            hint = (" (Gemma 3 with its vision tower, 4B and up); the text-only Gemma 3 checkpoints "
                    "(model_type gemma3_text: 270M, 1B) are supported")
        raise UnsupportedModelError(
            f"model_type {model_type!r} in config.json is not supported{hint}; "
            f"supported model types: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    try:
        return reader(raw)
    except KeyError as missing:
        raise UnsupportedModelError(f"config.json has no {missing} field, which a {model_type} model needs")


def _common(raw: dict, head_dim_default: int | None = None, eps_default: float = 1e-6,
            tie_default: bool = False) -> dict:
    """The fields every Llama-like config.json spells the same way."""
    hidden = int(raw["hidden_size"])
    heads = int(raw["num_attention_heads"])
    return dict(
        model_type=raw["model_type"],
        vocab_size=int(raw["vocab_size"]),
        hidden_size=hidden,
        intermediate_size=int(raw["intermediate_size"]),
        num_hidden_layers=int(raw["num_hidden_layers"]),
        num_attention_heads=heads,
        num_key_value_heads=int(raw.get("num_key_value_heads") or heads),
        head_dim=int(raw.get("head_dim") or head_dim_default or hidden // heads),
        max_position_embeddings=int(raw.get("max_position_embeddings", 2048)),
        rms_norm_eps=float(raw.get("rms_norm_eps") or eps_default),
        tie_word_embeddings=bool(raw.get("tie_word_embeddings", tie_default)),
        bos_token_id=raw.get("bos_token_id"),
        eos_token_ids=_as_id_tuple(raw.get("eos_token_id")),
    )


def _llama_family(raw: dict) -> dict:
    model_type = raw["model_type"]
    fields = _common(raw)
    layers = fields["num_hidden_layers"]
    sliding, layer_types = None, ()
    if model_type == "mistral" and raw.get("sliding_window"):
        sliding = int(raw["sliding_window"])
    elif model_type in ("qwen2", "qwen3") and raw.get("use_sliding_window") and raw.get("sliding_window"):
        sliding = int(raw["sliding_window"])
        # as transformers: the layers from max_window_layers on use the window, the first ones attend fully
        first = int(raw.get("max_window_layers", 28))
        layer_types = tuple(raw.get("layer_types") or (
            "sliding_attention" if i >= first else "full_attention" for i in range(layers)))
    fields.update(
        rope=rope_from_dict(raw),
        hidden_act=raw.get("hidden_act", "silu"),
        attention_bias=bool(raw.get("attention_bias", False)) and model_type != "qwen2",
        qkv_bias=model_type == "qwen2",
        mlp_bias=bool(raw.get("mlp_bias", False)),
        qk_norm=model_type == "qwen3",
        sliding_window=sliding,
        layer_types=layer_types or (("sliding_attention",) * layers if sliding else ("full_attention",) * layers),
    )
    return fields


def _gemma(raw: dict, version: int) -> dict:
    """Gemma 2 and Gemma 3 (text): GeGLU, (1 + weight) RMSNorms around each sublayer, scaled embeddings,
    sliding and global layers; Gemma 2 soft-caps scores and logits, Gemma 3 norms q/k and has a local rope."""
    if raw.get("use_bidirectional_attention"):
        raise UnsupportedModelError("use_bidirectional_attention (an embedding model's setting) is not supported; "
                                    "glasslm runs causal language models")
    fields = _common(raw, head_dim_default=256, tie_default=True)
    layers = fields["num_hidden_layers"]
    if raw.get("layer_types"):
        layer_types = tuple(raw["layer_types"])
    else:  # the defaults of transformers' Gemma2Config / Gemma3TextConfig
        pattern = 2 if version == 2 else int(raw.get("sliding_window_pattern") or 6)
        layer_types = tuple("sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(layers))
    window = raw.get("sliding_window", 4096)
    scalar = raw.get("query_pre_attn_scalar", 256)
    fields.update(
        hidden_act=raw.get("hidden_activation") or "gelu_pytorch_tanh",  # transformers ignores hidden_act here
        attention_bias=bool(raw.get("attention_bias", False)),
        norm="rms_unit_offset",
        sandwich_norms=True,
        embedding_scale=fields["hidden_size"] ** 0.5,
        attention_scale=float(scalar) ** -0.5,
        sliding_window=int(window) if window else None,
        layer_types=layer_types,
    )
    if version == 2:
        fields.update(
            rope=rope_from_dict(raw),
            attn_logit_softcap=_optional_float(raw.get("attn_logit_softcapping", 50.0)),
            final_logit_softcap=_optional_float(raw.get("final_logit_softcapping", 30.0)),
        )
    else:
        global_rope, local_rope = _gemma3_ropes(raw)
        fields.update(
            rope=global_rope,
            local_rope=local_rope,
            qk_norm=True,
            # Gemma 3 does not cap scores: transformers and llama.cpp both ignore attn_logit_softcapping here
            final_logit_softcap=_optional_float(raw.get("final_logit_softcapping")),
        )
    return fields


def _gemma3_ropes(raw: dict) -> tuple[RopeConfig, RopeConfig]:
    """Global and local rope, from transformers 5's rope_parameters per layer type, or the 4.x fields
    (rope_theta and rope_scaling for global layers, rope_local_base_freq for local ones)."""
    params = raw.get("rope_parameters")
    if isinstance(params, dict) and ({"full_attention", "sliding_attention"} & set(params)):
        global_params = dict(params.get("full_attention") or {})
        local_params = dict(params.get("sliding_attention") or {})
    else:
        global_params = {**(raw.get("rope_scaling") or {}), **(params or {})}
        local_params = {"rope_type": "default"}
    global_params.setdefault("rope_theta", raw.get("rope_theta", 1_000_000.0))
    local_params.setdefault("rope_theta", raw.get("rope_local_base_freq", 10_000.0))
    return rope_from_dict(raw, global_params), rope_from_dict(raw, local_params)


def _phi3(raw: dict) -> dict:
    """Phi-3 / Phi-3.5 / Phi-4-mini: Llama's layer with q/k/v and gate/up stored fused, LongRoPE, optional
    partial rotary and a sliding window on every layer."""
    fields = _common(raw, eps_default=1e-5)
    params = {**(raw.get("rope_scaling") or {}), **(raw.get("rope_parameters") or {})}
    if params.get("rope_type", params.get("type")) in ("su", "yarn"):  # Phi-3's early names for LongRoPE
        params["rope_type"] = "longrope"
        params.pop("type", None)
    window = raw.get("sliding_window")
    layers = fields["num_hidden_layers"]
    fields.update(
        rope=rope_from_dict(raw, params),
        hidden_act=raw.get("hidden_act", "silu"),
        fused_qkv=True,
        fused_gate_up=True,
        partial_rotary_factor=float(params.get("partial_rotary_factor") or raw.get("partial_rotary_factor") or 1.0),
        sliding_window=int(window) if window else None,
        layer_types=("sliding_attention" if window else "full_attention",) * layers,
    )
    return fields


def _gpt2(raw: dict) -> dict:
    """GPT-2: learned absolute positions, LayerNorm with bias, a plain GELU MLP, fused q/k/v, biases everywhere."""
    if raw.get("add_cross_attention"):
        raise UnsupportedModelError("add_cross_attention (GPT-2 as an encoder-decoder's decoder) is not supported")
    hidden = int(raw.get("n_embd") or raw["hidden_size"])
    heads = int(raw.get("n_head") or raw["num_attention_heads"])
    layers = int(raw.get("n_layer") or raw["num_hidden_layers"])
    return dict(
        model_type="gpt2",
        vocab_size=int(raw["vocab_size"]),
        hidden_size=hidden,
        intermediate_size=int(raw.get("n_inner") or 4 * hidden),
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        head_dim=hidden // heads,
        max_position_embeddings=int(raw.get("n_positions") or raw.get("max_position_embeddings") or 1024),
        rms_norm_eps=float(raw.get("layer_norm_epsilon", 1e-5)),
        tie_word_embeddings=bool(raw.get("tie_word_embeddings", True)),
        bos_token_id=raw.get("bos_token_id", 50256),
        eos_token_ids=_as_id_tuple(raw.get("eos_token_id", 50256)),
        hidden_act=raw.get("activation_function", "gelu_new"),
        gated_mlp=False,
        fused_qkv=True,
        attention_bias=True,
        mlp_bias=True,
        norm="layer",
        positions="learned",
        attention_scale=None if raw.get("scale_attn_weights", True) else 1.0,
        scale_attention_by_layer=bool(raw.get("scale_attn_by_inverse_layer_idx", False)),
        attention_upcast=bool(raw.get("reorder_and_upcast_attn", False)),
        layer_types=("full_attention",) * layers,
    )


_READERS = {
    **{name: _llama_family for name in LLAMA_FAMILY},
    "gemma2": lambda raw: _gemma(raw, 2),
    "gemma3_text": lambda raw: _gemma(raw, 3),
    "phi3": _phi3,
    "gpt2": _gpt2,
}


assert set(_READERS) == set(SUPPORTED_MODEL_TYPES)


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def _as_id_tuple(value) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)
