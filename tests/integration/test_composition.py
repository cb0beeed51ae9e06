"""Mixins compose: any subset in any order, merge rules, and a switched-off capability costs nothing."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from example_strategy import ExampleStrategy
from freqtrade.strategy import IStrategy

from freqtrade_posmgmt import (
    CorrelationMixin,
    DynamicRiskMixin,
    MFEMAEMixin,
    PartialExitMixin,
    PositionManagementMixin,
    TimeExitMixin,
    TrailingStopMixin,
)
from freqtrade_posmgmt.correlation_engine import CorrelationConfig
from freqtrade_posmgmt.dynamic_risk import DynamicRiskConfig
from freqtrade_posmgmt.mixins._base import tightest_stop
from freqtrade_posmgmt.partial_manager import PartialExitPolicy
from freqtrade_posmgmt.time_exits import TimeExitPolicy
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy
from tests.support.backtest_harness import copy_user_data, run_backtest
from tests.support.correlation_replay import check_every_entry_within_cap
from tests.support.helpers import run_cli
from tests.support.strategies import EverythingOff

# Whole-module: every test runs long backtests or subprocesses (make test-fast leaves them out).
pytestmark = pytest.mark.slow

TIMERANGE = "20250101-20250501"
TRAILING = TrailingStopPolicy(
    activation_threshold=0.02, trailing_distance_pct=0.015, breakeven_threshold=0.01
)
LADDER = PartialExitPolicy(
    exit_targets=[0.02, 0.04], exit_sizes=[0.3, 0.3], breakeven_after_first_exit=True
)


class TrailingThenPartial(TrailingStopMixin, PartialExitMixin, ExampleStrategy):
    trailing_stop_policy = TRAILING
    partial_exit_policy = LADDER


class PartialThenTrailing(PartialExitMixin, TrailingStopMixin, ExampleStrategy):
    trailing_stop_policy = TRAILING
    partial_exit_policy = LADDER


class TrailingOnly(TrailingStopMixin, ExampleStrategy):
    trailing_stop_policy = TRAILING


class PartialOnly(PartialExitMixin, ExampleStrategy):
    partial_exit_policy = LADDER


class AllOff(EverythingOff, ExampleStrategy):
    pass


class NoWeekendEntries(TimeExitMixin, ExampleStrategy):
    time_exit_policy = TimeExitPolicy(weekend_flat=True)


class NoMondayEntries(NoWeekendEntries):
    """The user's own veto on top of the mixin's: an entry needs both."""

    def confirm_trade_entry(self, pair, order_type, amount, rate, time_in_force, current_time,
                            entry_tag, side, **kwargs):  # fmt: skip
        if current_time.isoweekday() == 1:
            return False
        return super().confirm_trade_entry(
            pair, order_type, amount, rate, time_in_force, current_time, entry_tag, side, **kwargs
        )


class OwnHoldingExit(ExampleStrategy):
    """A user's own exit that fires on the same candle as a 12-hour holding limit."""

    def custom_exit(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        if current_time - trade.open_date_utc >= timedelta(hours=12):
            return "own_12h"
        return None


class TimeFirst(TimeExitMixin, OwnHoldingExit):
    time_exit_policy = TimeExitPolicy(max_holding_hours=12)


class OwnFirst(OwnHoldingExit, TimeExitMixin):
    time_exit_policy = TimeExitPolicy(max_holding_hours=12)

    def custom_exit(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        return super().custom_exit(
            pair, trade, current_time, current_rate, current_profit, **kwargs
        ) or TimeExitMixin.custom_exit(
            self, pair, trade, current_time, current_rate, current_profit, **kwargs
        )


def trade_facts(trades: list) -> list[tuple]:
    return [
        (
            t.pair,
            t.open_date,
            t.close_date,
            t.exit_reason,
            round(t.close_profit_abs, 8),
            [
                (o.ft_order_side, o.order_filled_date, o.safe_amount, o.ft_order_tag)
                for o in t.orders
            ],
        )
        for t in trades
    ]


@pytest.fixture(scope="module")
def stacked():
    return run_backtest(TrailingThenPartial, timerange=TIMERANGE)


def test_stacking_order_does_not_change_a_single_trade(stacked):
    reordered = run_backtest(PartialThenTrailing, timerange=TIMERANGE)
    assert trade_facts(stacked.trades) == trade_facts(reordered.trades)
    assert any(len(t.orders) > 2 for t in stacked.trades), "the ladder must have fired"
    assert any(t.exit_reason == "trailing_stop_loss" for t in stacked.trades)


def test_stacked_stop_is_the_tightest_of_each_mixins_own(stacked):
    config = {**stacked.config, "runmode": None}
    both, trailing, partial = (
        cls(config) for cls in (TrailingThenPartial, TrailingOnly, PartialOnly)
    )
    laddered = [t for t in stacked.trades if len(t.orders) > 2]
    decided_by = {"trailing": 0, "partial": 0}
    for trade in laddered:
        for step in range(-5, 6):
            rate = trade.open_rate * (1 + step / 100)
            args = (trade.pair, trade, trade.close_date_utc, rate, 0.0, False)
            ours, theirs = trailing.custom_stoploss(*args), partial.custom_stoploss(*args)
            merged = both.custom_stoploss(*args)
            assert merged == tightest_stop(ours, theirs)
            if merged is not None and ours != theirs:
                decided_by["trailing" if merged == ours else "partial"] += 1
    assert min(decided_by.values()) > 0, decided_by


def test_switched_off_mixins_change_nothing_and_cost_no_callbacks():
    plain = run_backtest(ExampleStrategy, timerange=TIMERANGE)
    off = run_backtest(AllOff, timerange=TIMERANGE)
    assert trade_facts(off.trades) == trade_facts(plain.trades)
    strategy = AllOff(off.config)
    assert not strategy.use_custom_stoploss
    assert not strategy.position_adjustment_enable
    for name in ("custom_stoploss", "custom_exit", "adjust_trade_position", "confirm_trade_entry",
                 "custom_stake_amount", "bot_loop_start"):  # fmt: skip
        assert getattr(strategy, name).function is getattr(IStrategy, name)


def test_an_entry_needs_every_veto_to_agree():
    time_only = run_backtest(NoWeekendEntries, timerange=TIMERANGE)
    both = run_backtest(NoMondayEntries, timerange=TIMERANGE)
    assert {t.open_date_utc.isoweekday() for t in time_only.trades} >= {1}
    assert {t.open_date_utc.isoweekday() for t in both.trades}.isdisjoint({1, 6, 7})
    assert both.trades


def test_the_first_exit_reason_in_the_stack_wins():
    time_first = run_backtest(TimeFirst, timerange=TIMERANGE)
    reasons = {t.exit_reason for t in time_first.trades}
    assert "time_max_holding" in reasons and "own_12h" not in reasons
    for trade in time_first.trades:
        assert trade.close_date_utc - trade.open_date_utc <= timedelta(hours=12)
    own_first = run_backtest(OwnFirst, timerange=TIMERANGE)
    reasons = {t.exit_reason for t in own_first.trades}
    assert "own_12h" in reasons and "time_max_holding" not in reasons


HYPEROPTABLE = """
from example_strategy import ExampleStrategy

from freqtrade_posmgmt import PositionManagementMixin


class HyperoptableManaged(PositionManagementMixin, ExampleStrategy):
    pass
"""


def test_hyperopt_samples_every_position_management_space_on_two_workers(tmp_path: Path):
    userdir = copy_user_data(tmp_path)
    (userdir / "strategies" / "hyperoptable_managed.py").write_text(HYPEROPTABLE)
    proc = run_cli(
        "offline", "hyperopt", "-c", "user_data/config.json", "--userdir", "user_data",
        "--strategy", "HyperoptableManaged", "--hyperopt-loss", "SharpeHyperOptLossDaily",
        "--spaces", "pm_trailing", "pm_partial", "pm_time", "-e", "12", "-j", "2",
        "--timerange", "20250101-20250301", "-p", "BTC/USDT", "ETH/USDT", "SOL/USDT",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (results,) = (userdir / "hyperopt_results").glob("*.fthypt")
    epochs = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(epochs) == 12
    sampled = {name for epoch in epochs for name in epoch["params_dict"]}
    assert {"pm_trailing_activation", "pm_partial_target", "pm_time_max_holding_hours"} <= sampled
    # Each epoch's sampled values really drive its backtest: results differ between epochs.
    assert len({e["results_metrics"]["profit_total_abs"] for e in epochs}) > 1


# --- sizing and caps: dynamic risk's factor first, then correlation's cap, in any order -------

CAP = 0.05
# Fixed stake, unlimited slots, a wallet that never runs out: only the cap cuts or refuses.
SIZED_CONFIG = {"stake_amount": 1000, "max_open_trades": -1, "dry_run_wallet": 100_000}
# Risk per trade sizes far above the 1000 stake (a factor > 1), which the cap must still bound.
RISK = DynamicRiskConfig(
    risk_per_trade=0.002,
    performance_adjustment_enabled=False,
    volatility_adjustment_enabled=False,
    tighten_stops=False,
)
# The exit target is out of reach: positions change only by their adds, which are capped too.
ADDS = PartialExitPolicy(
    exit_targets=[5.0],
    exit_sizes=[0.5],
    scale_in_thresholds=[-0.01],
    scale_in_sizes=[1.0],
    max_scale_ins=1,
)
SIZED_STRATEGIES: dict[str, object] = {}


class SizedStack:
    correlation_policy = CorrelationConfig(max_correlated_exposure=CAP)
    dynamic_risk_policy = RISK
    partial_exit_policy = ADDS

    def bot_start(self, **kwargs) -> None:
        SIZED_STRATEGIES[type(self).__name__] = self
        super().bot_start(**kwargs)


class CapOutermost(SizedStack, CorrelationMixin, DynamicRiskMixin, PartialExitMixin,
                   ExampleStrategy):  # fmt: skip
    pass


class CapInnermost(SizedStack, PartialExitMixin, DynamicRiskMixin, CorrelationMixin,
                   ExampleStrategy):  # fmt: skip
    pass


class WeekendFlatOverCap(TimeExitMixin, CorrelationMixin, ExampleStrategy):
    time_exit_policy = TimeExitPolicy(weekend_flat=True)
    correlation_policy = CorrelationConfig(max_correlated_exposure=CAP)


def test_sizing_then_caps_in_any_mixin_order_and_the_cap_bounds_factors_above_one():
    outer = run_backtest(CapOutermost, timerange=TIMERANGE, config=SIZED_CONFIG)
    inner = run_backtest(CapInnermost, timerange=TIMERANGE, config=SIZED_CONFIG)
    assert trade_facts(outer.trades) == trade_facts(inner.trades)
    decisions = SIZED_STRATEGIES["CapOutermost"].pm_decisions
    upsized = [d for d in decisions if d.capability == "dynamic_risk" and d.stake_not_deployed < 0]
    capped = [d for d in decisions if d.capability == "correlation"]
    assert upsized and capped, (len(upsized), len(capped))
    # Initial entries and adds alike: every entry keeps its group within the cap.
    assert check_every_entry_within_cap(outer.trades, CAP)
    assert any(len([o for o in t.orders if o.ft_order_side == t.entry_side]) > 1
               for t in outer.trades)  # fmt: skip
    # And the stakes did grow past the strategy's own 1000 where no cap stood in the way.
    assert max(t.stake_amount for t in outer.trades) > 1000


def test_an_entry_needs_time_exits_and_correlation_to_agree():
    both = run_backtest(WeekendFlatOverCap, timerange=TIMERANGE, config=SIZED_CONFIG)
    weekend_only = run_backtest(NoWeekendEntries, timerange=TIMERANGE, config=SIZED_CONFIG)
    assert {t.open_date_utc.isoweekday() for t in both.trades}.isdisjoint({6, 7})
    assert len(both.trades) < len(weekend_only.trades)  # the cap refused some the time rule took


class FullStack(PositionManagementMixin, ExampleStrategy):
    trailing_stop_policy = TRAILING
    partial_exit_policy = PartialExitPolicy(
        exit_targets=[0.02, 0.04],
        exit_sizes=[0.3, 0.3],
        scale_in_thresholds=[-0.02],
        scale_in_sizes=[0.5],
        max_scale_ins=1,
        breakeven_after_first_exit=True,
    )
    time_exit_policy = TimeExitPolicy(max_holding_hours=48)
    correlation_policy = CorrelationConfig(max_correlated_exposure=0.3)
    dynamic_risk_policy = DynamicRiskConfig(drawdown_thresholds=[0.02, 0.04, 0.06])


class FullStackReversed(MFEMAEMixin, TrailingStopMixin, PartialExitMixin, DynamicRiskMixin,
                        CorrelationMixin, TimeExitMixin, ExampleStrategy):  # fmt: skip
    trailing_stop_policy = FullStack.trailing_stop_policy
    partial_exit_policy = FullStack.partial_exit_policy
    time_exit_policy = FullStack.time_exit_policy
    correlation_policy = FullStack.correlation_policy
    dynamic_risk_policy = FullStack.dynamic_risk_policy


def test_all_six_stacked_in_reverse_order_trade_the_same():
    forward = run_backtest(FullStack, timerange=TIMERANGE)
    backward = run_backtest(FullStackReversed, timerange=TIMERANGE)
    assert trade_facts(forward.trades) == trade_facts(backward.trades)
    reasons = {t.exit_reason for t in forward.trades}
    assert {"time_max_holding", "trailing_stop_loss"} <= reasons, reasons
    assert any(o.ft_order_tag and o.ft_order_side != t.entry_side and o is not t.orders[-1]
               for t in forward.trades for o in t.orders)  # fmt: skip
