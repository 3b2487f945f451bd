"""A GGUF file's metadata as the config.json fields the engine's `ModelConfig` reads.

llama.cpp writes the architecture's hyper-parameters under `<arch>.*` keys
(`llama.embedding_length`, `qwen2.attention.head_count_kv`, ...). This module maps them to the
Hugging Face names for each architecture in gguf_tables.ARCHITECTURES; what a file leaves out is
inferred from its tensors (tied output head, attention biases). It reads no tensor data.
"""
from __future__ import annotations

from ..errors import ModelFormatError, UnsupportedModelError


def config_dict(metadata: dict, arch: str, model_type: str, tensor_names: set[str], vocab_rows: int,
                where: str, rope_factors: dict | None = None) -> dict:
    """config.json-style dict for the engine's ModelConfig.from_dict. rope_factors: LongRoPE's
    short_factor/long_factor lists, read from the file's rope_factors_* tensors (Phi-3)."""

    def get(key, default=None, required=False):
        value = metadata.get(f"{arch}.{key}", default)
        if required and value is None:
            raise ModelFormatError(f"{where} has no {arch}.{key} metadata, which a {arch} model needs; "
                                   "the file is incomplete: convert the model again")
        return value

    hidden = _scalar(get("embedding_length", required=True), f"{arch}.embedding_length", where)
    heads = _scalar(get("attention.head_count", required=True), f"{arch}.attention.head_count", where)
    kv_heads = _scalar(get("attention.head_count_kv", heads), f"{arch}.attention.head_count_kv", where)
    head_dim = get("attention.key_length") or (hidden // heads if heads else 0)
    rotary_dims = get("rope.dimension_count")
    if rotary_dims is not None and rotary_dims != head_dim and model_type != "phi3":
        raise UnsupportedModelError(f"{where} rotates {rotary_dims} of each head's {head_dim} dimensions "
                                    "(partial rotary); glasslm supports rotary over the whole head only")
    value_dim = get("attention.value_length")
    if value_dim is not None and value_dim != head_dim:
        raise UnsupportedModelError(f"{where} has value heads of {value_dim} and key heads of {head_dim} "
                                    "dimensions; glasslm supports equal sizes only")
    raw = {
        "model_type": model_type,
        "vocab_size": vocab_rows,
        "hidden_size": hidden,
        "intermediate_size": _scalar(get("feed_forward_length", required=True), f"{arch}.feed_forward_length", where),
        "num_hidden_layers": get("block_count", required=True),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "max_position_embeddings": get("context_length", 2048),
        "rms_norm_eps": get("attention.layer_norm_rms_epsilon", 1e-6),
        "rope_theta": get("rope.freq_base", 10000.0),
        "tie_word_embeddings": "lm_head.weight" not in tensor_names,
        "bos_token_id": metadata.get("tokenizer.ggml.bos_token_id"),
        "eos_token_id": metadata.get("tokenizer.ggml.eos_token_id"),
    }
    if model_type == "llama":
        raw["attention_bias"] = "model.layers.0.self_attn.q_proj.bias" in tensor_names
        raw["mlp_bias"] = "model.layers.0.mlp.up_proj.bias" in tensor_names
        window = get("attention.sliding_window")
        if window:  # a Mistral model, converted as llama
            raw.update(model_type="mistral", sliding_window=window)
    elif model_type in ("qwen2", "qwen3"):
        window = get("attention.sliding_window")
        if window:
            raw.update(use_sliding_window=True, sliding_window=window, max_window_layers=raw["num_hidden_layers"])
    elif model_type in ("gemma2", "gemma3_text"):
        raw.update(_gemma(get, model_type, raw, hidden, heads, head_dim))
    elif model_type == "phi3":
        raw.update(_phi3(get, head_dim, rotary_dims, rope_factors or {}))
    elif model_type == "gpt2":
        # convert_hf_to_gguf writes GPT-2's LayerNorm epsilon under the LayerNorm key, not the RMSNorm one
        raw.update(layer_norm_epsilon=get("attention.layer_norm_epsilon", 1e-5), n_inner=raw["intermediate_size"],
                   activation_function="gelu_new")
    scaling = _rope_scaling(get, raw["max_position_embeddings"], where)
    if scaling:
        raw["rope_scaling"] = scaling
    return raw


def _gemma(get, model_type: str, raw: dict, hidden: int, heads: int, head_dim: int) -> dict:
    """Gemma 2/3 settings as llama.cpp reads them: the score scale is 1/sqrt(head_dim) but for the 27B models
    (46 layers for Gemma 2, 62 for Gemma 3), which scale by hidden/heads; an explicit attention.scale wins.
    The sliding-window pattern is llama.cpp's default (every 2nd layer global for Gemma 2, every 6th for
    Gemma 3) unless the file stores one."""
    layers = raw["num_hidden_layers"]
    big = layers == (46 if model_type == "gemma2" else 62)
    scale = get("attention.scale")
    scalar = 1.0 / scale ** 2 if scale else (hidden // heads if big else head_dim)
    out = {"query_pre_attn_scalar": scalar, "hidden_activation": "gelu_pytorch_tanh"}
    window = get("attention.sliding_window")
    out["sliding_window"] = int(window) if window else None
    pattern = get("attention.sliding_window_pattern")
    if not window:
        out["layer_types"] = ["full_attention"] * layers
    elif isinstance(pattern, (list, tuple)):
        out["layer_types"] = ["sliding_attention" if bool(p) else "full_attention" for p in pattern]
    elif pattern:
        out["layer_types"] = ["sliding_attention" if (i + 1) % int(pattern) else "full_attention"
                              for i in range(layers)]
    for key in ("attn_logit_softcapping", "final_logit_softcapping"):
        if get(key) is not None:
            out[key] = float(get(key))
    if model_type == "gemma3_text":
        out["rope_theta"] = get("rope.freq_base", 1_000_000.0)
        out["rope_local_base_freq"] = get("rope.freq_base_swa", 10_000.0)
    return out


def _phi3(get, head_dim: int, rotary_dims, rope_factors: dict) -> dict:
    """Phi-3: its original context, partial rotary, a sliding window (0: none) and LongRoPE from the factor
    tensors with the converter's attention factor."""
    out = {"original_max_position_embeddings": get("rope.scaling.original_context_length")}
    if rotary_dims:
        out["partial_rotary_factor"] = rotary_dims / head_dim
    window = get("attention.sliding_window")
    out["sliding_window"] = int(window) if window else None
    if rope_factors:
        out["rope_scaling"] = {"rope_type": "longrope", **rope_factors}
        if get("rope.scaling.attn_factor") is not None:
            out["rope_scaling"]["attention_factor"] = float(get("rope.scaling.attn_factor"))
    return out


def _scalar(value, key: str, where: str):
    if isinstance(value, (list, tuple)):  # per-layer values (e.g. OpenELM): uniform ones are fine
        if len(set(value)) != 1:
            raise UnsupportedModelError(f"{where} sets {key} per layer ({min(value)}..{max(value)}); "
                                        "glasslm supports the same value in every layer only")
        return value[0]
    return value


def _rope_scaling(get, context: int, where: str) -> dict | None:
    kind = get("rope.scaling.type")
    if kind in (None, "none"):
        return None
    factor = get("rope.scaling.factor")
    original = get("rope.scaling.original_context_length")
    if kind == "linear":
        return {"rope_type": "linear", "factor": factor or 1.0}
    if kind == "yarn":
        scaling = {"rope_type": "yarn", "factor": factor or 1.0,
                   "original_max_position_embeddings": original or context}
        for key, name in (("rope.scaling.yarn_beta_fast", "beta_fast"), ("rope.scaling.yarn_beta_slow", "beta_slow")):
            if get(key) is not None:
                scaling[name] = get(key)
        return scaling
    raise UnsupportedModelError(f"{where} uses rope scaling {kind!r}; glasslm supports linear and yarn "
                                "(and llama3, stored as rope_freqs)")
