"""MFE/MAE of real backtests on the shipped data, and the live recording mixin."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from example_strategy import ExampleStrategy
from freqtrade.enums import RunMode
from freqtrade.persistence import Order, Trade, init_db

from freqtrade_posmgmt.excursions import PairCandles, trade_excursions
from freqtrade_posmgmt.mixins.mfe_mae import MFEMAEHooks, MFEMAEMixin
from freqtrade_posmgmt.mixins.trailing_stops import TrailingStopHooks, TrailingStopMixin
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy
from tests.support.backtest_harness import SPOT_DATA, run_backtest
from tests.support.strategies import PAIRS, ExampleShort, ScaleInAndOut

TIMERANGE = "20250101-20250501"


class ExampleWithMFEMAE(MFEMAEMixin, ExampleStrategy):
    pass


def spot_candles(pair: str) -> pd.DataFrame:
    # Futures runs use candles derived from these spot candles (see the harness).
    base = pair.split(":")[0].replace("/", "_")
    return pd.read_feather(SPOT_DATA / f"{base}-1h.feather")


def fills_of(trades: list) -> pd.DataFrame:
    rows = [
        (
            trade.id,
            trade.pair,
            trade.is_short,
            order.order_filled_utc,
            order.ft_order_side == trade.entry_side,
            order.safe_amount,
            order.safe_price,
        )
        for trade in trades
        for order in trade.orders
        if order.status == "closed"
    ]
    fills = pd.DataFrame(
        rows, columns=["trade_id", "pair", "is_short", "date", "is_entry", "amount", "price"]
    )
    fills["date"] = pd.to_datetime(fills["date"], utc=True)
    return fills


def excursions_of(trades: list) -> pd.DataFrame:
    candles = {pair: PairCandles(spot_candles(pair)) for pair in {t.pair for t in trades}}
    return trade_excursions(candles, fills_of(trades))


def direct_excursion(trade, candles: pd.DataFrame) -> tuple[float, float, datetime, datetime]:
    """MFE, MAE and their times, straight from the candles that opened while the position was
    open, plus the entry and exit prices."""
    entry, close = trade.orders[0].safe_price, trade.close_rate
    window = candles[
        (candles["date"] >= trade.open_date_utc) & (candles["date"] < trade.close_date_utc)
    ]
    start, end = (trade.open_date_utc, entry), (trade.close_date_utc, close)
    highs = [start, *zip(window["date"], window["high"], strict=True), end]
    lows = [start, *zip(window["date"], window["low"], strict=True), end]
    # The extreme price, and the earliest time it was seen.
    top_time, top = max(highs, key=lambda point: (point[1], -point[0].timestamp()))
    bottom_time, bottom = min(lows, key=lambda point: (point[1], point[0].timestamp()))
    if trade.is_short:
        return (entry - bottom) / entry, (entry - top) / entry, bottom_time, top_time
    return (top - entry) / entry, (bottom - entry) / entry, top_time, bottom_time


@pytest.fixture(scope="module")
def long_run():
    return run_backtest(ExampleStrategy, pairs=PAIRS, timerange=TIMERANGE)


@pytest.fixture(scope="module")
def short_run():
    # Shorts need futures: the harness derives futures candles from the spot ones.
    return run_backtest(
        ExampleShort, pairs=PAIRS, timerange=TIMERANGE, trading_mode="futures", leverage=3.0
    )


@pytest.mark.parametrize("run", ["long_run", "short_run"])
def test_single_entry_excursions_equal_the_candles(run, request):
    trades = request.getfixturevalue(run).trades
    assert len(trades) >= 20
    if run == "short_run":
        assert sum(t.is_short for t in trades) >= 10
    measured = excursions_of(trades)
    frames = {pair: spot_candles(pair) for pair in PAIRS}
    for trade in trades:
        assert len(trade.orders) == 2
        mfe, mae, mfe_time, mae_time = direct_excursion(trade, frames[trade.pair.split(":")[0]])
        row = measured.loc[trade.id]
        assert row["mfe"] == pytest.approx(mfe, abs=1e-12), trade
        assert row["mae"] == pytest.approx(mae, abs=1e-12), trade
        assert (row["mfe_time"], row["mae_time"]) == (mfe_time, mae_time), trade
        assert row["mfe"] >= 0 >= row["mae"]
        # Freqtrade's max_rate/min_rate also count the exit candle: never inside our range.
        entry = trade.orders[0].safe_price
        highest, lowest = (1 - mae, 1 - mfe) if trade.is_short else (1 + mfe, 1 + mae)
        assert trade.max_rate >= entry * highest * (1 - 1e-12)
        assert trade.min_rate <= entry * lowest * (1 + 1e-12)
        # Unlevered: the leverage of the futures run does not scale the ratios.
        assert row["pnl"] == pytest.approx(
            (-1 if trade.is_short else 1) * (trade.close_rate / trade.orders[0].safe_price - 1)
        )


def test_position_replay_agrees_with_freqtrades_accounting_on_adds_and_partial_exits():
    trades = run_backtest(ScaleInAndOut, pairs=PAIRS, timerange=TIMERANGE).trades
    multi = [trade for trade in trades if len(trade.orders) > 2]
    assert len(multi) >= 5
    assert any(o.ft_order_tag == "take_half" for t in multi for o in t.orders)
    assert any(o.ft_order_tag == "add_dip" for t in multi for o in t.orders)
    measured = excursions_of(trades)
    for trade in trades:
        row = measured.loc[trade.id]
        fees = sum(
            order.safe_amount
            * order.safe_price
            * (trade.fee_open if order.ft_order_side == trade.entry_side else trade.fee_close)
            for order in trade.orders
        )
        # Our result is before fees; Freqtrade's profit_abs after them.
        assert row["pnl_abs"] - fees == pytest.approx(trade.close_profit_abs, rel=1e-6, abs=1e-6)
        assert row["position_mae_abs"] <= row["pnl_abs"] <= row["position_mfe_abs"]
        # Peak stake is the largest open position; Freqtrade's max_stake_amount sums every
        # entry. They agree when all entries come before the first exit.
        sides = [order.ft_order_side == trade.entry_side for order in trade.orders]
        if sides == sorted(sides, reverse=True):
            assert row["peak_stake"] == pytest.approx(trade.max_stake_amount, rel=1e-9)
        else:
            assert row["peak_stake"] < trade.max_stake_amount


def test_mixin_costs_nothing_in_backtesting(long_run, monkeypatch):
    calls = []
    monkeypatch.setattr(MFEMAEHooks, "on_loop_start", lambda self, current_time: calls.append(1))
    run = run_backtest(ExampleWithMFEMAE, pairs=PAIRS, timerange=TIMERANGE)
    assert calls == []
    assert [(t.pair, t.open_date, t.close_profit_abs) for t in run.trades] == [
        (t.pair, t.open_date, t.close_profit_abs) for t in long_run.trades
    ]


class TrailedWithMFEMAE(TrailingStopMixin, MFEMAEMixin, ExampleStrategy):
    trailing_stop_policy = TrailingStopPolicy(
        activation_threshold=0.05, atr_multiplier=3.0, trail_on="candle_close"
    )


def test_recording_stays_off_in_backtesting_when_another_mixin_needs_bot_loop_start(monkeypatch):
    # The candle-close trailing stop runs bot_loop_start every candle in backtesting; recording
    # there cost the full stack 60% of its backtest time.
    calls = []
    monkeypatch.setattr(MFEMAEHooks, "on_loop_start", lambda self, current_time: calls.append(1))
    loops = []
    original = TrailingStopHooks.on_loop_start

    def counted(self, current_time):
        loops.append(1)
        original(self, current_time)

    monkeypatch.setattr(TrailingStopHooks, "on_loop_start", counted)
    run_backtest(TrailedWithMFEMAE, pairs=PAIRS, timerange=TIMERANGE)
    assert loops and calls == []


# --- live / dry-run recording --------------------------------------------------------------

T0 = datetime(2025, 3, 3, 12, tzinfo=UTC)


@pytest.fixture
def dry_run_db():
    init_db("sqlite://")
    yield
    Trade.session.rollback()


def dry_run_strategy() -> ExampleWithMFEMAE:
    return ExampleWithMFEMAE(
        {"runmode": RunMode.DRY_RUN, "stake_currency": "USDT", "exchange": {"name": "binance"}}
    )


def open_trade(is_short: bool = False) -> Trade:
    side = "sell" if is_short else "buy"
    trade = Trade(
        pair="BTC/USDT",
        stake_amount=100.0,
        amount=1.0,
        open_rate=100.0,
        open_date=T0,
        fee_open=0.001,
        fee_close=0.001,
        is_open=True,
        exchange="binance",
        is_short=is_short,
        leverage=1.0,
    )
    trade.orders.append(
        Order(
            ft_order_side=side,
            ft_pair="BTC/USDT",
            ft_is_open=False,
            ft_amount=1.0,
            ft_price=100.0,
            order_id="entry",
            status="closed",
            side=side,
            order_type="market",
            price=100.0,
            average=100.0,
            amount=1.0,
            filled=1.0,
            remaining=0.0,
            order_date=T0,
            order_filled_date=T0,
        )
    )
    Trade.session.add(trade)
    Trade.commit()
    return trade


def saved(trade: Trade) -> dict:
    return {
        key: trade.get_custom_data(key)
        for key in ("pm_mfe", "pm_mae", "pm_mfe_time", "pm_mae_time")
    }


def test_dry_run_records_extremes_with_their_times_and_writes_only_on_change(
    dry_run_db, monkeypatch
):
    strategy = dry_run_strategy()
    trade = open_trade()
    writes = []
    original = Trade.set_custom_data
    monkeypatch.setattr(
        Trade,
        "set_custom_data",
        lambda self, key, value: (writes.append(key), original(self, key, value)),
    )
    # No rate seen yet: nothing to record.
    strategy.bot_loop_start(current_time=T0)
    assert writes == []
    trade.adjust_min_max_rates(100.0, 100.0)
    strategy.bot_loop_start(current_time=T0 + timedelta(minutes=1))
    assert saved(trade) == {
        "pm_mfe": 0.0,
        "pm_mae": 0.0,
        "pm_mfe_time": T0.isoformat(),
        "pm_mae_time": T0.isoformat(),
    }
    trade.adjust_min_max_rates(103.0, 99.0)
    strategy.bot_loop_start(current_time=T0 + timedelta(minutes=5))
    assert saved(trade) == {
        "pm_mfe": 0.03,
        "pm_mae": -0.01,
        "pm_mfe_time": (T0 + timedelta(minutes=5)).isoformat(),
        "pm_mae_time": (T0 + timedelta(minutes=5)).isoformat(),
    }
    writes.clear()
    trade.adjust_min_max_rates(102.0, 99.5)
    strategy.bot_loop_start(current_time=T0 + timedelta(minutes=10))
    assert writes == []
    trade.adjust_min_max_rates(104.0, 99.5)
    strategy.bot_loop_start(current_time=T0 + timedelta(minutes=15))
    assert writes == ["pm_mfe", "pm_mfe_time"]
    assert saved(trade)["pm_mfe"] == pytest.approx(0.04)
    assert saved(trade)["pm_mae_time"] == (T0 + timedelta(minutes=5)).isoformat()
    # One type per key: the floats stay floats, the times strings.
    assert {e.cd_key: e.cd_type for e in trade.get_all_custom_data()} == {
        "pm_mfe": "float",
        "pm_mae": "float",
        "pm_mfe_time": "str",
        "pm_mae_time": "str",
    }

    # A restarted bot carries on from the saved extremes instead of re-timing them.
    restarted = dry_run_strategy()
    writes.clear()
    restarted.bot_loop_start(current_time=T0 + timedelta(minutes=20))
    assert writes == []
    trade.adjust_min_max_rates(104.0, 97.0)
    restarted.bot_loop_start(current_time=T0 + timedelta(minutes=25))
    assert writes == ["pm_mae", "pm_mae_time"]
    assert saved(trade)["pm_mfe_time"] == (T0 + timedelta(minutes=15)).isoformat()


def test_dry_run_short_uses_the_low_for_mfe(dry_run_db):
    strategy = dry_run_strategy()
    trade = open_trade(is_short=True)
    trade.adjust_min_max_rates(101.0, 95.0)
    strategy.bot_loop_start(current_time=T0)
    assert saved(trade)["pm_mfe"] == pytest.approx(0.05)
    assert saved(trade)["pm_mae"] == pytest.approx(-0.01)


def test_switched_off_by_config_records_nothing(dry_run_db):
    strategy = ExampleWithMFEMAE(
        {
            "runmode": RunMode.DRY_RUN,
            "stake_currency": "USDT",
            "exchange": {"name": "binance"},
            "posmgmt": {"mfe_mae": {"enabled": False}},
        }
    )
    trade = open_trade()
    trade.adjust_min_max_rates(103.0, 99.0)
    strategy.bot_loop_start(current_time=T0)
    assert trade.get_all_custom_data() == []
    assert strategy.pm_mfe_mae_tracker is None
