"""Fixtures and markers shared by the test modules."""

import pytest

from tests.support.backtest_harness import load_strategy


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: a test that takes long (whole-span backtests, hyperopt, subprocesses); "
        "make test-fast leaves it out, make test runs it",
    )


@pytest.fixture
def load(tmp_path):
    """Load a strategy class the way Freqtrade does, with config.json overrides."""
    return lambda strategy, overrides=None: load_strategy(strategy, tmp_path, overrides)
