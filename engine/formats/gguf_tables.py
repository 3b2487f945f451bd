"""What glasslm reads from GGUF files: architectures, tensor types and tensor names, as data.

GGUF (llama.cpp's file format) names tensors `blk.N.attn_q.weight` and so on; the engine names
them as Hugging Face checkpoints do. This module is only tables: the reader is gguf_reader.py.
"""
from __future__ import annotations

# GGUF `general.architecture` -> the engine's model_type (Mistral models are converted as "llama").
ARCHITECTURES = {
    "llama": "llama",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "gemma2": "gemma2",
    "gemma3": "gemma3_text",
    "phi3": "phi3",
    "gpt2": "gpt2",
}

# Architectures whose converter stores RMSNorm gains with 1 added (Gemma scales by 1 + weight):
# the reader subtracts it again, so the engine holds the checkpoint's own values.
NORM_PLUS_ONE = ("gemma2", "gemma3")

# LongRoPE's per-pair factors (Phi-3), written by the converter as tensors; read into the config.
ROPE_FACTOR_TENSORS = {"rope_factors_short.weight": "short_factor", "rope_factors_long.weight": "long_factor"}

# GGML tensor types the reader dequantizes (through gguf's own numpy dequantization).
TENSOR_TYPES = (
    "F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
)

# GGUF tensor name -> engine tensor name; "{i}" is the block number.
TENSOR_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
    "blk.{i}.attn_norm.weight": "model.layers.{i}.input_layernorm.weight",
    "blk.{i}.ffn_norm.weight": "model.layers.{i}.post_attention_layernorm.weight",
    "blk.{i}.attn_q.weight": "model.layers.{i}.self_attn.q_proj.weight",
    "blk.{i}.attn_k.weight": "model.layers.{i}.self_attn.k_proj.weight",
    "blk.{i}.attn_v.weight": "model.layers.{i}.self_attn.v_proj.weight",
    "blk.{i}.attn_output.weight": "model.layers.{i}.self_attn.o_proj.weight",
    "blk.{i}.attn_q.bias": "model.layers.{i}.self_attn.q_proj.bias",
    "blk.{i}.attn_k.bias": "model.layers.{i}.self_attn.k_proj.bias",
    "blk.{i}.attn_v.bias": "model.layers.{i}.self_attn.v_proj.bias",
    "blk.{i}.attn_output.bias": "model.layers.{i}.self_attn.o_proj.bias",
    "blk.{i}.attn_q_norm.weight": "model.layers.{i}.self_attn.q_norm.weight",
    "blk.{i}.attn_k_norm.weight": "model.layers.{i}.self_attn.k_norm.weight",
    "blk.{i}.ffn_gate.weight": "model.layers.{i}.mlp.gate_proj.weight",
    "blk.{i}.ffn_up.weight": "model.layers.{i}.mlp.up_proj.weight",
    "blk.{i}.ffn_down.weight": "model.layers.{i}.mlp.down_proj.weight",
    # Gemma 2/3: a norm after attention and after the MLP
    "blk.{i}.post_attention_norm.weight": "model.layers.{i}.post_attention_layernorm.weight",
    "blk.{i}.post_ffw_norm.weight": "model.layers.{i}.post_feedforward_layernorm.weight",
    # Phi-3 and GPT-2: q/k/v stored as one matrix
    "blk.{i}.attn_qkv.weight": "model.layers.{i}.self_attn.qkv_proj.weight",
    "blk.{i}.attn_qkv.bias": "model.layers.{i}.self_attn.qkv_proj.bias",
    # GPT-2: learned positions, LayerNorm biases, MLP biases
    "position_embd.weight": "model.embed_positions.weight",
    "output_norm.bias": "model.norm.bias",
    "blk.{i}.attn_norm.bias": "model.layers.{i}.input_layernorm.bias",
    "blk.{i}.ffn_norm.bias": "model.layers.{i}.post_attention_layernorm.bias",
    "blk.{i}.ffn_up.bias": "model.layers.{i}.mlp.up_proj.bias",
    "blk.{i}.ffn_down.bias": "model.layers.{i}.mlp.down_proj.bias",
}

# Where an architecture gives a GGUF name another meaning: its entries win over TENSOR_NAMES.
ARCHITECTURE_TENSOR_NAMES = {
    # Gemma's pre-MLP norm is ffn_norm, as Llama's is; Gemma calls it pre_feedforward_layernorm
    "gemma2": {"blk.{i}.ffn_norm.weight": "model.layers.{i}.pre_feedforward_layernorm.weight"},
    "gemma3": {"blk.{i}.ffn_norm.weight": "model.layers.{i}.pre_feedforward_layernorm.weight"},
    # Phi-3's ffn_up is its fused gate_up_proj (gate rows first)
    "phi3": {"blk.{i}.ffn_up.weight": "model.layers.{i}.mlp.gate_up_proj.weight"},
}
