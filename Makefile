# Each target creates .venv if it is missing and installs the project (editable) with its extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Ruff's settings live here: the layout keeps pyproject.toml to the build-system table.
# RUF012 is off: Freqtrade strategies declare minimal_roi and the like as plain class dicts.
RUFF_CONFIG := --config 'line-length = 100' --config 'target-version = "py311"' \
	--config 'lint.extend-select = ["I", "UP", "B", "ANN001", "ANN201"]' \
	--config 'lint.extend-ignore = ["RUF012"]' \
	--config 'lint.per-file-ignores = {"tests/**" = ["ANN001", "ANN201"]}' \
	--config 'lint.isort.known-first-party = ["freqtrade_posmgmt"]'
LINTED := freqtrade_posmgmt tests user_data/strategies

.PHONY: demo test bench lint format

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test,hyperopt,distributed,lab]'
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

lint: $(STAMP)
	$(BIN)/ruff check $(RUFF_CONFIG) $(LINTED)
	$(BIN)/ruff format --check $(RUFF_CONFIG) $(LINTED)

format: $(STAMP)
	$(BIN)/ruff check --fix $(RUFF_CONFIG) $(LINTED)
	$(BIN)/ruff format $(RUFF_CONFIG) $(LINTED)
