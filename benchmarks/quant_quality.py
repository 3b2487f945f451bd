"""How much quantization changes a model's predictions: next-token top-1 agreement with fp32
and mean KL(fp32 || quantized) over a fixed text, per precision.

`python -m benchmarks.quant_quality [--model PATH] [--text FILE] [--positions 512]
[--precisions ...] [--int4-heads int8,bf16,fp32]` prints a Markdown table (int4 once per output-head
dtype; on a Q4_0/Q4_1 GGUF the fp32 reference is the file dequantized); `agreement()` is also used by the tests that assert the quality bounds.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

import engine

DEFAULT_TEXT = Path(__file__).resolve().parent.parent / "tests" / "engine" / "fixtures" / "train_corpus" / "sonnets_1_40.txt"


def windows(model: engine.Model, text: str, positions: int) -> list[list[int]]:
    """Token windows (each at most the context length) covering `positions` predicted positions."""
    ids = model.tokenizer.encode(text)
    size = min(model.info.context_length, 256)
    chunks, needed = [], positions
    while needed > 0:
        start = len(chunks) * size
        chunk = ids[start:start + size + 1]
        if len(chunk) < 2:
            raise ValueError(f"the text has too few tokens for {positions} positions")
        chunks.append(chunk[: min(len(chunk), needed + 1)])
        needed -= len(chunks[-1]) - 1
    return chunks


@torch.inference_mode()
def agreement(reference: engine.Model, candidate: engine.Model, text: str, positions: int = 512) -> dict:
    agree, total, kl_sum = 0, 0, 0.0
    for chunk in windows(reference, text, positions):
        ids = torch.tensor([chunk[:-1]])
        ref = reference.logits(ids)[0].log_softmax(-1)  # (T, V)
        cand = candidate.logits(ids)[0].log_softmax(-1)  # (T, V)
        agree += int((ref.argmax(-1) == cand.argmax(-1)).sum())
        kl_sum += float((ref.exp() * (ref - cand)).sum(-1).sum())
        total += ref.shape[0]
    return {"positions": total, "top1_agreement": agree / total, "mean_kl": kl_sum / total}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    parser.add_argument("--text", default=str(DEFAULT_TEXT))
    parser.add_argument("--positions", type=int, default=512)
    parser.add_argument("--precisions", default="bf16,fp16,int8,nf4,fp4")
    parser.add_argument("--int4-heads", default="int8", help="int4's output-head dtypes to compare (int8,bf16,fp32)")
    args = parser.parse_args(argv)
    text = Path(args.text).read_text(encoding="utf-8")
    reference = engine.load(args.model, device="cpu", precision="fp32")
    print(f"model: {reference.info.path} ({reference.info.n_params / 1e6:.1f}M params), {args.positions} positions\n")
    print("| precision | top-1 agreement with fp32 | mean KL (nats) | weights MiB |")
    print("|---|---|---|---|")
    for precision in args.precisions.split(","):
        heads = args.int4_heads.split(",") if precision == "int4" else [None]
        for head in heads:
            options = {"int4_head": head} if head else {}
            candidate = engine.load(args.model, device="cpu", precision=precision, **options)
            result = agreement(reference, candidate, text, args.positions)
            label = f"{precision} ({head} head)" if head else precision
            print(f"| {label} | {result['top1_agreement']:.1%} | {result['mean_kl']:.2e} | "
                  f"{candidate.memory()['weights_bytes'] / 2**20:.1f} |")


if __name__ == "__main__":
    main()
