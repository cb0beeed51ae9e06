"""Fixtures shared by the test modules."""

import pytest

from tests.support.backtest_harness import load_strategy


@pytest.fixture
def load(tmp_path):
    """Load a strategy class the way Freqtrade does, with config.json overrides."""
    return lambda strategy, overrides=None: load_strategy(strategy, tmp_path, overrides)
