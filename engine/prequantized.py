"""Checkpoints saved already quantized by transformers + bitsandbytes.

Validates `quantization_config` (quant_method bitsandbytes, 8-bit or 4-bit nf4/fp4) and
that every projection has its companion tensors (4-bit: absmax, quant_map,
quant_state.bitsandbytes__*; 8-bit: SCB), then loads the stored bytes as they are: no
re-quantization, no full-precision copy. It does not quantize anything itself.
"""
from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from .build import place
from .errors import ModelFormatError, PrecisionError, UnsupportedModelError


def _stored_precision(quant: dict) -> str:
    method = quant.get("quant_method")
    if method != "bitsandbytes":
        raise UnsupportedModelError(
            f"this checkpoint is quantized with {method!r}; glasslm reads only bitsandbytes-quantized checkpoints "
            "(or full-precision ones it can quantize itself)"
        )
    if quant.get("load_in_8bit") or quant.get("_load_in_8bit"):
        return "int8"
    if quant.get("load_in_4bit") or quant.get("_load_in_4bit"):
        kind = quant.get("bnb_4bit_quant_type", "fp4")
        if kind not in ("nf4", "fp4"):
            raise UnsupportedModelError(f"4-bit quant type {kind!r} is not supported; nf4 and fp4 are")
        if quant.get("bnb_4bit_quant_storage", "uint8") != "uint8":
            raise UnsupportedModelError("4-bit checkpoints with quant_storage other than uint8 are not supported")
        return kind
    raise UnsupportedModelError("quantization_config says bitsandbytes but neither load_in_8bit nor load_in_4bit")


def stored_precision_for(quant: dict, entries, expected: dict, requested: str) -> str:
    """The stored precision (int8 | nf4 | fp4), after checking it was asked for and every companion is there."""
    stored = _stored_precision(quant)
    if requested not in ("auto", stored):
        raise PrecisionError(
            f"this checkpoint is stored pre-quantized as {stored}; load it with precision {stored} (or auto), "
            "or use the original full-precision checkpoint for other precisions"
        )
    from .quantize import PROJECTIONS

    for name in expected:
        module, _, attr = name.rpartition(".")
        is_projection = attr == "weight" and module.rsplit(".", 1)[-1] in PROJECTIONS
        if name not in entries:
            raise ModelFormatError(f"the checkpoint is missing tensor {name}; the weights and config do not match")
        if not is_projection:
            continue
        if stored == "int8":
            needed = [f"{module}.SCB"]
        else:
            needed = [f"{name}.absmax", f"{name}.quant_map", f"{name}.quant_state.bitsandbytes__{stored}"]
        for companion in needed:
            if companion not in entries:
                raise ModelFormatError(
                    f"pre-quantized tensor {name} has no companion {companion}; the checkpoint is incomplete, "
                    "save it again with transformers"
                )
    return stored


def load_stored(network: nn.Module, source, precision: str, device: torch.device, dtype: torch.dtype,
                raw_options: dict):
    """Swap the projections for bitsandbytes layers and fill them with the stored quantized bytes."""
    from .quantize import QuantOptions, swap_projections

    options = options_from_config(source.quantization_config, QuantOptions.from_kwargs(raw_options))
    swap_projections(network, precision, options, dtype, device)
    wanted = {name for name, _ in network.named_parameters()}
    load_prequantized(network, source, precision, device, dtype, wanted)


def options_from_config(quant: dict, options):
    return replace(options, int8_threshold=float(quant.get("llm_int8_threshold", options.int8_threshold)),
                   double_quant=bool(quant.get("bnb_4bit_use_double_quant", False)))


def load_prequantized(network: nn.Module, source, precision: str, device: torch.device,
                      dtype: torch.dtype, wanted: set[str]):
    """Fill the swapped network from `source` (a formats.ModelSource of a pre-quantized folder)."""
    from .quantize import bnb

    b = bnb()
    companions: dict[str, dict[str, torch.Tensor]] = {}
    weights: dict[str, torch.Tensor] = {}
    for name, tensor in source.read():
        if name in wanted:
            module = network.get_submodule(name.rpartition(".")[0])
            if name.endswith(".weight") and isinstance(module, (b.nn.Linear4bit, b.nn.Linear8bitLt)):
                weights[name] = tensor
            else:
                place(network, name, tensor.to(device=device, dtype=dtype))
            continue
        for weight_name in _owner_candidates(name):
            if weight_name in wanted:
                companions.setdefault(weight_name, {})[name] = tensor
                break
    for name, data in weights.items():
        module = network.get_submodule(name.rpartition(".")[0])
        extras = companions.get(name, {})
        if isinstance(module, b.nn.Linear4bit):
            stats = {key[len(name) + 1:]: value for key, value in extras.items()}
            module.weight = b.nn.Params4bit.from_prequantized(data=data, quantized_stats=stats, requires_grad=False,
                                                              device=device, module=module)
            module.compute_dtype = dtype
        else:
            scb = extras.get(name.rpartition(".")[0] + ".SCB")
            param = b.nn.Int8Params(data.to(device), requires_grad=False, has_fp16_weights=False)
            param.CB = param.data
            param.SCB = scb.to(device)
            module.weight = param


def _owner_candidates(name: str):
    """The weight a companion tensor belongs to: `x.weight.absmax` -> `x.weight`; `x.SCB` -> `x.weight`."""
    if ".weight." in name:
        yield name.split(".weight.")[0] + ".weight"
    module = name.rpartition(".")[0]
    yield module + ".weight"
