"""Timing one generation setup, ours and (optionally) transformers', the same way for both.

time to first token = prefill + first token; decode tokens/s = (N - 1) / (time after the first
token); prefill tokens/s = prompt tokens / prefill time. Runs alternate between the two
implementations and medians are reported, so background load affects both alike.
"""
from __future__ import annotations

import resource
import statistics
import time
from dataclasses import asdict, dataclass, field

import torch

import engine


@dataclass
class Timing:
    ttft_s: list[float] = field(default_factory=list)
    decode_tps: list[float] = field(default_factory=list)
    prefill_tps: list[float] = field(default_factory=list)

    def medians(self) -> dict:
        return {k: statistics.median(v) for k, v in asdict(self).items() if v}


def sync(device: str):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_engine(model: engine.Model, prompt: list[int], new_tokens: int, timing: Timing):
    model._cached_ids = []  # measure a cold prefill every time
    settings = engine.Sampling(max_new_tokens=new_tokens, stop_on_eos=False)
    stream = model.generate(prompt, settings)
    count = sum(1 for _ in stream)
    assert count == new_tokens, count
    timing.ttft_s.append(stream.stats.time_to_first_token_s)
    timing.decode_tps.append(stream.stats.decode_tokens_per_s)
    timing.prefill_tps.append(len(prompt) / stream.stats.time_to_first_token_s)


def time_transformers(hf_model, prompt: list[int], new_tokens: int, timing: Timing, device: str):
    ids = torch.tensor([prompt], device=device)
    kwargs = dict(do_sample=False, pad_token_id=0, eos_token_id=None)
    sync(device)
    start = time.perf_counter()
    hf_model.generate(ids, max_new_tokens=1, min_new_tokens=1, **kwargs)
    sync(device)
    first = time.perf_counter() - start
    start = time.perf_counter()
    out = hf_model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **kwargs)
    sync(device)
    total = time.perf_counter() - start
    assert out.shape[1] == len(prompt) + new_tokens
    timing.ttft_s.append(first)
    timing.decode_tps.append((new_tokens - 1) / max(total - first, 1e-9))
    timing.prefill_tps.append(len(prompt) / first)


def weight_bytes_read_per_token(model: engine.Model) -> int:
    """Every weight is read once per decoded token, except the embedding table (one row) when untied."""
    total = model.memory()["weights_bytes"]
    if not model.config.tie_word_embeddings:
        emb = model.network.model.embed_tokens.weight
        total -= emb.numel() * emb.element_size()
    return total


def peak_memory_bytes(device: str) -> int:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
