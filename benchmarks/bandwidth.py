"""Measure this machine's memory bandwidth with a large tensor copy (the decode loop's physical limit)."""
from __future__ import annotations

import time

import torch


def measure_bandwidth(device: str = "cpu", megabytes: int = 512, repeats: int = 5) -> float:
    """Best observed bytes/s of `dst.copy_(src)` (each copy reads and writes the buffer once)."""
    n = megabytes * 2**20 // 4
    src = torch.ones(n, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)  # touch every page first
    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        dst.copy_(src)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n * 4 / best
