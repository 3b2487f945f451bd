"""The speed floors of a model on this machine: the time of its weight matmuls alone.

`python -m benchmarks.gemv_floor [--model PATH | --random llama-16m] [--prompt-tokens 512]`

- decode floor: one token's matmuls (one row through every weight the decode step reads, as the
  engine runs them: q/k/v stacked, gate/up stacked, the output projection), per thread count.
  No attention, norms, sampling or Python loop: a token can never decode faster than this.
- prefill floor: a prompt's matmuls (every row through every layer weight, the output projection
  for the last row only, as both glasslm and transformers' generate() do), with the FLOP rate.
  No attention or elementwise work: the first token can never come sooner than this.

It compares nothing and asserts nothing; BENCHMARKS.md sets these floors beside the measured figures.
"""
import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import engine

from .random_checkpoint import SHAPES, LlamaShape, write_random_llama


def layer_weights(network) -> list[torch.Tensor]:
    """The 2-D weights one token multiplies by, in the engine's own (stacked) layout."""
    weights = []
    for layer in network.model.layers:
        attn, mlp = layer.self_attn, layer.mlp
        weights += [attn.qkv.weight] if attn.qkv is not None else [attn.q_proj.weight, attn.k_proj.weight,
                                                                    attn.v_proj.weight]
        weights.append(attn.o_proj.weight)
        weights += [mlp.gate_up.weight] if mlp.gate_up is not None else [mlp.gate_proj.weight, mlp.up_proj.weight]
        weights.append(mlp.down_proj.weight)
    return weights


def best_time(work, repeats: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            work()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    parser.add_argument("--random", metavar="SHAPE", help=f"a random Llama checkpoint instead: {', '.join(SHAPES)}")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        path = args.model
        if args.random:
            path = write_random_llama(Path(scratch) / "random", SHAPES.get(args.random) or LlamaShape.parse(args.random))
        model = engine.load(path, device="cpu", precision="fp32")
    network = model.network
    weights = layer_weights(network)
    output = network.output_weight()
    every = weights + [output]
    nbytes = sum(w.numel() * w.element_size() for w in every)
    with torch.inference_mode():
        rows = {w.shape[1]: torch.randn(1, w.shape[1]) for w in every}
        for threads in sorted({1, torch.get_num_threads()}):
            torch.set_num_threads(threads)
            seconds = best_time(lambda: [F.linear(rows[w.shape[1]], w) for w in every], args.repeats)
            print(f"decode floor, {threads} thread(s): {len(every)} matmuls, {nbytes / 2**20:.1f} MiB, "
                  f"{seconds * 1000:.3f} ms per token -> at most {1 / seconds:.0f} tok/s ({nbytes / seconds / 1e9:.1f} GB/s)")
        T = args.prompt_tokens
        prompt = {w.shape[1]: torch.randn(T, w.shape[1]) for w in weights}
        flops = sum(2 * T * w.numel() for w in weights) + 2 * output.numel()
        seconds = best_time(lambda: ([F.linear(prompt[w.shape[1]], w) for w in weights],
                                     F.linear(rows[output.shape[1]], output)), max(3, args.repeats // 40))
        print(f"prefill floor, {torch.get_num_threads()} thread(s), {T} tokens: {len(every)} matmuls, "
              f"{flops / 1e9:.2f} GFLOP, {seconds * 1000:.1f} ms ({flops / seconds / 1e9:.0f} GFLOP/s)")


if __name__ == "__main__":
    main()
