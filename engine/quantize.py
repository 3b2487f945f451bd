"""Quantization with bitsandbytes, kept outside the model definition.

A pass swaps the projection `nn.Linear`s (q/k/v/o, gate/up/down, fused qkv/gate_up) of a network built on the
meta device for bitsandbytes layers (LLM.int8 `Linear8bitLt`, 4-bit `Linear4bit` with nf4 or
fp4), then fills the network one tensor at a time, quantizing each projection weight as it
arrives on the target device, so the full-precision model never exists in memory.
Embeddings, norms and lm_head stay in the compute dtype. Pre-quantized checkpoints
(saved by transformers) are read through prequantized.py without re-quantizing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn

from .build import checked, place
from .errors import PrecisionError

# the projection layers' names; qkv_proj and gate_up_proj are the fused ones Phi-3 (and GPT-2, renamed) store
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "qkv_proj", "gate_up_proj")
_DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
           "fp16": torch.float16, "float16": torch.float16}


@dataclass(frozen=True)
class QuantOptions:
    int8_threshold: float = 6.0  # LLM.int8 outlier threshold: activations above it stay in 16-bit
    blocksize: int = 64  # 4-bit: values per absmax block
    double_quant: bool = False  # 4-bit: quantize the absmax constants too (saves ~0.4 bit/param)
    quantize_lm_head: bool = False  # also quantize an untied lm_head (embeddings and norms always stay)

    @classmethod
    def from_kwargs(cls, options: dict) -> "QuantOptions":
        known = {k: v for k, v in options.items() if k in cls.__dataclass_fields__}
        unknown = set(options) - set(cls.__dataclass_fields__) - {"compute_dtype"}
        if unknown:
            raise PrecisionError(f"unknown quantization option {sorted(unknown)[0]!r}; "
                                 f"known: {', '.join(cls.__dataclass_fields__)}, compute_dtype")
        return cls(**known)


def bnb():
    """Import bitsandbytes quietly (it logs about optional kernels it cannot fetch offline)."""
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.ERROR)
    try:
        import bitsandbytes
    except ImportError as err:
        raise PrecisionError(f"int8/nf4/fp4 need the bitsandbytes package ({err}); install it with pip install bitsandbytes")
    finally:
        root.setLevel(previous)
    return bitsandbytes


def compute_dtype(device: torch.device, override=None) -> torch.dtype:
    if override is not None:
        if isinstance(override, torch.dtype):
            return override
        if override not in _DTYPES:
            raise PrecisionError(f"unknown compute dtype {override!r}; use fp32, bf16 or fp16")
        return _DTYPES[override]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


CPU_4BIT_ROW_BLOCK = 32  # bitsandbytes' CPU 4-bit kernel packs output rows in blocks of 32


def swap_projections(network: nn.Module, precision: str, options: QuantOptions, dtype: torch.dtype,
                     device: torch.device):
    """Replace every projection nn.Linear with an (empty, meta) bitsandbytes layer."""
    b = bnb()
    targets = PROJECTIONS + (("lm_head",) if options.quantize_lm_head else ())
    if options.quantize_lm_head and not hasattr(network, "lm_head"):
        raise PrecisionError("quantize_lm_head needs an untied lm_head; this model shares it with the embeddings")
    for name, module in list(network.named_modules()):
        leaf = name.rsplit(".", 1)[-1]
        if not (isinstance(module, nn.Linear) and leaf in targets):
            continue
        has_bias = module.bias is not None
        if precision != "int8" and device.type == "cpu" and module.out_features % CPU_4BIT_ROW_BLOCK:
            raise PrecisionError(
                f"{precision} on the CPU needs layer sizes divisible by {CPU_4BIT_ROW_BLOCK} (a limit of bitsandbytes' "
                f"CPU kernel), but {name} has {module.out_features} outputs; use int8, or a GPU"
            )
        if precision == "int8":
            layer = b.nn.Linear8bitLt(module.in_features, module.out_features, bias=has_bias,
                                      has_fp16_weights=False, threshold=options.int8_threshold, device="meta")
        else:
            layer = b.nn.Linear4bit(module.in_features, module.out_features, bias=has_bias, compute_dtype=dtype,
                                    compress_statistics=options.double_quant, quant_type=precision,
                                    quant_storage=torch.uint8, device="meta")
        parent = network.get_submodule(name.rpartition(".")[0]) if "." in name else network
        parent.register_module(leaf, layer)


def load_quantized(network: nn.Module, source, precision: str, device: torch.device,
                   dtype: torch.dtype, raw_options: dict):
    """Swap the projections, then stream every tensor of `source` (a formats.ModelSource) in,
    quantizing projection weights on arrival (pre-quantized folders: prequantized.load_stored)."""
    options = QuantOptions.from_kwargs(raw_options)
    b = bnb()
    swap_projections(network, precision, options, dtype, device)
    wanted = {name for name, _ in network.named_parameters()}
    for name, tensor in checked(source.read(n for n in source.tensors if n in wanted)):
        module_name, _, attr = name.rpartition(".")
        module = network.get_submodule(module_name)
        if attr == "weight" and isinstance(module, b.nn.Linear4bit):
            param = b.nn.Params4bit(tensor.to(dtype), requires_grad=False, quant_type=precision,
                                    blocksize=options.blocksize, compress_statistics=options.double_quant)
            module.weight = param.to(device)  # quantizes on the target device
        elif attr == "weight" and isinstance(module, b.nn.Linear8bitLt):
            source = tensor.to(torch.float16 if device.type == "cuda" else torch.float32)
            module.weight = b.nn.Int8Params(source, requires_grad=False, has_fp16_weights=False).to(device)
        else:
            place(network, name, tensor.to(device=device, dtype=dtype))
        del tensor


def weight_bytes_by_kind(network: nn.Module) -> dict[str, int]:
    """Bytes of weights grouped as fp32/bf16/fp16/int8/nf4/fp4 (quantization constants included)."""
    totals: dict[str, int] = {}

    def add(label, nbytes):
        totals[label] = totals.get(label, 0) + int(nbytes)

    for tensor in network.parameters():
        state = getattr(tensor, "quant_state", None)
        if state is not None:
            add(getattr(tensor, "quant_type", "4bit"), tensor.numel() * tensor.element_size())
            for extra in (state.absmax, getattr(state, "state2", None) and state.state2.absmax, state.code):
                if isinstance(extra, torch.Tensor):
                    add(getattr(tensor, "quant_type", "4bit"), extra.numel() * extra.element_size())
        elif tensor.dtype == torch.int8:
            add("int8", tensor.numel() + (tensor.SCB.numel() * 4 if getattr(tensor, "SCB", None) is not None else 0))
        else:
            add(str(tensor.dtype).replace("torch.", ""), tensor.numel() * tensor.element_size())
    return totals
