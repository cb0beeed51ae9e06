"""
Exits of ours that the strategy's own ``confirm_trade_exit`` refuses are decisions like any other,
and a callback that bypasses the mixins' chain is named at load.
"""

import logging
from collections import Counter
from typing import ClassVar

from example_strategy import ExampleStrategy

from freqtrade_posmgmt import TimeExitMixin, TrailingStopMixin
from freqtrade_posmgmt.time_exits import TimeExitPolicy
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy
from tests.support.backtest_harness import run_backtest


class RefusesOddHours(ExampleStrategy):
    """Refuses every exit on an odd hour, as NostalgiaForInfinity refuses some of the plugin's."""

    refused: ClassVar[Counter] = Counter()
    instance: ClassVar[object] = None

    def confirm_trade_exit(self, pair, trade, order_type, amount, rate, time_in_force,
                           exit_reason, current_time, **kwargs):  # fmt: skip
        RefusesOddHours.instance = self
        if current_time.hour % 2:
            self.refused[exit_reason, pair, current_time] += 1
            return False
        return True


class TimedAndTrailed(TimeExitMixin, TrailingStopMixin, RefusesOddHours):
    time_exit_policy = TimeExitPolicy(max_holding_hours=12)
    trailing_stop_policy = TrailingStopPolicy(
        activation_threshold=0.02, trailing_distance_pct=0.015, breakeven_threshold=0.01
    )


def test_exits_the_strategy_refuses_are_counted_and_logged_as_decisions(caplog):
    RefusesOddHours.refused.clear()
    caplog.set_level(logging.DEBUG, logger="freqtrade_posmgmt.mixins._decisions")
    result = run_backtest(
        TimedAndTrailed, pairs=["BTC/USDT", "ETH/USDT"], timerange="20250101-20250301"
    )
    assert any(t.exit_reason == "time_max_holding" for t in result.trades)
    refused = RefusesOddHours.refused
    ours = {key for key in refused if key[0].startswith("time_")}
    assert len(ours) >= 3
    decisions = [d for d in RefusesOddHours.instance.pm_decisions if d.kind == "exit_refused"]
    time_refusals = {
        (d.reason.split(" ")[0], d.pair, d.candle)
        for d in decisions
        if d.capability == "time_exits"
    }
    assert time_refusals == ours
    assert {d.reason.split(" refused by ")[1] for d in decisions} == {
        "RefusesOddHours.confirm_trade_exit"
    }
    # The strategy's own exits (signals, ROI, its stop) are not ours to count.
    assert {d.capability for d in decisions} <= {"time_exits", "trailing_stop"}
    logged = [r.getMessage() for r in caplog.records if " exit_refused " in r.getMessage()]
    assert len(logged) == len(decisions)


class OwnExitFirst(TimeExitMixin, ExampleStrategy):
    """The audit's first try: its own custom_exit in the class placed before the mixins."""

    time_exit_policy = TimeExitPolicy(max_holding_hours=12)

    def custom_exit(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        return None


class OwnExitChained(TimeExitMixin, ExampleStrategy):
    time_exit_policy = OwnExitFirst.time_exit_policy

    def custom_exit(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        return super().custom_exit(pair, trade, current_time, current_rate, current_profit)


def test_a_callback_that_bypasses_the_mixins_is_named_at_load(caplog):
    config = {"timeframe": "1h", "stake_currency": "USDT"}
    caplog.set_level(logging.WARNING)
    OwnExitFirst(config)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        (
            "OwnExitFirst.custom_exit does not call super().custom_exit(...), so "
            "TimeExitMixin.custom_exit never run: call it there and merge its answer, or move "
            "custom_exit into a base class placed after the mixins (class OwnExitFirst(<mixins>, "
            "YourBase))"
        )
    ]
    caplog.clear()
    OwnExitChained(config)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
