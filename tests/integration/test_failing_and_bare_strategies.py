"""
On real backtests: a strategy whose own ``custom_stoploss`` raises on every call keeps the trailing
stop it is stacked under, and a strategy that leaves ``timeframe`` to config.json loads and trades
under the mixins as the same strategy with the attribute.
"""

import logging

from example_strategy import ExampleStrategy
from freqtrade.strategy import IStrategy

from freqtrade_posmgmt import TrailingStopMixin
from freqtrade_posmgmt.correlation_engine import CorrelationConfig
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy
from tests.support.backtest_harness import run_backtest
from tests.support.strategies import EverythingOff

TIMERANGE = "20250101-20250401"
PAIRS = ["BTC/USDT", "ETH/USDT", "ADA/USDT"]
# Runs in custom_stoploss (a breakeven cannot be compiled to Freqtrade's built-in trail).
TRAILING = TrailingStopPolicy(
    activation_threshold=0.02, trailing_distance_pct=0.015, breakeven_threshold=0.01
)


class RaisingStop(ExampleStrategy):
    """As FixedRiskRewardLoss under pandas 3: its own stop raises on every call."""

    use_custom_stoploss = True

    def custom_stoploss(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        raise KeyError("a column pandas 3 no longer has")


class TrailedOverRaising(TrailingStopMixin, RaisingStop):
    trailing_stop_policy = TRAILING


class TrailedOverPlain(TrailingStopMixin, ExampleStrategy):
    trailing_stop_policy = TRAILING


def facts(trades: list) -> list[tuple]:
    return [(t.pair, t.open_date, t.close_date, t.exit_reason, t.close_rate) for t in trades]


def test_a_users_failing_stop_does_not_switch_the_trailing_stop_off(caplog):
    caplog.set_level(logging.WARNING)
    raising = run_backtest(TrailedOverRaising, pairs=PAIRS, timerange=TIMERANGE)
    plain = run_backtest(TrailedOverPlain, pairs=PAIRS, timerange=TIMERANGE)
    assert sum(t.exit_reason == "trailing_stop_loss" for t in raising.trades) >= 5
    assert facts(raising.trades) == facts(plain.trades)
    blamed = [r.getMessage() for r in caplog.records if "custom_stoploss" in r.getMessage()]
    assert len(blamed) == 1, blamed[:3]
    assert blamed[0].startswith("RaisingStop.custom_stoploss failed")


# Freqtrade takes the timeframe from config.json when the strategy has none (FixedRiskRewardLoss).
NoTimeframe = type(
    "NoTimeframe",
    (IStrategy,),
    {
        **{
            name: value
            for name, value in vars(ExampleStrategy).items()
            if name not in ("__dict__", "__weakref__", "timeframe")
        },
        "__module__": __name__,
    },
)


class NoTimeframeManaged(EverythingOff, NoTimeframe):
    trailing_stop_policy = TrailingStopPolicy(activation_threshold=0.02, atr_multiplier=2.0)
    correlation_policy = CorrelationConfig(max_correlated_exposure=0.5)


class WithTimeframeManaged(EverythingOff, ExampleStrategy):
    trailing_stop_policy = NoTimeframeManaged.trailing_stop_policy
    correlation_policy = NoTimeframeManaged.correlation_policy


def test_a_strategy_without_a_timeframe_attribute_loads_and_trades_under_the_mixins():
    assert not hasattr(NoTimeframeManaged, "timeframe")
    bare = run_backtest(NoTimeframeManaged, pairs=PAIRS, timerange=TIMERANGE)
    full = run_backtest(WithTimeframeManaged, pairs=PAIRS, timerange=TIMERANGE)
    assert any(t.exit_reason == "trailing_stop_loss" for t in bare.trades)
    assert facts(bare.trades) == facts(full.trades)
