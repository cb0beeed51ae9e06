"""
The example strategy with the whole position-management stack, all six capabilities on, with
settings chosen a priori (not fitted to the shipped data):

- time exits: no trade is held longer than three days (72 hours);
- partial exits: a third off at +3% and another third at +6%, then the stop moves to a
  fee-aware breakeven; no scale-ins (adding to winners or losers is a strategy's own call);
- trailing stop: an ATR trail (3 ATR) once a trade is 5% up;
- correlation: at most half the account in one group of pairs correlated at 0.8 or more (30
  days of hourly returns), so that five crypto longs are not one bet five times;
- dynamic risk: the seed's drawdown tiers (5/10/15% below the peak -> 80/60/40% of the stake,
  recovering in steps), its volatility and recent-performance factors, stops tightened with them;
- MFE/MAE recording (dry-run and live; a backtest's excursions come from the candles).

``make demo`` backtests it beside the plain strategy and shows what each capability did.
"""

from example_strategy import ExampleStrategy

from freqtrade_posmgmt import PositionManagementMixin
from freqtrade_posmgmt.correlation_engine import CorrelationConfig
from freqtrade_posmgmt.dynamic_risk import DynamicRiskConfig
from freqtrade_posmgmt.partial_manager import PartialExitPolicy
from freqtrade_posmgmt.time_exits import TimeExitPolicy
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy


class ExampleManagedStrategy(PositionManagementMixin, ExampleStrategy):
    time_exit_policy = TimeExitPolicy(max_holding_hours=72)
    partial_exit_policy = PartialExitPolicy(
        exit_targets=[0.03, 0.06], exit_sizes=[0.33, 0.33], breakeven_after_first_exit=True
    )
    trailing_stop_policy = TrailingStopPolicy(activation_threshold=0.05, atr_multiplier=3.0)
    correlation_policy = CorrelationConfig(correlation_threshold=0.8, max_correlated_exposure=0.5)
    dynamic_risk_policy = DynamicRiskConfig()
