"""`glasslm bench`: decode and prefill speed, time to first token and peak memory of the engine,
optionally side by side with transformers' generate() and with llama.cpp on the same weights
(`--compare hf,llama.cpp`; llama.cpp runs in its own virtualenv, see install_llamacpp.sh), and the
share of the machine's memory bandwidth the decode loop reaches. Prints a Markdown table.
"""
from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import tempfile
from pathlib import Path

import torch

import engine

from .bandwidth import measure_bandwidth
from .harness import Timing, peak_memory_bytes, time_engine, time_transformers, weight_bytes_read_per_token
from .random_checkpoint import SHAPES, LlamaShape, write_random_llama


def register(subparsers):
    bench = subparsers.add_parser("bench", help="measure generation speed (optionally against transformers)")
    bench.add_argument("--model", help="model folder (default: the bundled model)")
    bench.add_argument("--random", metavar="SHAPE",
                       help=f"benchmark a random Llama checkpoint instead: {', '.join(SHAPES)} or "
                            "'hidden=384,layers=6,heads=6,kv=2,inter=1024,vocab=8192'")
    bench.add_argument("--precision", default="auto", help="one or more, comma separated (e.g. fp32,bf16,int8,nf4)")
    bench.add_argument("--device", default="auto")
    bench.add_argument("--prompt-tokens", type=int, default=32)
    bench.add_argument("--new-tokens", type=int, default=256)
    bench.add_argument("--repeats", type=int, default=3, help="alternating runs per implementation (medians)")
    bench.add_argument("--compare-hf", action="store_true", help="also time transformers' generate()")
    bench.add_argument("--compare", default="", help="hf, llama.cpp or both (comma separated): also time them "
                                                      "(llama.cpp needs a .gguf model and benchmarks/install_llamacpp.sh)")
    bench.add_argument("--llamacpp-python", default=os.environ.get("GLASSLM_LLAMACPP_PYTHON", ".venv-llamacpp/bin/python"),
                       help="the Python of the llama.cpp virtualenv (default .venv-llamacpp/bin/python)")
    bench.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    bench.add_argument("--decode", default="auto", choices=("auto", "eager", "static", "compiled"),
                       help="engine decode step (auto: compiled on CUDA, eager on CPU)")
    bench.set_defaults(handler=run_bench)


def run_bench(args) -> int:
    if args.new_tokens < 2 or args.prompt_tokens < 1 or args.repeats < 1:
        raise engine.EngineError("--new-tokens must be at least 2 (decode speed needs a token after the first), "
                                 "--prompt-tokens and --repeats at least 1")
    shape = None
    if args.random:
        try:
            shape = SHAPES.get(args.random) or LlamaShape.parse(args.random)
        except (ValueError, TypeError) as err:
            raise engine.EngineError(f"--random {args.random}: {err}") from None
    compare = {c.strip().lower() for c in args.compare.split(",") if c.strip()}
    unknown = compare - {"hf", "transformers", "llama.cpp", "llamacpp"}
    if unknown:
        raise engine.EngineError(f"--compare {', '.join(sorted(unknown))}: choose hf and/or llama.cpp")
    args.compare_hf = args.compare_hf or bool(compare & {"hf", "transformers"})
    args.compare_llamacpp = bool(compare & {"llama.cpp", "llamacpp"})
    if args.compare_llamacpp and not Path(args.llamacpp_python).exists():
        raise engine.EngineError(f"--compare llama.cpp needs llama-cpp-python in its own virtualenv, and "
                                 f"{args.llamacpp_python} does not exist: run benchmarks/install_llamacpp.sh "
                                 "(about 8 minutes) or pass --llamacpp-python")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = str(engine.devices.resolve_device(args.device))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.model).expanduser() if args.model else engine.default_model_path()
        if args.compare_llamacpp and not (folder.suffix == ".gguf" and not args.random):
            raise engine.EngineError("--compare llama.cpp needs a .gguf model file (--model FILE.gguf)")
        if args.random:
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
            folder = write_random_llama(Path(scratch) / "random", shape, dtype=dtype)
        bandwidth = measure_bandwidth(device)
        print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
              f"device {device}, torch {torch.__version__}")
        print(f"memory bandwidth (tensor copy): {bandwidth / 1e9:.1f} GB/s")
        print(f"model: {folder} | prompt {args.prompt_tokens} tokens | {args.new_tokens} new tokens | "
              f"decode {args.decode} | {args.repeats} alternating runs, medians\n")
        print("| precision | impl | decode tok/s | prefill tok/s | first token ms | bandwidth share | peak MiB | ratio |")
        print("|---|---|---|---|---|---|---|---|")
        for precision in args.precision.split(","):
            bench_one(folder, precision.strip(), device, args, bandwidth)
    return 0


