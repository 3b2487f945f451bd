"""Which devices and precisions this machine can run, resolved from what the user asked for.

Knows torch's view of CUDA; nothing about models. `auto` picks CUDA when present; precision
`auto` picks bf16 on a GPU that supports it, fp16 on other GPUs, fp32 on the CPU (the loader
picks int4 instead for a GGUF file stored in Q4_0/Q4_1, see loader.py).
"""
from __future__ import annotations

import torch

from .errors import DeviceError, PrecisionError
from .types import DeviceInfo

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8", "nf4", "fp4", "int4")
FLOAT_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
QUANTIZED = ("int8", "nf4", "fp4")


def available_devices() -> list[DeviceInfo]:
    devices = [DeviceInfo("cpu", "CPU")]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            name = torch.cuda.get_device_name(index)
            label = f"cuda:{index} {name} ({free / 2**30:.1f} of {total / 2**30:.1f} GiB free)"
            devices.append(DeviceInfo(f"cuda:{index}", label, free, total))
    return devices


def resolve_device(requested: str) -> torch.device:
    requested = (requested or "auto").strip().lower()
    if requested == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if requested == "cpu":
        return torch.device("cpu")
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                "CUDA was requested but this machine has no usable CUDA GPU (or this torch build has no CUDA); "
                "use --device cpu"
            )
        try:
            index = int(requested.split(":")[1]) if ":" in requested else 0
        except ValueError:
            raise DeviceError(f"unknown device {requested!r}; use auto, cpu or cuda[:N]") from None
        if index >= torch.cuda.device_count():
            raise DeviceError(f"there is no {requested}; this machine has {torch.cuda.device_count()} CUDA device(s)")
        return torch.device(f"cuda:{index}")
    raise DeviceError(f"unknown device {requested!r}; use auto, cpu or cuda[:N]")


def resolve_precision(requested: str, device: torch.device) -> str:
    requested = (requested or "auto").strip().lower()
    if requested not in PRECISIONS:
        raise PrecisionError(f"unknown precision {requested!r}; available: {', '.join(PRECISIONS)}")
    if requested == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if requested == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise PrecisionError("this GPU does not support bf16; use fp16, int8, nf4 or fp4")
    return requested
