"""
CorrelationMixin in real backtests on the ten shipped pairs: the cap holds for every entry and
add, cut entries fill their group to the cap, missing entries were refused for a full group,
hedges pass, decisions never read the future, and hyperopt samples the pm_correlation space.

The checks recompute correlations independently, with pandas, from the candle files.
"""

import itertools
import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from example_strategy import ExampleStrategy

from freqtrade_posmgmt import CorrelationMixin, PartialExitMixin
from freqtrade_posmgmt.correlation_engine import CorrelationConfig
from freqtrade_posmgmt.mixins._base import PolicyConfigError
from freqtrade_posmgmt.mixins.correlation import CorrelationHooks
from freqtrade_posmgmt.partial_manager import PartialExitPolicy
from tests.support.backtest_harness import MARKETS, SPOT_DATA, copy_user_data, run_backtest
from tests.support.correlation_replay import HOUR, WALLET, check_every_entry_within_cap, rho
from tests.support.helpers import run_cli

CAP = 0.025
# Fixed stake, unlimited slots, a wallet that never runs out: only the cap refuses entries.
CONFIG = {"stake_amount": 1000, "max_open_trades": -1, "dry_run_wallet": WALLET}
STRATEGIES: dict[str, object] = {}


class Remembered:
    def bot_start(self, **kwargs) -> None:
        STRATEGIES[type(self).__name__] = self
        super().bot_start(**kwargs)


class Plain(ExampleStrategy):
    pass


class Capped(Remembered, CorrelationMixin, ExampleStrategy):
    correlation_policy = CorrelationConfig(max_correlated_exposure=CAP)


class CappedShorts(Remembered, CorrelationMixin, ExampleStrategy):
    can_short = True
    correlation_policy = CorrelationConfig(max_correlated_exposure=0.1)


class CappedAdds(Remembered, CorrelationMixin, PartialExitMixin, ExampleStrategy):
    correlation_policy = CorrelationConfig(max_correlated_exposure=CAP)
    # The exit target is out of reach: positions change only by their adds.
    partial_exit_policy = PartialExitPolicy(
        exit_targets=[5.0],
        exit_sizes=[0.5],
        scale_in_thresholds=[-0.01],
        scale_in_sizes=[1.0],
        max_scale_ins=1,
    )


class Doubling:
    """A mixin stacked above the gate that doubles the stake after it: only the re-check stops it."""

    def custom_stake_amount(self, *args, **kwargs) -> float:
        return 2 * super().custom_stake_amount(*args, **kwargs)


class CappedThenDoubled(Remembered, Doubling, CorrelationMixin, ExampleStrategy):
    correlation_policy = CorrelationConfig(max_correlated_exposure=0.05)


class Broken(Remembered, CorrelationMixin, ExampleStrategy):
    """Its candles cannot be read (see the test that runs it)."""

    correlation_policy = CorrelationConfig(max_correlated_exposure=0.5)


def unavailable_candles(hooks: CorrelationHooks) -> dict:
    raise RuntimeError("candles unavailable")


@pytest.fixture(scope="module")
def spot_runs():
    plain = run_backtest(Plain, config=CONFIG)
    capped = run_backtest(Capped, config=CONFIG)
    strategy = STRATEGIES["Capped"]
    return plain, capped, strategy.pm_decisions, strategy.pm_correlation_details


@pytest.mark.slow
def test_every_entry_keeps_its_group_within_the_cap_and_cuts_fill_it(spot_runs):
    _, capped, decisions, details = spot_runs
    grouped = check_every_entry_within_cap(capped.trades, CAP)
    cuts = [d for d in decisions if d.kind == "cut"]
    refusals = [d for d in decisions if d.kind == "refused"]
    print(f"entries {len(capped.trades)} in a group {len(grouped)} cut {len(cuts)} "
          f"refused {len(refusals)}")  # fmt: skip
    assert len(cuts) >= 20 and len(refusals) >= 50  # the cap binds often
    by_entry = {(t.pair, t.open_date_utc): t for t in capped.trades}
    for cut in cuts:
        trade = by_entry[(cut.pair, cut.candle)]
        # The cut entry filled its group to the cap, short only by the lot rounding.
        step = MARKETS[cut.pair]["precision"]["amount"] * trade.open_rate
        room = details[(cut.pair, cut.candle)]["room"]
        assert room - step <= trade.stake_amount <= room * (1 + 1e-9), (cut, trade.stake_amount)
        assert trade.stake_amount < 1000


