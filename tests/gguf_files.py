"""Small GGUF files for tests, written with gguf's GGUFWriter from the random checkpoints of
checkpoints.py, laid out as llama.cpp's convert_hf_to_gguf.py lays them out.

Metadata under the architecture's keys, the tokenizer as metadata (byte-level BPE as `gpt2` with
its merges; the byte-fallback tokenizer as a SentencePiece `llama` vocabulary with scores and no
merges), q/k rows of `llama` models permuted for llama.cpp's rotary, 1-D tensors in F32 and 2-D
weights in the requested type: quantized with gguf's own quantizer where it has one, and for the
K-quants (which gguf-py only dequantizes) as random but valid blocks, so the weights come from
the file and both readers must decode them the same way. Not a general converter.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6
ARCH_OF = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3"}
HF_TO_GGUF = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
# K-quant block layouts: bytes per block and where its fp16 scales sit
K_QUANT_SCALES = {"Q2_K": (84, (80, 82)), "Q3_K": (110, (108,)), "Q4_K": (144, (0, 2)),
                  "Q5_K": (176, (0, 2)), "Q6_K": (210, (208,))}


def gguf_name(hf_name: str) -> str:
    if hf_name.startswith("model.layers."):
        _, _, index, rest = hf_name.split(".", 3)
        return f"blk.{index}.{HF_TO_GGUF[rest]}"
    return HF_TO_GGUF[hf_name]


def permute(rows: np.ndarray, heads: int) -> np.ndarray:
    """convert_hf_to_gguf's LlamaModel.permute: each head's two rotary halves interleaved."""
    return rows.reshape(heads, 2, rows.shape[0] // heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def write_gguf(checkpoint: Path, out: Path, tensor_type: str = "F32", seed: int = 0, skip_tensors=(),
               extra_metadata: dict | None = None, omit_tokenizer: bool = False) -> Path:
    """Write `checkpoint` (a folder from checkpoints.make_checkpoint) as the GGUF file `out`."""
    import gguf
    from safetensors.numpy import load_file

    config = json.loads((checkpoint / "config.json").read_text())
    model_type = config["model_type"]
    arch = ARCH_OF[model_type]
    writer = gguf.GGUFWriter(str(out), arch)
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    writer.add_name(checkpoint.name)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(head_dim)
    if head_dim != hidden // heads:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_rope_freq_base(float(config.get("rope_theta") or (config.get("rope_parameters") or {}).get("rope_theta")
                                    or 10000.0))
    writer.add_layer_norm_rms_eps(float(config["rms_norm_eps"]))
    writer.add_vocab_size(config["vocab_size"])
    scaling = config.get("rope_scaling") or config.get("rope_parameters") or {}  # transformers 4 / 5 spelling
    if scaling.get("rope_type") == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
    if not omit_tokenizer:
        _write_tokenizer(writer, checkpoint)
    for key, value in (extra_metadata or {}).items():
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        else:
            writer.add_string(key, value)

    tensors = {}
    for file in sorted(checkpoint.glob("*.safetensors")):
        tensors.update(load_file(str(file)))
    if config.get("tie_word_embeddings"):
        tensors.pop("lm_head.weight", None)
    if scaling.get("rope_type") == "llama3":
        tensors["rope_freqs.weight"] = _llama3_rope_factors(config, head_dim)
    rng = np.random.default_rng(seed)
    for name, value in tensors.items():
        value = value.astype(np.float32)
        if arch == "llama" and (".q_proj." in name or ".k_proj." in name):
            value = permute(value, heads if ".q_proj." in name else kv_heads)
        target = "rope_freqs.weight" if name == "rope_freqs.weight" else gguf_name(name)
        if target in skip_tensors:
            continue
        _add_tensor(writer, target, value, tensor_type if value.ndim == 2 else "F32", rng)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def _add_tensor(writer, name: str, value: np.ndarray, kind: str, rng):
    import gguf
    from gguf.quants import quantize

    qtype = gguf.GGMLQuantizationType[kind]
    if kind == "F32":
        writer.add_tensor(name, value)
    elif kind == "F16":
        writer.add_tensor(name, value.astype(np.float16))
    elif kind in K_QUANT_SCALES:
        block_bytes, scale_offsets = K_QUANT_SCALES[kind]
        rows, cols = value.shape
        blocks = rng.integers(0, 256, size=(rows, cols // 256, block_bytes), dtype=np.uint8)
        for offset in scale_offsets:  # small finite fp16 scales, so the weights are of a sane size
            scale = (rng.uniform(2e-4, 8e-4, size=blocks.shape[:2])).astype(np.float16)
            blocks[:, :, offset:offset + 2] = scale[..., None].view(np.uint8).reshape(rows, cols // 256, 2)
        writer.add_tensor(name, blocks.reshape(rows, -1), raw_dtype=qtype)
    else:
        writer.add_tensor(name, quantize(value, qtype), raw_dtype=qtype)


def _llama3_rope_factors(config: dict, head_dim: int) -> np.ndarray:
    """What convert_hf_to_gguf writes as rope_freqs.weight for llama3 rope scaling."""
    import math

    s = config.get("rope_scaling") or config["rope_parameters"]
    base = float(s.get("rope_theta") or config.get("rope_theta", 10000.0))
    freqs = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    factor, low, high = s["factor"], s.get("low_freq_factor", 1.0), s.get("high_freq_factor", 4.0)
    old = s["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    factors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def _write_tokenizer(writer, checkpoint: Path, space_prefix: bool = True):
    data = json.loads((checkpoint / "tokenizer.json").read_text())
    tok_config = json.loads((checkpoint / "tokenizer_config.json").read_text())
    vocab = dict(data["model"]["vocab"])
    specials = {t["content"]: t["id"] for t in data.get("added_tokens", [])}
    vocab.update(specials)
    tokens = [None] * (max(vocab.values()) + 1)
    for token, index in vocab.items():
        tokens[index] = token
    byte_level = data["model"].get("byte_fallback") is not True
    types = []
    for index, token in enumerate(tokens):
        if token in specials:
            types.append(UNKNOWN if token == "<unk>" else CONTROL)
        elif not byte_level and token.startswith("<0x") and token.endswith(">") and len(token) == 6:
            types.append(BYTE)
        else:
            types.append(NORMAL)
    if byte_level:
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("gpt-2")
        merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
        writer.add_token_merges(merges)
    else:
        writer.add_tokenizer_model("llama")
        writer.add_tokenizer_pre("default")
        writer.add_token_scores([-float(i) for i in range(len(tokens))])  # later pieces merge later
        writer.add_add_space_prefix(space_prefix)  # Gemma's converter writes False
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    for key, method in (("bos_token", writer.add_bos_token_id), ("eos_token", writer.add_eos_token_id),
                        ("unk_token", writer.add_unk_token_id)):
        if tok_config.get(key) in vocab:
            method(vocab[tok_config[key]])
    writer.add_add_bos_token(bool(tok_config.get("add_bos_token", False)))
    writer.add_add_eos_token(False)
    if tok_config.get("chat_template"):
        writer.add_chat_template(tok_config["chat_template"])
