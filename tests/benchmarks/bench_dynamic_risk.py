"""
Cost of DynamicRiskMixin (ten pairs, whole span, 1h) against the same strategy with a no-op
``custom_stake_amount``, and what it does to the drawdown.

- ``dynamic_risk_sizing``: drawdown tiers with recovery, performance and volatility factors; no
  stop tightening, so custom_stake_amount is its only callback. Target: <= 1.10.
- ``dynamic_risk_defaults``: the seed's defaults, stop tightening included (custom_stoploss on
  every candle of every open trade). Reported for scale, also against no-op custom_stake_amount
  and custom_stoploss together: most of its cost is Freqtrade's own handling of a stop callback.

Before the timings, one run of the plain and of the sized strategy prints their maximum
drawdown (Freqtrade's ``max_drawdown_account``) and total profit side by side.
"""

import json
import sys
from collections import Counter
from datetime import datetime
from typing import ClassVar

from example_strategy import ExampleStrategy
from freqtrade.persistence import Trade

from freqtrade_posmgmt.dynamic_risk import DynamicRiskConfig
from freqtrade_posmgmt.mixins.dynamic_risk import DynamicRiskMixin
from tests.benchmarks.bench import Target, Variant, main, run_child


class NoopStake(ExampleStrategy):
    def custom_stake_amount(
        self,
        pair: str,
        current_time: datetime,
        current_rate: float,
        proposed_stake: float,
        min_stake: float | None,
        max_stake: float,
        leverage: float,
        entry_tag: str | None,
        side: str,
        **kwargs,
    ) -> float:
        return proposed_stake


class NoopStakeAndStop(NoopStake):
    """The callbacks the defaults use, doing nothing: Freqtrade's own cost of a stop callback."""

    use_custom_stoploss = True

    def custom_stoploss(
        self,
        pair: str,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        after_fill: bool,
        **kwargs,
    ) -> float | None:
        return None


class DynamicRiskSizing(DynamicRiskMixin, ExampleStrategy):
    dynamic_risk_policy = DynamicRiskConfig(tighten_stops=False)


class DynamicRiskDefaults(DynamicRiskMixin, ExampleStrategy):
    dynamic_risk_policy = DynamicRiskConfig()


class ReportingSizing(DynamicRiskSizing):
    """DynamicRiskSizing that keeps its decisions for the drawdown table."""

    decisions: ClassVar[list] = []

    def bot_loop_start(self, current_time: datetime, **kwargs) -> None:
        super().bot_loop_start(current_time=current_time, **kwargs)
        ReportingSizing.decisions = self.__dict__.get("pm_decisions", [])


MODULE = "tests.benchmarks.bench_dynamic_risk"
VARIANTS = [
    Variant("noop_custom_stake_amount", f"{MODULE}:NoopStake"),
    Variant("dynamic_risk_sizing", f"{MODULE}:DynamicRiskSizing"),
    Variant("noop_stake_and_stoploss", f"{MODULE}:NoopStakeAndStop"),
    Variant("dynamic_risk_defaults", f"{MODULE}:DynamicRiskDefaults"),
]
TARGETS = [
    Target("dynamic_risk_sizing", "noop_custom_stake_amount", at_most=1.10),
    Target("dynamic_risk_defaults", "noop_custom_stake_amount"),
    Target("dynamic_risk_defaults", "noop_stake_and_stoploss"),
]


def drawdowns() -> None:
    """Child process: max drawdown and profit of the plain and the sized backtests."""
    import logging

    from tests.support.backtest_harness import run_backtest

    logging.disable(logging.CRITICAL)
    rows = {}
    for name, strategy in (
        ("plain", NoopStake),
        ("sized", ReportingSizing),
        ("defaults", DynamicRiskDefaults),
    ):
        stats = run_backtest(strategy).stats
        rows[name] = [stats["max_drawdown_account"], stats["profit_total"], stats["total_trades"]]
    reasons = Counter(d.reason for d in ReportingSizing.decisions)
    print(json.dumps([rows, dict(sorted(reasons.items()))]))


if __name__ == "__main__":
    if sys.argv[1:] == ["--drawdowns"]:
        drawdowns()
    else:
        (rows, reasons), _ = run_child(MODULE, "--drawdowns")
        print(f"{'backtest':<24} {'max drawdown':>13} {'profit':>9} {'trades':>7}")
        for name, (drawdown, profit, trades) in rows.items():
            print(f"{name:<24} {drawdown:13.2%} {profit:9.2%} {trades:7d}")
        print("resized entries of 'sized' by reason:", reasons)
        print()
        main(VARIANTS, TARGETS)