@pytest.mark.slow
def test_missing_entries_of_the_plain_strategy_were_refused_for_a_full_group(spot_runs):
    plain, capped, decisions, details = spot_runs
    taken = {(t.pair, t.open_date_utc) for t in capped.trades}
    refused = {(d.pair, d.candle): d for d in decisions if d.kind == "refused"}
    missing = [t for t in plain.trades if (t.pair, t.open_date_utc) not in taken]
    by_refusal = 0
    for trade in missing:
        when = trade.open_date_utc
        busy = any(
            t.pair == trade.pair and t.open_date_utc < when and (t.close_date_utc or when) > when
            for t in capped.trades
        )
        decision = refused.get((trade.pair, when))
        assert busy or decision is not None, trade
        if decision is not None and not busy:
            by_refusal += 1
            # Refused because the group was full: less than the minimum stake was left.
            assert details[(trade.pair, when)]["room"] < 10 + 1e-6, decision
    assert by_refusal >= 50


@pytest.mark.slow
def test_the_correlations_behind_each_decision_equal_an_independent_recomputation(spot_runs):
    _, _, decisions, details = spot_runs
    checked = 0
    for decision in decisions:
        for (a, b), value in details[(decision.pair, decision.candle)]["correlations"].items():
            expected = rho(*(NAMES[s] for s in (a, b)), pd.Timestamp(decision.candle))
            assert value == pytest.approx(expected, abs=1e-9), (decision.pair, a, b)
            checked += 1
    assert checked > 100


NAMES = {path.name.split("-")[0].replace("_", ""): path.name.split("-")[0].replace("_", "/")
         for path in SPOT_DATA.glob("*-1h.feather")}  # fmt: skip


@pytest.mark.slow
def test_a_backtest_cut_at_any_date_makes_the_same_decisions_up_to_the_cut(spot_runs):
    _, full, _, _ = spot_runs
    for end in ("20250401", "20250901", "20260101"):
        cut = run_backtest(Capped, config=CONFIG, timerange=f"-{end}")
        last = pd.Timestamp(end, tz="UTC") - HOUR

        def entries(trades, last=last):
            return [
                (t.pair, t.open_date_utc, t.stake_amount, t.close_date_utc)
                for t in trades
                if t.open_date_utc < last
                and t.close_date_utc is not None
                and t.close_date_utc < last
            ]

        assert entries(cut.trades) == entries(full.trades)
        opened = lambda trades, last=last: [
            (t.pair, t.open_date_utc, t.stake_amount) for t in trades if t.open_date_utc < last
        ]
        assert opened(cut.trades) == opened(full.trades)


@pytest.mark.slow
def test_futures_shorts_at_3x_a_short_beside_a_correlated_long_is_not_cut():
    result = run_backtest(
        CappedShorts,
        trading_mode="futures",
        leverage=3,
        timerange="20250101-20250701",
        config=CONFIG,
    )
    grouped = check_every_entry_within_cap(result.trades, 0.1)
    cut_pairs = {(d.pair, d.candle) for d in STRATEGIES["CappedShorts"].pm_decisions}
    # Shorts entered while their group was net long: hedges.
    hedges = [
        (when, trade, net)
        for when, trade, group, net, room in grouped
        if trade.is_short and net > 0
    ]
    # Hedges that a gross-exposure cap would have cut (their notional exceeds what it left)...
    assert any(abs(net) + trade.stake_amount * 3 > 0.1 * WALLET for _, trade, net in hedges)
    # ... were neither cut nor refused: full stake, short only by the lot rounding.
    assert not cut_pairs & {(trade.pair, when) for when, trade, _ in hedges}
    assert all(trade.stake_amount == pytest.approx(1000, rel=1e-3) for _, trade, _ in hedges)
    assert any(t.is_short for t in result.trades) and any(not t.is_short for t in result.trades)


@pytest.mark.slow
def test_confirm_trade_entry_vetoes_a_final_order_that_breaks_the_cap():
    result = run_backtest(CappedThenDoubled, timerange="20250101-20250401", config=CONFIG)
    # Cap 4950: a third correlated entry is cut to what is left, then doubled past it; only
    # confirm_trade_entry's re-check of the final amount keeps it out.
    grouped = check_every_entry_within_cap(result.trades, 0.05)
    assert any(trade.stake_amount > 1900 for _, trade, *_ in grouped)
    assert any(d.kind == "cut" for d in STRATEGIES["CappedThenDoubled"].pm_decisions)


