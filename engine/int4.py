"""4-bit weights kept packed in memory and multiplied by torch's own int4 kernels.

`Int4Linear` holds a projection as 4-bit values in groups of 32 along the input dimension, each
group with a scale and a zero (w = (q - 8) * scale + zero), packed for
`torch.ops.aten._weight_int4pack_mm_for_cpu` (AVX-512/AVX2 kernel, bf16 activations) or
`_weight_int4pack_mm` on CUDA. GGUF Q4_0 and Q4_1 blocks map onto that layout exactly
(Q4_0: w = d * (q - 8); Q4_1: w = d * q + m, so zero = m + 8d), so a 4-bit GGUF file is used as
stored, not re-quantized. Other weights can be quantized to it (min/max per group, as Q4_1).
It does not read files (formats/ does) or choose when to use it (loader.py does).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

GROUP = 32  # values per scale/zero group (GGUF's Q4 block size)
Q4_BLOCK_BYTES = {"Q4_0": 18, "Q4_1": 20}  # per 32 values: fp16 d [, fp16 m], 16 bytes of nibbles
CUDA_INNER_K_TILES = 8
KERNEL_DTYPE = torch.bfloat16  # the CPU kernel is vectorized for bf16 activations only (fp32 runs ~40x slower)


def int4_available(device: torch.device) -> bool:
    ops = torch.ops.aten
    if device.type == "cuda":
        return hasattr(ops, "_weight_int4pack_mm") and hasattr(ops, "_convert_weight_to_int4pack")
    return hasattr(ops, "_weight_int4pack_mm_for_cpu") and hasattr(ops, "_convert_weight_to_int4pack_for_cpu")


class Int4Linear(nn.Module):
    """y = x @ W^T (+ bias) with W stored as packed 4-bit groups. Activations run in `dtype`."""

    def __init__(self, packed: torch.Tensor, scales_and_zeros: torch.Tensor, in_features: int, out_features: int,
                 bias: torch.Tensor | None, dtype: torch.dtype):
        super().__init__()
        self.in_features, self.out_features, self.dtype = in_features, out_features, dtype
        self.register_buffer("packed", packed)  # kernel layout, 4 bits per weight
        self.register_buffer("scales_and_zeros", scales_and_zeros)  # (in/32, out, 2) in dtype
        self.bias = nn.Parameter(bias, requires_grad=False) if bias is not None else None

    @classmethod
    def from_groups(cls, q: torch.Tensor, scales: torch.Tensor, zeros: torch.Tensor, bias: torch.Tensor | None,
                    dtype: torch.dtype, device: torch.device) -> "Int4Linear":
        """q: int (out, in) in 0..15; scales, zeros: (out, in/32) floats, w = (q - 8) * scale + zero."""
        out_features, in_features = q.shape
        if in_features % GROUP:
            raise ValueError(f"int4 needs the input size to be a multiple of {GROUP}, not {in_features}")
        q = q.to(device=device, dtype=torch.int32)
        if device.type == "cuda":
            nibbles = (q[:, ::2] << 4 | q[:, 1::2]).to(torch.uint8)  # (out, in/2): the CUDA packer's input
            packed = torch.ops.aten._convert_weight_to_int4pack(nibbles, CUDA_INNER_K_TILES)
        else:
            packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1)
        scales_and_zeros = torch.stack((scales.t(), zeros.t()), dim=-1).to(device=device, dtype=dtype).contiguous()
        return cls(packed, scales_and_zeros, in_features, out_features, bias, dtype)

    @classmethod
    def from_float(cls, weight: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype,
                   device: torch.device) -> "Int4Linear":
        """Quantize a float weight (out, in): per group of 32, 16 levels spanning its min..max (as Q4_1)."""
        out_features, in_features = weight.shape
        groups = weight.float().reshape(out_features, in_features // GROUP, GROUP)  # (out, in/32, 32)
        low, high = groups.amin(-1), groups.amax(-1)  # (out, in/32)
        scale = ((high - low) / 15).clamp(min=1e-12)
        q = ((groups - low[..., None]) / scale[..., None]).round().clamp(0, 15).reshape(out_features, in_features)
        return cls.from_groups(q, scale, low + 8 * scale, bias, dtype, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(-1, self.in_features).to(self.dtype)  # (M, in)
        scales = self.scales_and_zeros.contiguous()  # a view into a StackedInt4 is strided (copied; rare)
        if self.packed.device.type == "cuda":
            y = torch.ops.aten._weight_int4pack_mm(flat, self.packed, GROUP, scales)
        else:
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(flat, self.packed, GROUP, scales)
        y = y.reshape(*shape[:-1], self.out_features).to(x.dtype)  # (..., out) in the caller's dtype
        return y + self.bias if self.bias is not None else y

    def nbytes(self) -> int:
        return self.packed.numel() * self.packed.element_size() + \
            self.scales_and_zeros.numel() * self.scales_and_zeros.element_size()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, group={GROUP}, dtype={self.dtype}"


class StackedInt4:
    """Several Int4Linear layers reading the same input, run as one int4 matmul over their stacked
    packed weights (the kernel's packing is row-separable in blocks of 64 outputs). The layers' own
    buffers become views into the stack, so memory and names are unchanged. Not an nn.Module: the
    network's parameters and buffers stay those of the layers."""

    ROW_BLOCK = 64

    def __init__(self, layers: list[Int4Linear]):
        self.in_features, self.dtype = layers[0].in_features, layers[0].dtype
        self.packed = torch.cat([layer.packed for layer in layers])  # (sum out, ...)
        self.scales_and_zeros = torch.cat([layer.scales_and_zeros for layer in layers], dim=1)  # (in/32, sum out, 2)
        biases = [layer.bias for layer in layers]
        self.bias = torch.cat(biases) if biases[0] is not None else None
        self.sizes = [layer.out_features for layer in layers]
        self.out_features = sum(self.sizes)
        offset = 0
        for layer in layers:
            n = layer.out_features
            layer.packed = self.packed[offset:offset + n]
            layer.scales_and_zeros = self.scales_and_zeros[:, offset:offset + n]
            if self.bias is not None:
                layer.bias = nn.Parameter(self.bias[offset:offset + n], requires_grad=False)
            offset += n

    @classmethod
    def possible(cls, layers) -> bool:
        first = layers[0]
        return all(
            type(layer) is Int4Linear and layer.in_features == first.in_features and layer.dtype == first.dtype
            and layer.packed.device == first.packed.device and layer.packed.device.type == "cpu"
            and layer.out_features % cls.ROW_BLOCK == 0 and (layer.bias is None) == (first.bias is None)
            for layer in layers
        )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(-1, self.in_features).to(self.dtype)  # (M, in)
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(flat, self.packed, GROUP, self.scales_and_zeros)
        y = y.reshape(*shape[:-1], self.out_features).to(x.dtype)  # (..., sum out)
        return y + self.bias if self.bias is not None else y


class Int8Head:
    """The output matmul with int8 weights in groups of 32 (GGUF Q8_0's layout: one scale d per 32
    values, w = d * q), run on torch's int4 kernel as two nibbles: q = 16 h + l with h in -8..7 and
    l in 0..15, so w = 16d ((h + 8) - 8)  +  (d ((l) - 8) + 8d). One matmul over the two halves
    stacked, then a sum: exact Q8_0 weights (scales in bf16), half the bytes of bf16 and a fraction
    of its time. Not an nn.Module."""

    kind = "int8"  # how Model.memory() reports its bytes
    CHUNK_ROWS = 4096  # rows packed at a time (a multiple of the 64-row block): a 128k vocabulary at once would take GBs of int32

    def __init__(self, q8: torch.Tensor, d: torch.Tensor, device: torch.device):
        rows, columns = q8.shape  # (V, C) int8, d (V, C/32)
        pad = -rows % StackedInt4.ROW_BLOCK  # zero rows, cut off after: packed halves then join row-separably
        q8 = torch.cat((q8, q8.new_zeros(pad, columns)))  # (V', C)
        d = torch.cat((d, d.new_zeros(pad, d.shape[1])))  # (V', C/32)
        highs, lows = [], []
        for start in range(0, rows + pad, self.CHUNK_ROWS):
            signed = q8[start:start + self.CHUNK_ROWS].to(torch.int32)  # (n, C) in -128..127
            high = torch.div(signed, 16, rounding_mode="floor")  # -8..7
            highs.append(self._pack(high + 8, device))  # as 0..15
            lows.append(self._pack(signed - 16 * high, device))  # 0..15
        self.packed = torch.cat(highs + lows)  # (2V', C/2): high nibbles, then low ones
        scales = torch.cat((16 * d, d))  # (2V', C/32)
        zeros = torch.cat((torch.zeros_like(d), 8 * d))  # no large offsets: nothing cancels in bf16
        self.rows, self.padded, self.in_features = rows, rows + pad, columns
        self.scales_and_zeros = torch.stack((scales.t(), zeros.t()), -1).to(device=device, dtype=KERNEL_DTYPE).contiguous()

    @staticmethod
    def _pack(q: torch.Tensor, device: torch.device) -> torch.Tensor:
        return torch.ops.aten._convert_weight_to_int4pack_for_cpu(q.to(device), 1)

    @classmethod
    def from_float(cls, weight: torch.Tensor, device: torch.device) -> "Int8Head":
        """Quantize (V, C) floats to int8 per group of 32 (absmax, as GGUF's Q8_0)."""
        rows, columns = weight.shape
        groups = weight.float().reshape(rows, columns // GROUP, GROUP)  # (V, C/32, 32)
        d = (groups.abs().amax(-1) / 127).clamp(min=1e-12)  # (V, C/32)
        q8 = (groups / d[..., None]).round().clamp(-127, 127).to(torch.int8).reshape(rows, columns)
        return cls(q8, d, device)

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        flat = rows.to(KERNEL_DTYPE)  # (N, C)
        both = torch.ops.aten._weight_int4pack_mm_for_cpu(flat, self.packed, GROUP, self.scales_and_zeros)  # (N, 2V')
        high, low = both[:, :self.rows], both[:, self.padded:self.padded + self.rows]  # (N, V) each
        return (high.float() + low.float()).to(rows.dtype)  # (N, V)

    def nbytes(self) -> int:
        return self.packed.numel() * self.packed.element_size() + \
            self.scales_and_zeros.numel() * self.scales_and_zeros.element_size()


def q8_groups(blocks: np.ndarray, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """GGUF Q8_0 blocks (rows, in/32 * 34) -> (q (out, in) int8, d (out, in/32))."""
    rows, columns = shape
    raw = np.ascontiguousarray(blocks).reshape(rows, columns // GROUP, 34)  # fp16 d, 32 int8 values
    d = raw[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    q = raw[..., 2:].copy().view(np.int8).reshape(rows, columns)
    return torch.from_numpy(q), torch.from_numpy(d)


def q4_groups(blocks: np.ndarray, kind: str, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """GGUF Q4_0/Q4_1 blocks (rows, in/32 * block bytes) -> (q (out, in) 0..15, scales, zeros (out, in/32))."""
    rows, columns = shape
    size = Q4_BLOCK_BYTES[kind]
    raw = np.ascontiguousarray(blocks).reshape(rows, columns // GROUP, size)  # (out, in/32, bytes)
    d = raw[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)  # (out, in/32)
    nibbles = raw[..., size - 16:]  # (out, in/32, 16): value j in the low half of byte j, j+16 in the high
    q = np.concatenate((nibbles & 0x0F, nibbles >> 4), axis=-1).reshape(rows, columns)  # (out, in)
    if kind == "Q4_0":
        zeros = np.zeros_like(d)
    else:
        m = raw[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
        zeros = m + 8 * d
    return torch.from_numpy(q.astype(np.int32)), torch.from_numpy(d), torch.from_numpy(zeros)
