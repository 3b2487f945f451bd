#!/usr/bin/env bash
# The GPU measurements of BENCHMARKS.md, as one short script for a lent GPU machine (the device tool).
# That machine has torch, transformers and accelerate but not bitsandbytes: carry its wheel first, here:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_24_x86_64 -d .whl bitsandbytes==0.50.2
# then run this with carry [".whl"] (about 6-8 minutes on an H100). The default model's 98 MB GGUF is over the
# carry limit, so SmolLM2 runs as a random checkpoint of its shape (--random smollm2-135m); int4 there is the
# same packed-4-bit kernel path a Q4_0/Q4_1 GGUF loads into (quantized at load instead of read as stored),
# and transformers' side of int4 is bitsandbytes nf4 (the 4-bit GGUF target is "at least 1.5x nf4").
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
out=${OUT:-.}
nvidia-smi -L | tee "$out/gpu-bench.md"
python3 -m benchmarks bench --random smollm2-135m --precision bf16,nf4,int4 --device cuda \
    --prompt-tokens 16 --new-tokens 128 --repeats 3 --compare-hf 2>&1 | tee -a "$out/gpu-bench.md"
python3 -m benchmarks bench --random llama-3.2-1b --precision bf16,int8,nf4,int4 --device cuda \
    --prompt-tokens 32 --new-tokens 256 --repeats 3 --compare-hf 2>&1 | tee -a "$out/gpu-bench.md"
python3 -m benchmarks bench --random llama-3.2-1b --precision bf16 --device cuda \
    --prompt-tokens 512 --new-tokens 32 --repeats 3 --compare-hf 2>&1 | tee -a "$out/gpu-bench.md"
