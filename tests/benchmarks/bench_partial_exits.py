"""
Cost of PartialExitMixin: a take-profit ladder with scale-ins against the same strategy whose
adjust_trade_position does nothing (Freqtrade then still calls it, with a copy of the trade, on
every candle of every open trade). Target: at most 10% more wall time.

The ladder places more orders than the no-op, and Freqtrade's own handling of orders (fills,
wallet updates, the per-call deep copy of a longer trade) costs time whoever decides them. A
third variant replays exactly the ladder's orders from a table recorded beforehand, splitting the
ratio into that cost (replayed / no-op) and the cost of deciding (ladder / replayed). The
breakeven stop is priced separately: it needs custom_stoploss, also called on every candle.
"""

import dataclasses
import json
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from example_strategy import ExampleStrategy
from freqtrade.persistence import Trade

from freqtrade_posmgmt.mixins.partial_exits import PartialExitMixin
from freqtrade_posmgmt.partial_manager import PartialExitPolicy
from tests.benchmarks.bench import Target, Variant, main, run_child

DECISIONS = Path(tempfile.gettempdir()) / "posmgmt-bench-partial-exits-decisions.json"


def decision_key(trade: Trade, current_time: datetime) -> str:
    return f"{trade.pair} {trade.open_date_utc.isoformat()} {current_time.isoformat()}"


class LadderWithScaleIns(PartialExitMixin, ExampleStrategy):
    partial_exit_policy = PartialExitPolicy(
        exit_targets=[0.02, 0.04, 0.07],
        exit_sizes=[0.3, 0.3, 0.4],
        scale_in_thresholds=[-0.04, 0.01],
        scale_in_sizes=[1.0, 0.5],
        max_scale_ins=2,
    )


class LadderWithBreakeven(LadderWithScaleIns):
    partial_exit_policy = dataclasses.replace(
        LadderWithScaleIns.partial_exit_policy, breakeven_after_first_exit=True
    )


class RecordingLadder(LadderWithScaleIns):
    decisions: dict = {}  # filled by one in-process run before the benchmark

    def adjust_trade_position(self, trade: Trade, current_time: datetime, **kwargs) -> object:
        decision = super().adjust_trade_position(trade=trade, current_time=current_time, **kwargs)
        if decision is not None:
            self.decisions[decision_key(trade, current_time)] = decision
        return decision


class NoopAdjust(ExampleStrategy):
    position_adjustment_enable = True

    def adjust_trade_position(self, trade: Trade, current_time: datetime, **kwargs) -> None:
        return None


class ReplayedOrders(NoopAdjust):
    """Places the orders LadderWithScaleIns placed, looked up in a table: no decision cost."""

    max_entry_position_adjustment = LadderWithScaleIns.partial_exit_policy.scale_in_cap

    def bot_start(self, **kwargs) -> None:
        self.decisions = json.loads(DECISIONS.read_text())

    def adjust_trade_position(self, trade: Trade, current_time: datetime, **kwargs) -> object:
        decision = self.decisions.get(decision_key(trade, current_time))
        return tuple(decision) if decision else None


MODULE = "tests.benchmarks.bench_partial_exits"
# A fixed stake leaves the wallet room for the scale-ins.
CONFIG = {"stake_amount": 500}
VARIANTS = [
    Variant("partial_exits_scale_ins", f"{MODULE}:LadderWithScaleIns", CONFIG),
    Variant("noop_adjust_trade_position", f"{MODULE}:NoopAdjust", CONFIG),
    Variant("same_orders_replayed", f"{MODULE}:ReplayedOrders", CONFIG),
    Variant("with_breakeven_stop", f"{MODULE}:LadderWithBreakeven", CONFIG),
]
TARGETS = [
    Target("partial_exits_scale_ins", "noop_adjust_trade_position", at_most=1.10),
    Target("same_orders_replayed", "noop_adjust_trade_position"),
    Target("partial_exits_scale_ins", "same_orders_replayed"),
    Target("with_breakeven_stop", "partial_exits_scale_ins"),
]


def record_decisions() -> None:
    """Child process: run the ladder once and store the orders it decided."""
    import logging

    from tests.support.backtest_harness import run_backtest

    logging.disable(logging.CRITICAL)
    run_backtest(RecordingLadder, config=CONFIG)
    DECISIONS.write_text(json.dumps(RecordingLadder.decisions))
    print(json.dumps(len(RecordingLadder.decisions)))


if __name__ == "__main__":
    if sys.argv[1:] == ["--record"]:
        record_decisions()
    else:
        # In a child, so this process stays small: a child's peak RSS starts from its parent's.
        run_child(MODULE, "--record")
        main(VARIANTS, TARGETS)
