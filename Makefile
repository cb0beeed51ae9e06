# Each target creates .venv if it is missing and installs the project (editable) with its extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint format

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test,hyperopt,distributed]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/freqtrade-posmgmt demo

test: lint
	$(BIN)/python -m pytest

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
