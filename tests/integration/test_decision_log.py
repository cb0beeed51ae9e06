"""
Backtesting and hyperopt log each decision at DEBUG and one summary line per capability at the
end; dry-run and live log each decision at INFO.
"""

import logging
from datetime import UTC, datetime
from types import SimpleNamespace

from example_strategy import ExampleStrategy
from freqtrade.enums import RunMode

from freqtrade_posmgmt import DynamicRiskMixin
from freqtrade_posmgmt.dynamic_risk import DynamicRiskConfig
from freqtrade_posmgmt.mixins import _decisions
from freqtrade_posmgmt.mixins._decisions import Decision, record_decision
from tests.support.backtest_harness import run_backtest

LOGGER = "freqtrade_posmgmt.mixins._decisions"


class Resized(DynamicRiskMixin, ExampleStrategy):
    dynamic_risk_policy = DynamicRiskConfig(performance_adjustment_enabled=False)


def test_a_backtest_logs_its_decisions_at_debug_and_one_summary_line_at_the_end(caplog):
    _decisions.log_summaries()  # strategies of earlier tests in this process are summarised
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    run_backtest(
        Resized,
        pairs=["ADA/USDT", "DOGE/USDT"],
        timerange="20250301-20250601",
        config={"stake_amount": 1000},
    )
    # Summaries of strategies loaded by earlier tests of this process may come in between.
    per_decision = [
        r
        for r in caplog.records
        if r.name == LOGGER and not r.getMessage().endswith("(sum over the decisions)")
    ]
    assert len(per_decision) >= 10
    assert {r.levelname for r in per_decision} == {"DEBUG"}
    caplog.clear()
    _decisions.log_summaries()  # what the end of the process does
    (summary,) = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert summary.startswith(f"DynamicRiskMixin: {len(per_decision)} stakes resized; ")
    assert summary.endswith(" USDT of stake not deployed (sum over the decisions)")
    caplog.clear()
    _decisions.log_summaries()
    assert not caplog.records  # summarised once


def test_dry_run_logs_each_decision_at_info(caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    strategy = SimpleNamespace(config={"runmode": RunMode.DRY_RUN, "stake_currency": "USDT"})
    candle = datetime(2025, 3, 1, tzinfo=UTC)
    record_decision(strategy, Decision("correlation", "cut", "why", 10.0, "BTC/USDT", candle))
    # This stand-in strategy has no DataProvider: its live notification is not sent (logged
    # elsewhere), which is not what this test is about.
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOGGER]
    assert logged == [("INFO", "correlation cut BTC/USDT at 2025-03-01T00:00:00+00:00: why")]
    _decisions.log_summaries()
    assert len([r for r in caplog.records if r.name == LOGGER]) == 1  # no end-of-run summary live
