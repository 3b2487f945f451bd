"""Small GGUF files of Gemma 2, Gemma 3, Phi-3 and GPT-2 for tests, written with gguf's GGUFWriter from the
random checkpoints of checkpoints.py the way llama.cpp's convert_hf_to_gguf.py writes each architecture.

- gemma2 / gemma3: norm gains stored with 1 added; Gemma 2 writes its soft-capping values and window,
  Gemma 3 its global rope base (and rope.freq_base_swa for the local one), linear rope scaling and window;
  no score scale (llama.cpp derives it from the head size) and no layer pattern unless `pattern` is asked
  for (llama.cpp assumes every 2nd / 6th layer global);
- phi3: q/k/v and gate/up as the fused attn_qkv / ffn_up, its original context, rotary dimensions, a
  sliding window (0: none), LongRoPE's factors as rope_factors_short/long tensors with the attention factor;
- gpt2: Conv1D weights transposed to (out, in), names from `transformer.h.N`, no causal-mask buffers.
The tokenizer goes through gguf_files' writer (Gemma's without a space prefix). Not a general converter.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from gguf_files import _add_tensor, _write_tokenizer

LAYER_NAMES = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.qkv_proj": "attn_qkv",
    "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm", "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down", "mlp.gate_up_proj": "ffn_up",
    "pre_feedforward_layernorm": "ffn_norm", "post_feedforward_layernorm": "post_ffw_norm",
}
GPT2_LAYER_NAMES = {"ln_1": "attn_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output",
                    "ln_2": "ffn_norm", "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down"}
GPT2_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def gguf_name(name: str, model_type: str) -> str:
    if model_type == "gpt2":
        name = name.removeprefix("transformer.")
        top = {"wte.weight": "token_embd.weight", "wpe.weight": "position_embd.weight",
               "ln_f.weight": "output_norm.weight", "ln_f.bias": "output_norm.bias", "lm_head.weight": "output.weight"}
        if name in top:
            return top[name]
        _, index, rest = name.split(".", 2)
        module, part = rest.rsplit(".", 1)
        return f"blk.{index}.{GPT2_LAYER_NAMES[module]}.{part}"
    top = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
           "lm_head.weight": "output.weight"}
    if name in top:
        return top[name]
    _, _, index, rest = name.split(".", 3)
    module, part = rest.rsplit(".", 1)
    if module == "post_attention_layernorm":  # after attention in Gemma, before the MLP elsewhere
        return f"blk.{index}.{'post_attention_norm' if model_type.startswith('gemma') else 'ffn_norm'}.{part}"
    return f"blk.{index}.{LAYER_NAMES[module]}.{part}"


def write_arch_gguf(checkpoint: Path, out: Path, tensor_type: str = "F32", pattern: bool = False) -> Path:
    """Write `checkpoint` (gemma2, gemma3_text, phi3 or gpt2) as the GGUF file `out`."""
    import gguf
    from safetensors.numpy import load_file

    config = json.loads((checkpoint / "config.json").read_text())
    model_type = config["model_type"]
    arch = {"gemma2": "gemma2", "gemma3_text": "gemma3", "phi3": "phi3", "gpt2": "gpt2"}[model_type]
    writer = gguf.GGUFWriter(str(out), arch)
    writer.add_name(checkpoint.name)
    tensors = {}
    for file in sorted(checkpoint.glob("*.safetensors")):
        tensors.update(load_file(str(file)))
    extra = _metadata(writer, config, model_type, pattern)
    _write_tokenizer(writer, checkpoint, space_prefix=not model_type.startswith("gemma"))
    if model_type == "phi3":  # Phi-3's pad token is its <|endoftext|> (llama.cpp's SpecialVocab writes it)
        writer.add_pad_token_id(config["eos_token_id"])
    if config.get("tie_word_embeddings", model_type != "phi3"):
        tensors.pop("lm_head.weight", None)
    rng = np.random.default_rng(0)
    for name, value in tensors.items():
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue
        value = value.astype(np.float32)
        if model_type == "gpt2" and name.endswith(GPT2_TRANSPOSED):
            value = np.ascontiguousarray(value.T)  # Conv1D (in, out) -> (out, in)
        if model_type.startswith("gemma") and name.endswith("norm.weight"):
            value = value + 1  # Gemma's RMSNorm scales by 1 + weight; llama.cpp stores the sum
        _add_tensor(writer, gguf_name(name, model_type), value, tensor_type if value.ndim == 2 else "F32", rng)
    for name, value in extra.items():
        writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def _metadata(writer, config: dict, model_type: str, pattern: bool) -> dict:
    """Write the architecture's hyper-parameters; return extra tensors (LongRoPE's factors)."""
    import gguf

    if model_type == "gpt2":
        writer.add_block_count(config["n_layer"])
        writer.add_context_length(config["n_positions"])
        writer.add_embedding_length(config["n_embd"])
        writer.add_feed_forward_length(4 * config["n_embd"])
        writer.add_head_count(config["n_head"])
        writer.add_layer_norm_eps(config["layer_norm_epsilon"])
        return {}
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim = config.get("head_dim") or hidden // heads
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(hidden)
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(config.get("num_key_value_heads") or heads)
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    rope = config.get("rope_parameters") or {}
    if model_type == "gemma2":
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
        writer.add_attn_logit_softcapping(config["attn_logit_softcapping"])
        writer.add_final_logit_softcapping(config["final_logit_softcapping"])
        writer.add_sliding_window(config["sliding_window"])
    elif model_type == "gemma3_text":
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
        writer.add_rope_freq_base(rope["full_attention"]["rope_theta"])
        writer.add_float32(f"{writer.arch}.rope.freq_base_swa", rope["sliding_attention"]["rope_theta"])
        if rope["full_attention"].get("rope_type") == "linear":
            writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            writer.add_rope_scaling_factor(rope["full_attention"]["factor"])
        if config.get("final_logit_softcapping"):
            writer.add_final_logit_softcapping(config["final_logit_softcapping"])
        writer.add_sliding_window(config["sliding_window"])
    if pattern:
        writer.add_sliding_window_pattern([t == "sliding_attention" for t in config["layer_types"]])
    if model_type != "phi3":
        return {}
    rotary = int(head_dim * rope.get("partial_rotary_factor", 1.0))
    original = config.get("original_max_position_embeddings") or config["max_position_embeddings"]
    writer.add_rope_scaling_orig_ctx_len(original)
    writer.add_rope_dimension_count(rotary)
    writer.add_rope_freq_base(rope["rope_theta"])
    writer.add_sliding_window(config.get("sliding_window") or 0)
    if rope.get("rope_type") != "longrope":
        return {}
    scale = config["max_position_embeddings"] / original
    writer.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(scale) / math.log(original)) if scale > 1 else 1.0)
    return {"rope_factors_long.weight": np.array(rope["long_factor"], dtype=np.float32),
            "rope_factors_short.weight": np.array(rope["short_factor"], dtype=np.float32)}
