#!/usr/bin/env bash
# The GPU measurements of BENCHMARKS.md, as one short script for a lent GPU machine (the device tool).
# That machine has torch, transformers and accelerate but not bitsandbytes: carry its wheel first, here:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_24_x86_64 -d .whl bitsandbytes==0.50.2
# then run this with carry [".whl"] (about 6-8 minutes on an H100).
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
out=${OUT:-.}
nvidia-smi -L | tee "$out/gpu-bench.md"
python3 -m benchmarks bench --random llama-3.2-1b --precision bf16,int8,nf4 --device cuda \
    --prompt-tokens 32 --new-tokens 256 --repeats 3 --compare-hf 2>&1 | tee -a "$out/gpu-bench.md"
python3 -m benchmarks bench --random llama-3.2-1b --precision bf16 --device cuda \
    --prompt-tokens 512 --new-tokens 32 --repeats 3 --compare-hf 2>&1 | tee -a "$out/gpu-bench.md"
