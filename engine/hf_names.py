"""Hugging Face checkpoint tensor names that differ from the engine's, as data, and the one pass that
renames a folder's tensors.

The engine names every architecture's tensors as the Llama family's checkpoints do
(`model.layers.0.self_attn.o_proj.weight`); Gemma and Phi-3 checkpoints already do. GPT-2's do
not: `transformer.h.0.attn.c_attn.weight` and so on, with its `Conv1D` weights stored transposed
((in, out), not nn.Linear's (out, in)), and with causal-mask buffers (`attn.bias`) in older files.
`to_engine_names` gives a `ModelSource` whose tensors carry the engine's names and shapes and are
transposed as they are read. It reads no bytes itself.
"""
from __future__ import annotations

import math
from dataclasses import replace

from .errors import UnsupportedModelError

# GPT-2 name (after an optional "transformer." prefix) -> engine name; "{i}" is the block number.
GPT2_NAMES = {
    "wte.weight": "model.embed_tokens.weight",
    "wpe.weight": "model.embed_positions.weight",
    "ln_f.weight": "model.norm.weight",
    "ln_f.bias": "model.norm.bias",
    "h.{i}.ln_1.weight": "model.layers.{i}.input_layernorm.weight",
    "h.{i}.ln_1.bias": "model.layers.{i}.input_layernorm.bias",
    "h.{i}.attn.c_attn.weight": "model.layers.{i}.self_attn.qkv_proj.weight",
    "h.{i}.attn.c_attn.bias": "model.layers.{i}.self_attn.qkv_proj.bias",
    "h.{i}.attn.c_proj.weight": "model.layers.{i}.self_attn.o_proj.weight",
    "h.{i}.attn.c_proj.bias": "model.layers.{i}.self_attn.o_proj.bias",
    "h.{i}.ln_2.weight": "model.layers.{i}.post_attention_layernorm.weight",
    "h.{i}.ln_2.bias": "model.layers.{i}.post_attention_layernorm.bias",
    "h.{i}.mlp.c_fc.weight": "model.layers.{i}.mlp.up_proj.weight",
    "h.{i}.mlp.c_fc.bias": "model.layers.{i}.mlp.up_proj.bias",
    "h.{i}.mlp.c_proj.weight": "model.layers.{i}.mlp.down_proj.weight",
    "h.{i}.mlp.c_proj.bias": "model.layers.{i}.mlp.down_proj.bias",
}
GPT2_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")  # Conv1D
GPT2_IGNORED = ("attn.bias", "attn.masked_bias")  # causal-mask buffers older checkpoints saved; not weights


def gpt2_engine_name(name: str) -> str | None:
    """The engine's name for a GPT-2 checkpoint tensor; None for a buffer to skip; unknown names unchanged."""
    short = name.removeprefix("transformer.")
    parts = short.split(".")
    if len(parts) > 2 and parts[0] == "h" and parts[1].isdigit():
        rest = ".".join(parts[2:])
        if rest in GPT2_IGNORED:
            return None
        target = GPT2_NAMES.get("h.{i}." + rest)
        return target.format(i=parts[1]) if target else name
    return GPT2_NAMES.get(short, name)


def to_engine_names(source):
    """The source (a formats.ModelSource from a Hugging Face folder) with its tensors under the engine's
    names and shapes; unchanged for every architecture that already uses them."""
    if source.config.model_type != "gpt2":
        return source
    if source.quantization_config:
        raise UnsupportedModelError("pre-quantized GPT-2 checkpoints are not supported; load the full-precision "
                                    "checkpoint and choose int8, nf4 or fp4 when loading it")
    stored_of, transposed, tensors = {}, set(), {}
    for name, spec in source.tensors.items():
        engine = gpt2_engine_name(name)
        if engine is None:
            continue
        shape = spec.shape
        if name.endswith(GPT2_TRANSPOSED) and len(shape) == 2:
            transposed.add(engine)
            shape = (shape[1], shape[0])
        stored_of[engine] = name
        tensors[engine] = replace(spec, name=engine, shape=tuple(shape))
    engine_of = {stored: engine for engine, stored in stored_of.items()}

    def read(names):
        for stored, tensor in source.read_tensors([stored_of[n] for n in names if n in stored_of]):
            engine = engine_of[stored]
            # (in, out) as stored -> (out, in) as nn.Linear holds it, contiguous so it quantizes and fuses
            yield engine, tensor.t().contiguous() if engine in transposed else tensor

    n_params = sum(math.prod(spec.shape) for spec in tensors.values())  # the mask buffers left out
    return replace(source, tensors=tensors, read_tensors=read, n_params=n_params)
