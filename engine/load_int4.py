"""Filling a network whose projections run as packed 4-bit weights (int4.py).

Each projection nn.Linear of the meta network becomes an `Int4Linear` (computing in bf16, the
dtype torch's int4 kernels are fast in, and handing back the compute dtype): from the file's own Q4_0/Q4_1
blocks where a GGUF stores them (used as stored, no re-quantization), otherwise quantized from the
float weight (min/max per group of 32). Embeddings, norms and the output head stay in the compute
dtype, the output head in int8 groups (see _int8_head) unless asked otherwise. It does not decide when int4 is used (loader.py does).
"""
from __future__ import annotations

import torch
from torch import nn

from .build import checked, place
from .formats import ModelSource
from .int4 import GROUP, KERNEL_DTYPE, Q4_BLOCK_BYTES, Int4Linear, Int8Head, q4_groups, q8_groups
from .layers.linear import Bf16Head
from .quantize import PROJECTIONS


def stored_as_int4(source: ModelSource) -> bool:
    """Whether most weights of the file are Q4_0/Q4_1 blocks (which int4 uses exactly as stored)."""
    return bool(source.read_blocks) and bool(source.stored_types) and source.stored_types[0] in Q4_BLOCK_BYTES


def projection_names(network: nn.Module) -> dict[str, nn.Linear]:
    """weight name -> projection nn.Linear that int4 can hold (input size a multiple of the group)."""
    found = {}
    for name, module in network.named_modules():
        if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] in PROJECTIONS and module.in_features % GROUP == 0:
            found[f"{name}.weight"] = module
    return found


HEAD_DTYPES = ("int8", "bf16", "fp32")


def load_int4(network: nn.Module, source: ModelSource, dtype: torch.dtype, device: torch.device,
              head: str = "int8"):
    """head: how the output matmul runs: int8 (groups of 32, the file's own Q8_0 blocks where it has
    them; see int4.Int8Head), bf16 (a bf16 copy) or fp32 (the compute dtype, as stored)."""
    projections = projection_names(network)
    wanted = [name for name, _ in network.named_parameters()]
    for weight_name, module in projections.items():  # packed 4-bit layers in place of the meta Linears
        module_name = weight_name.rsplit(".", 1)[0]
        parent_name, _, leaf = module_name.rpartition(".")
        kind = source.stored(weight_name)
        if kind in Q4_BLOCK_BYTES:
            _, blocks = source.read_blocks(weight_name)
            q, scales, zeros = q4_groups(blocks, kind, (module.out_features, module.in_features))
            layer = Int4Linear.from_groups(q, scales, zeros, None, KERNEL_DTYPE, device)
        else:
            layer = None  # quantized from its float weight when that arrives below
        if layer is not None:
            network.get_submodule(parent_name).register_module(leaf, layer)
    plain = [n for n in wanted if not (n in projections and isinstance(_module_of(network, n), Int4Linear))]
    for name, tensor in checked(source.read(plain)):
        if name in projections:  # a float-stored projection: quantize it to int4 here
            module_name = name.rsplit(".", 1)[0]
            parent_name, _, leaf = module_name.rpartition(".")
            bias = getattr(_module_of(network, name), "bias", None)
            layer = Int4Linear.from_float(tensor, None, KERNEL_DTYPE, device)
            network.get_submodule(parent_name).register_module(leaf, layer)
            if bias is not None and bias.device.type != "meta":
                layer.bias = nn.Parameter(bias.to(dtype), requires_grad=False)
            elif bias is not None:
                layer.bias = bias  # still meta: the bias tensor arrives later and replaces it
            continue
        place(network, name, tensor.to(device=device, dtype=dtype))
    if head == "bf16":
        _bf16_head(network)
    elif head == "int8":
        _int8_head(network, source, device)


def _bf16_head(network: nn.Module):
    """The output head as a bf16 copy: in int4 models it reads more bytes per token than all layers together
    (SmolLM2: 113 MB fp32 vs 66 MB of int4), and bf16 changes its logits far less than int4 (measured: KL to
    the fp32 head 3e-4 -> 3e-4, int8 per row 1e-3, int4 4e-2). An untied lm_head is kept only in bf16."""
    head = Bf16Head(network.output_weight())
    network.output_head = head
    if hasattr(network, "lm_head"):
        network.lm_head.weight = nn.Parameter(head.weight, requires_grad=False)


def _int8_head(network: nn.Module, source: ModelSource, device: torch.device):
    """The output head as int8 in groups of 32: in fp32 the head reads more bytes per token than all int4
    layers together (SmolLM2: 113 MB against 66 MB); as int8 it stays close to it (SmolLM2 against the
    dequantized file: top-1 97.8%, KL 7.6e-4, against 99.2% and 2.8e-4 with the fp32 head; BENCHMARKS.md)."""
    name = "model.embed_tokens.weight" if not hasattr(network, "lm_head") else "lm_head.weight"
    weight = network.output_weight()
    if weight.device.type != "cpu" or weight.shape[1] % GROUP:
        return  # the kernel is the CPU one; other devices keep the plain head
    if source.stored(name) == "Q8_0" and source.read_blocks is not None:
        q8, d = q8_groups(source.read_blocks(name)[1], tuple(weight.shape))
        network.output_head = Int8Head(q8, d, device)
    else:
        network.output_head = Int8Head.from_float(weight, device)
    if hasattr(network, "lm_head"):  # untied: the float copy is no longer needed
        network.lm_head.weight = nn.Parameter(torch.empty(0, weight.shape[1]), requires_grad=False)


def _module_of(network: nn.Module, parameter_name: str) -> nn.Module:
    return network.get_submodule(parameter_name.rsplit(".", 1)[0])


def int4_weight_bytes(network: nn.Module) -> int:
    return sum(m.nbytes() for m in network.modules() if isinstance(m, Int4Linear))
