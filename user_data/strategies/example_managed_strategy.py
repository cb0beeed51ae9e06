"""
The example strategy with position management: the same signals, plus a take-profit ladder that
moves the stop to a fee-aware breakeven after its first exit, an ATR trail once a trade is 5% up,
and a 72-hour holding limit. ``make demo`` backtests it beside the plain strategy.
"""

from example_strategy import ExampleStrategy

from freqtrade_posmgmt import PositionManagementMixin
from freqtrade_posmgmt.partial_manager import PartialExitPolicy
from freqtrade_posmgmt.time_exits import TimeExitPolicy
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy


class ExampleManagedStrategy(PositionManagementMixin, ExampleStrategy):
    trailing_stop_policy = TrailingStopPolicy(activation_threshold=0.05, atr_multiplier=3.0)
    partial_exit_policy = PartialExitPolicy(
        exit_targets=[0.03, 0.06], exit_sizes=[0.33, 0.33], breakeven_after_first_exit=True
    )
    time_exit_policy = TimeExitPolicy(max_holding_hours=72)
