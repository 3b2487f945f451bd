#!/usr/bin/env bash
# Builds llama-cpp-python (llama.cpp) from source into its own virtualenv, for
# `glasslm bench --compare llama.cpp`. Optional: never part of `make test`. About 8 minutes on 2 cores.
# GGML_NATIVE=ON crashes on some virtual CPUs, so the instruction sets are named explicitly;
# override with CMAKE_ARGS. Usage: benchmarks/install_llamacpp.sh [VENV] (default .venv-llamacpp)
set -euo pipefail
VENV="${1:-.venv-llamacpp}"
python3 -m venv "$VENV"
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
"$VENV/bin/pip" install --disable-pip-version-check -q "llama-cpp-python${LLAMA_CPP_VERSION:+==$LLAMA_CPP_VERSION}"
"$VENV/bin/python" -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__, 'in $VENV')"