def bench_one(folder: Path, precision: str, device: str, args, bandwidth: float):
    model = engine.load(folder, device=device, precision=precision, decode=args.decode)
    rng = random.Random(0)
    prompt = [rng.randrange(3, model.info.vocab_size) for _ in range(args.prompt_tokens)]
    hf_model = load_transformers(folder, model.info.precision, device) if args.compare_hf else None
    llamacpp = run_llamacpp(args, folder, prompt) if getattr(args, "compare_llamacpp", False) else None
    ours, theirs = Timing(), Timing()
    # warm-up at full length: the KV cache gets its final size, so a compiled step is compiled here,
    # not again inside the first timed run
    time_engine(model, prompt, args.new_tokens, Timing())
    if hf_model is not None:
        time_transformers(hf_model, prompt[:8], 4, Timing(), device)
    for _ in range(args.repeats):
        time_engine(model, prompt, args.new_tokens, ours)
        if hf_model is not None:
            time_transformers(hf_model, prompt, args.new_tokens, theirs, device)
    per_token = weight_bytes_read_per_token(model)
    peak = peak_memory_bytes(device) / 2**20
    o = ours.medians()
    share = per_token * o["decode_tps"] / bandwidth
    ratio = ""
    if hf_model is not None:
        t = theirs.medians()
        ratio = f"{o['decode_tps'] / t['decode_tps']:.2f}x decode, {t['ttft_s'] / o['ttft_s']:.2f}x first token"
    print(f"| {model.info.precision} | glasslm | {o['decode_tps']:.1f} | {o['prefill_tps']:.0f} | "
          f"{o['ttft_s'] * 1000:.1f} | {share:.0%} | {peak:.0f} | {ratio} |")
    if hf_model is not None:
        t = theirs.medians()
        hf_share = per_token * t["decode_tps"] / bandwidth
        hf_precision = getattr(hf_model, "glasslm_precision", model.info.precision)
        print(f"| {hf_precision} | transformers | {t['decode_tps']:.1f} | {t['prefill_tps']:.0f} | "
              f"{t['ttft_s'] * 1000:.1f} | {hf_share:.0%} | | |")
    if llamacpp is not None:
        ratio = (f"glasslm {o['decode_tps'] / llamacpp['decode_tps']:.2f}x decode, "
                 f"{llamacpp['ttft_s'] / o['ttft_s']:.2f}x first token")
        print(f"| {folder.name} | llama.cpp {llamacpp['version']} | {llamacpp['decode_tps']:.1f} | "
              f"{llamacpp['prefill_tps']:.0f} | {llamacpp['ttft_s'] * 1000:.1f} | | | {ratio} |")


def run_llamacpp(args, gguf: Path, prompt: list[int]) -> dict:
    """Time llama.cpp on the same file and prompt in its own virtualenv (benchmarks/llamacpp_runner.py)."""
    runner = Path(__file__).with_name("llamacpp_runner.py")
    request = {"model": str(gguf), "prompt": prompt, "new_tokens": args.new_tokens, "repeats": args.repeats,
               "threads": args.threads or torch.get_num_threads()}
    done = subprocess.run([args.llamacpp_python, str(runner)], input=json.dumps(request), capture_output=True,
                          text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise engine.EngineError(f"llama.cpp could not run on {gguf.name}: {tail}")
    return json.loads(lines[-1])


def load_transformers(folder: Path, precision: str, device: str):
    try:
        import transformers
    except ImportError:
        raise engine.EngineError("--compare-hf needs transformers: pip install transformers accelerate")
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    kwargs = {}
    if folder.suffix == ".gguf":  # transformers dequantizes a GGUF to a float model
        kwargs["gguf_file"] = folder.name
        folder = folder.parent
        if precision not in ("fp32", "bf16", "fp16"):
            precision = "fp32"
    if precision == "int4":  # transformers has no int4 path of its own: its 4-bit is bitsandbytes' nf4
        precision = "nf4"
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    compute = torch.bfloat16 if device.startswith("cuda") else torch.float32
    if precision in dtypes:
        kwargs["dtype"] = dtypes[precision]
    elif precision == "int8":
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(load_in_8bit=True)
        kwargs["dtype"] = compute
    else:
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type=precision, bnb_4bit_compute_dtype=compute)
        kwargs["dtype"] = compute
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, device_map=device, **kwargs)
    model.glasslm_precision = precision  # what transformers ran (a GGUF: dequantized to a float dtype)
    return model.eval()
