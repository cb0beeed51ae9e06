"""
``class X_PM(PositionManagementMixin, X)``: X's own callbacks are reached and merged by the rules,
with every capability off X trades exactly as before, and no fill of ours lowers the stop in force.
"""

from datetime import timedelta

import pytest
from example_strategy import ExampleStrategy

from freqtrade_posmgmt import PartialExitMixin, TrailingStopMixin
from freqtrade_posmgmt.mixins._base import tightest_stop
from freqtrade_posmgmt.partial_manager import PartialExitPolicy
from freqtrade_posmgmt.time_exits import TimeExitPolicy
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy
from tests.support.backtest_harness import run_backtest
from tests.support.public_strategies import (
    CALLS,
    STOP_MOVES,
    FixedStop,
    OwnCallbacks,
    OwnTrail,
    PSARStop,
)
from tests.support.strategies import EverythingOff

# Whole-module: every test runs long backtests or subprocesses (make test-fast leaves them out).
pytestmark = pytest.mark.slow

TIMERANGE = "20250101-20250501"
PAIRS = ["BTC/USDT", "ETH/USDT", "ADA/USDT", "LINK/USDT"]
# Runs in custom_stoploss (a breakeven cannot be compiled to Freqtrade's built-in trail).
TRAILING = TrailingStopPolicy(
    activation_threshold=0.02, trailing_distance_pct=0.015, breakeven_threshold=0.01
)


def all_off(base: type) -> type:
    return type(
        f"{base.__name__}Off",
        (EverythingOff, base),
        {"__module__": __name__},
    )


# Module attributes, so that the backtest harness can import each by its name.
FixedStopOff = all_off(FixedStop)
PSARStopOff = all_off(PSARStop)
OwnTrailOff = all_off(OwnTrail)
OwnCallbacksOff = all_off(OwnCallbacks)
SWITCHED_OFF = {FixedStop: FixedStopOff, PSARStop: PSARStopOff, OwnTrail: OwnTrailOff,
                OwnCallbacks: OwnCallbacksOff}  # fmt: skip


class FixedStopTrailed(EverythingOff, FixedStop):
    trailing_stop_policy = TRAILING


class TrailedOnly(TrailingStopMixin, ExampleStrategy):
    trailing_stop_policy = TRAILING


class OwnCallbacksManaged(EverythingOff, OwnCallbacks):
    partial_exit_policy = PartialExitPolicy(exit_targets=[0.02], exit_sizes=[0.5])
    time_exit_policy = TimeExitPolicy(max_holding_hours=12)


class OwnTrailBreakeven(PartialExitMixin, OwnTrail):
    partial_exit_policy = PartialExitPolicy(
        exit_targets=[0.02, 0.04], exit_sizes=[0.3, 0.3], breakeven_after_first_exit=True
    )


def trade_facts(trades: list) -> list[tuple]:
    return [
        (
            t.pair,
            t.open_date,
            t.close_date,
            t.exit_reason,
            t.stop_loss,
            round(t.close_profit_abs, 8),
            [(o.ft_order_side, o.order_filled_date, o.safe_amount, o.ft_price) for o in t.orders],
        )
        for t in trades
    ]


def backtest_counting(strategy: type, **kwargs) -> tuple:
    CALLS.clear()
    result = run_backtest(strategy, pairs=PAIRS, timerange=TIMERANGE, **kwargs)
    calls = {name: n for (owner, name), n in CALLS.items() if owner == strategy.__name__}
    return result, calls


@pytest.mark.parametrize("base", [FixedStop, PSARStop, OwnTrail, OwnCallbacks])
def test_with_every_capability_off_the_base_trades_exactly_as_before(base):
    plain, plain_calls = backtest_counting(base)
    off, off_calls = backtest_counting(SWITCHED_OFF[base])
    assert plain.trades
    assert trade_facts(off.trades) == trade_facts(plain.trades)
    assert off_calls == plain_calls
    if base in (FixedStop, PSARStop):
        # The base's own stop really decides trades here, so it must really have run.
        assert off_calls["custom_stoploss"] > 0
        assert any(t.exit_reason == "trailing_stop_loss" for t in off.trades)


def test_the_bases_own_stop_is_merged_with_ours_the_tightest_winning():
    result, calls = backtest_counting(FixedStopTrailed)
    assert calls["custom_stoploss"] > 0
    config = {**result.config, "runmode": None}
    merged, ours = FixedStopTrailed(config), TrailedOnly(config)
    decided = {"ours": 0, "theirs": 0}
    for trade in result.trades:
        trade.stop_loss = trade.open_rate * 0.9  # a stop in force that no answer loosens
        for step in range(-3, 8):
            rate = trade.open_rate * (1 + step / 100)
            args = (trade.pair, trade, trade.close_date_utc, rate, 0.0)
            answer = merged.custom_stoploss(*args, False)
            assert answer == tightest_stop(ours.custom_stoploss(*args, False), -0.015)
            if answer is not None and answer != -0.015:
                decided["ours"] += 1
            elif answer == -0.015:
                decided["theirs"] += 1
            # The base's stop takes no after_fill: Freqtrade never asked it after a fill.
            assert merged.custom_stoploss(*args, True) == ours.custom_stoploss(*args, True)
    assert min(decided.values()) > 0, decided


def test_every_other_callback_of_the_base_is_reached_and_merged():
    # Futures: Freqtrade asks for leverage only there.
    result, calls = backtest_counting(OwnCallbacksManaged, trading_mode="futures")
    for name in ("bot_loop_start", "custom_exit", "confirm_trade_entry", "custom_stake_amount",
                 "leverage", "order_filled"):  # fmt: skip
        assert calls.get(name, 0) > 0, name
    # position_adjustment_enable is ours, not the base's: Freqtrade never asked the base.
    assert "adjust_trade_position" not in calls
    reasons = {t.exit_reason for t in result.trades}
    assert {"own_btc_hot", "time_max_holding"} <= reasons
    assert any(len(t.orders) > 2 for t in result.trades), "the partial exit must have fired"
    for trade in result.trades:
        assert trade.open_date_utc.hour % 2 == 0  # the base's veto holds
        assert trade.orders[0].stake_amount == pytest.approx(500.0, rel=0.01)  # its stake
        assert trade.close_date_utc - trade.open_date_utc <= timedelta(hours=12)


def test_no_take_profit_fill_lowers_the_stop_in_force():
    STOP_MOVES.clear()
    run_backtest(OwnTrailBreakeven)
    take_profits = [move for move in STOP_MOVES if (move[2] or "").startswith("pm_tp")]
    assert len(take_profits) >= 10
    for pair, opened, tag, before, after in take_profits:
        assert after >= before, (pair, opened, tag, before, after)
    # Among them the LINK/USDT trade whose first take-profit (2%) used to lower the stop 11.44 -> 11.41.
    assert any(m[0] == "LINK/USDT" and m[2] == "pm_tp2%" and m[3] == 11.44 for m in take_profits)
