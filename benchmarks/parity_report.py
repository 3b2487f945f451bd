"""Print the engine-vs-transformers agreement per architecture and configuration: the largest
full-forward logit difference (fp32) and how many of 64 greedy tokens through the KV cache match
transformers'.

`python -m benchmarks.parity_report` (needs the test extra: transformers). The tests assert
the same bounds (tests/engine/test_parity.py, test_parity_architectures.py); this prints the numbers.
`--only gemma2,phi3` limits it to some architectures.
"""
import argparse
import sys
import tempfile
from pathlib import Path

import torch

import engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from checkpoints import ARCHITECTURE_VARIANTS, make_checkpoint  # noqa: E402

CASES = [
    ("llama", {}), ("llama", {"tie_word_embeddings": True}),
    ("llama", {"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 64}}),
    ("mistral", {"sliding_window": 24}), ("qwen2", {}), ("qwen3", {}),
    *ARCHITECTURE_VARIANTS,
]


def describe(overrides: dict) -> str:
    """The options of a configuration, short enough for a table cell."""
    parts = []
    for key, value in overrides.items():
        if key == "rope_scaling":
            parts.append(value.get("rope_type") or value.get("type"))
        elif isinstance(value, bool) and value:
            parts.append(key)
        else:
            parts.append(f"{key}={value}")
    return ", ".join(parts) or "-"


def main(argv=None):
    import transformers

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated architectures (default: all)")
    args = parser.parse_args(argv)
    only = {a for a in args.only.split(",") if a}
    print("| architecture | options | max abs logit diff | greedy tokens equal |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for index, (arch, overrides) in enumerate(CASES):
            if only and arch not in only:
                continue
            path = make_checkpoint(Path(scratch) / str(index), arch, **overrides)
            ours = engine.load(path, device="cpu", precision="fp32")
            theirs = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
            ids = torch.randint(0, ours.info.vocab_size, (2, 64), generator=torch.Generator().manual_seed(index))
            ids = ids[:, : ours.info.context_length]
            with torch.no_grad():
                diff = (ours.logits(ids) - theirs(ids).logits).abs().max().item()
                prompt = ours.tokenizer.encode("The animal didn't cross the street")
                # eos_token_id=None: min_new_tokens would otherwise forbid EOS, which the engine may pick
                expected = theirs.generate(torch.tensor([prompt]), max_new_tokens=64, min_new_tokens=64,
                                           do_sample=False, eos_token_id=None, pad_token_id=0)[0, len(prompt):].tolist()
            got = [t.id for t in ours.generate(prompt, engine.Sampling(max_new_tokens=64, stop_on_eos=False))]
            same = sum(a == b for a, b in zip(got, expected))
            print(f"| {arch} | {describe(overrides)} | {diff:.2e} | {same}/64 |", flush=True)


if __name__ == "__main__":
    main()
