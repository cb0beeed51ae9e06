# Each target creates .venv if it is missing and installs the project (editable) with its extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast docs bench lint format

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test,hyperopt,distributed,docs,lab]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/freqtrade-posmgmt demo

# The docs build is a prerequisite, not a test: one build per run, and a pytest run of a single
# file does not pay for it.
test: lint docs
	$(BIN)/python -m pytest

# Unit and quick integration tests (every test not marked slow): under two minutes.
test-fast: lint docs
	$(BIN)/python -m pytest -m "not slow"

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Every benchmark runs even when an earlier one misses its target; the status tells if any did.
bench: $(STAMP)
	@status=0; for script in tests/benchmarks/bench_*.py; do \
		echo "== $$script"; \
		PYTHONPATH=.:user_data/strategies $(BIN)/python -m tests.benchmarks.$$(basename $$script .py) \
			|| status=1; \
	done; exit $$status

# Ruff's settings are in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/ruff format --check

format: $(STAMP)
	$(BIN)/ruff check --fix
	$(BIN)/ruff format