@pytest.mark.slow
def test_adds_are_cut_by_the_same_rule():
    result = run_backtest(CappedAdds, timerange="20250101-20250901", config=CONFIG)
    adds = [t for t in result.trades if t.nr_of_successful_entries > 1]
    assert len(adds) >= 5
    check_every_entry_within_cap(result.trades, CAP)
    decisions = STRATEGIES["CappedAdds"].pm_decisions
    cut_adds = [
        d for d in decisions for t in adds if d.pair == t.pair and d.candle > t.open_date_utc
        and (t.close_date_utc is None or d.candle < t.close_date_utc)
    ]  # fmt: skip
    assert cut_adds, "no add was ever cut or refused: the cap did not bind on adds"


def test_an_error_inside_the_check_refuses_the_entry(caplog, monkeypatch):
    monkeypatch.setattr(CorrelationHooks, "read_candles", unavailable_candles)
    with caplog.at_level(logging.ERROR):
        result = run_backtest(
            Broken, pairs=["BTC/USDT", "ETH/USDT", "SOL/USDT"], timerange="20250101-20250401",
            config=CONFIG,
        )  # fmt: skip
    # Candles are read only when another pair is held: no two trades ever overlap.
    trades = sorted(result.trades, key=lambda t: t.open_date)
    for a, b in itertools.pairwise(trades):
        assert b.open_date >= a.close_date
    decisions = STRATEGIES["Broken"].pm_decisions
    assert decisions and all("candles unavailable" in d.reason for d in decisions)
    assert "correlation check failed: RuntimeError('candles unavailable')" in caplog.text


def test_load_fails_in_one_line_for_a_short_window_and_warns_for_a_small_cap(load, caplog):
    with pytest.raises(PolicyConfigError) as error:
        load(Capped, {"posmgmt": {"correlation": {"correlation_window_days": 0.5}}})
    assert str(error.value) == (
        "posmgmt.correlation: correlation_window_days=0.5: holds 12 candles of 3600 s, "
        "fewer than sample_min_size=20"
    )
    with caplog.at_level(logging.WARNING):
        load(Capped, {"posmgmt": {"correlation": {"max_correlated_exposure": 0.15}}})
    (warning,) = [r.getMessage() for r in caplog.records if "normal stake" in r.getMessage()]
    assert "cap 0.15 x equity 9900.00 = 1485.00 USDT is below one normal stake of 1980.00" in (
        warning
    )


class Off(CorrelationMixin, ExampleStrategy):
    correlation_policy = None


def test_switched_off_it_routes_nothing(load):
    strategy = load(Off)
    for name in ("custom_stake_amount", "confirm_trade_entry", "adjust_trade_position"):
        assert getattr(strategy, name).__qualname__ == f"IStrategy.{name}"
    assert strategy.position_adjustment_enable is False


HYPEROPTABLE = """
from example_strategy import ExampleStrategy

from freqtrade_posmgmt import CorrelationMixin


class HyperoptableCorrelation(CorrelationMixin, ExampleStrategy):
    pass
"""


@pytest.mark.slow
def test_hyperopt_samples_pm_correlation_on_two_workers(tmp_path: Path):
    userdir = copy_user_data(tmp_path)
    (userdir / "strategies" / "hyperoptable_correlation.py").write_text(HYPEROPTABLE)
    proc = run_cli(
        "offline", "hyperopt", "-c", "user_data/config.json", "--userdir", "user_data",
        "--strategy", "HyperoptableCorrelation", "--hyperopt-loss", "SharpeHyperOptLossDaily",
        "--spaces", "pm_correlation", "-e", "8", "-j", "2",
        "--timerange", "20250101-20250401", "-p", "BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (results,) = (userdir / "hyperopt_results").glob("*.fthypt")
    epochs = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(epochs) == 8
    sampled = {name for epoch in epochs for name in epoch["params_dict"]}
    assert {"pm_correlation_cap", "pm_correlation_threshold", "pm_correlation_window"} <= sampled
    assert len({e["results_metrics"]["profit_total_abs"] for e in epochs}) > 1
