"""A GGUF file's metadata as the config.json fields the engine's `ModelConfig` reads.

llama.cpp writes the architecture's hyper-parameters under `<arch>.*` keys
(`llama.embedding_length`, `qwen2.attention.head_count_kv`, ...). This module maps them to the
Hugging Face names for each architecture in gguf_tables.ARCHITECTURES; what a file leaves out is
inferred from its tensors (tied output head, attention biases). It reads no tensor data.
"""
from __future__ import annotations

from ..errors import ModelFormatError, UnsupportedModelError


def config_dict(metadata: dict, arch: str, model_type: str, tensor_names: set[str], vocab_rows: int,
                where: str) -> dict:
    """config.json-style dict for the engine's ModelConfig.from_dict."""

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
    if rotary_dims is not None and rotary_dims != head_dim:
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
    scaling = _rope_scaling(get, raw["max_position_embeddings"], where)
    if scaling:
        raw["rope_scaling"] = scaling
    return raw


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
