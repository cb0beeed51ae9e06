"""
Cost of PartialExitMixin: a take-profit ladder with scale-ins against the same strategy whose
adjust_trade_position does nothing (Freqtrade then still calls it, with a copy of the trade, on
every candle of every open trade). Target: at most 10% more wall time.
"""

from datetime import datetime

from example_strategy import ExampleStrategy
from freqtrade.persistence import Trade

from freqtrade_posmgmt.mixins.partial_exits import PartialExitMixin
from freqtrade_posmgmt.partial_manager import PartialExitPolicy
from tests.benchmarks.bench import Target, Variant, main


class LadderWithScaleIns(PartialExitMixin, ExampleStrategy):
    partial_exit_policy = PartialExitPolicy(
        exit_targets=[0.02, 0.04, 0.07],
        exit_sizes=[0.3, 0.3, 0.4],
        scale_in_thresholds=[-0.04, 0.01],
        scale_in_sizes=[1.0, 0.5],
        max_scale_ins=2,
        breakeven_after_first_exit=True,
    )


class NoopAdjust(ExampleStrategy):
    position_adjustment_enable = True

    def adjust_trade_position(
        self,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        **kwargs,
    ) -> None:
        return None


MODULE = "tests.benchmarks.bench_partial_exits"
# A fixed stake leaves the wallet room for the scale-ins.
CONFIG = {"stake_amount": 500}
VARIANTS = [
    Variant("partial_exits_scale_ins", f"{MODULE}:LadderWithScaleIns", CONFIG),
    Variant("noop_adjust_trade_position", f"{MODULE}:NoopAdjust", CONFIG),
]
TARGETS = [Target("partial_exits_scale_ins", "noop_adjust_trade_position", at_most=1.10)]

if __name__ == "__main__":
    main(VARIANTS, TARGETS)
