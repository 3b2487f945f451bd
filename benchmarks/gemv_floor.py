"""The decode floor of a model on this machine: the time of its weight matmuls alone for one token
(every 2-D weight but the embedding table, as F.linear on a single row), per thread count.

`python -m benchmarks.gemv_floor [--model PATH]`. No attention, norms, sampling or Python loop
around the model: a token can never decode faster than this.
"""
import argparse
import time

import torch

import engine


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)
    model = engine.load(args.model, device="cpu", precision="fp32")
    weights = [p for n, p in model.network.named_parameters() if p.dim() == 2 and "embed_tokens" not in n]
    if model.config.tie_word_embeddings:
        weights.append(model.network.model.embed_tokens.weight)  # it is also the output projection
    rows = {w.shape[1]: torch.randn(1, w.shape[1]) for w in weights}
    nbytes = sum(w.numel() * w.element_size() for w in weights)
    for threads in sorted({1, torch.get_num_threads()}):
        torch.set_num_threads(threads)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(args.repeats):
                for w in weights:
                    torch.nn.functional.linear(rows[w.shape[1]], w)
            best = min(best, (time.perf_counter() - start) / args.repeats)
        print(f"{threads} thread(s): {len(weights)} matmuls, {nbytes / 2**20:.1f} MiB, {best * 1000:.3f} ms per token "
              f"-> at most {1 / best:.0f} tok/s ({nbytes / best / 1e9:.1f} GB/s)")


if __name__ == "__main__":
    main()
