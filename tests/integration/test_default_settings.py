"""
``class X(PositionManagementMixin, Y)`` with no settings at all, on ordinary configurations: it
loads without a warning, and correlation gating by default limits only a group that already holds
more than one full position, never an entry of a pair correlated with nothing held.
"""

import logging

import pytest
from example_strategy import ExampleStrategy

from freqtrade_posmgmt import PositionManagementMixin
from freqtrade_posmgmt.correlation_engine import symbol_key
from tests.support.backtest_harness import run_backtest

STRATEGIES: dict[str, object] = {}


class Unchanged(PositionManagementMixin, ExampleStrategy):
    def bot_start(self, **kwargs) -> None:
        STRATEGIES[type(self).__name__] = self
        super().bot_start(**kwargs)


# The shipped config is 10,000 USDT, stake_amount unlimited, 5 slots: a stake of 0.198 x equity.
ORDINARY = {
    "unlimited, 5 slots": {},
    "unlimited, 3 slots": {"max_open_trades": 3},
    "unlimited, 10 slots": {"max_open_trades": 10},
    "unlimited, 2 slots": {"max_open_trades": 2},
    "unlimited, 1 slot": {"max_open_trades": 1},
    "1,000 USDT stakes, 5 slots": {"stake_amount": 1000},
    "3,000 USDT stakes, 3 slots": {"stake_amount": 3000, "max_open_trades": 3},
}


@pytest.mark.parametrize("config", ORDINARY)
def test_the_defaults_load_without_a_warning_on_an_ordinary_config(load, caplog, config):
    with caplog.at_level(logging.INFO):
        strategy = load(Unchanged, ORDINARY[config])
    assert strategy.pm_correlation is not None  # on, at its defaults
    ours = [r for r in caplog.records if r.name.startswith("freqtrade_posmgmt")]
    assert [r.getMessage() for r in ours if r.levelno >= logging.WARNING] == []


def test_default_correlation_cuts_only_correlated_entries_beside_more_than_a_full_position():
    run_backtest(Unchanged, timerange="20250101-20250701")
    strategy = STRATEGIES["Unchanged"]
    threshold = strategy.pm_correlation.correlation_threshold
    decisions = [d for d in strategy.pm_decisions if d.capability == "correlation"]
    assert decisions  # the gate acts on this span
    for decision in decisions:
        details = strategy.pm_correlation_details[(decision.pair, decision.candle)]
        candidate = symbol_key(decision.pair)
        rhos = [rho for pair, rho in details["correlations"].items() if candidate in pair]
        assert max(rhos) >= threshold, decision  # correlated with a pair held
        # The group held more than one stake of this size: a second correlated position joins
        # at full size, as it would without the gate.
        assert abs(details["net"]) > details["requested"], decision
