"""
When the trailing policy moves the stop, and what a stop exit says set it, in real backtests.

``trail_on="candle_close"`` moves the stop only from closed candles, as a live bot deciding at
each candle close does; the default moves it from the running candle's high, so a breakeven stop
can arm and fire inside the entry candle, where Freqtrade's backtester prices the exit at a loss.
"""

from datetime import timedelta

import pandas as pd
import pytest
from example_strategy import ExampleStrategy
from freqtrade.data.btanalysis import load_backtest_data
from freqtrade.exchange.exchange_utils import ROUND_UP, price_to_precision
from freqtrade.persistence import LocalTrade

from freqtrade_posmgmt.mixins.trailing_stops import TrailingStopMixin
from freqtrade_posmgmt.profit import rate_for_profit
from freqtrade_posmgmt.stop_sources import STOP_BREAKEVEN, STOP_TRAIL, stop_source
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy
from tests.support.backtest_harness import SPOT_DATA, export, run_backtest

# Whole-module: every test runs long backtests or subprocesses (make test-fast leaves them out).
pytestmark = pytest.mark.slow

RUNNING = TrailingStopPolicy(breakeven_threshold=0.01)
CLOSED = TrailingStopPolicy(breakeven_threshold=0.01, trail_on="candle_close")
RUN = {"pairs": ["BTC/USDT", "ETH/USDT", "SOL/USDT"], "timerange": "20250101-20250701"}
HOUR = timedelta(hours=1)


class OnRunningCandle(TrailingStopMixin, ExampleStrategy):
    trailing_stop_policy = RUNNING


class OnCandleClose(TrailingStopMixin, ExampleStrategy):
    trailing_stop_policy = CLOSED


@pytest.fixture(scope="module")
def both():
    return run_backtest(OnRunningCandle, **RUN), run_backtest(OnCandleClose, **RUN)


def stopped(result) -> list[LocalTrade]:
    return [t for t in result.trades if t.exit_reason == "trailing_stop_loss"]


def in_entry_candle(trade: LocalTrade) -> bool:
    return trade.close_date_utc - trade.open_date_utc < HOUR


def tick_up(rate: float, trade: LocalTrade) -> float:
    """A long's stop as Freqtrade places it: rounded to the tick, towards the price."""
    return price_to_precision(
        rate, trade.price_precision, trade.precision_mode_price, rounding_mode=ROUND_UP
    )


def test_only_the_running_candle_mode_stops_out_inside_the_entry_candle(both):
    running, closed = both
    inside = [t for t in stopped(running) if in_entry_candle(t)]
    assert inside and all(t.close_profit < 0 for t in inside), "armed and fired in one candle"
    assert stopped(closed) and not [t for t in stopped(closed) if in_entry_candle(t)]
    assert not CLOSED.is_builtin_expressible()


def test_on_candle_close_the_stop_follows_the_closed_candles_only(both):
    _, closed = both
    frames = {}
    for trade in stopped(closed):
        frame = frames.setdefault(
            trade.pair,
            pd.read_feather(SPOT_DATA / f"{trade.pair.replace('/', '_')}-1h.feather").set_index(
                "date"
            ),
        )
        # At each candle's close the stop follows the best high of the candles closed so far,
        # where a bot can place it then: below that close.
        candles = frame.loc[trade.open_date_utc : trade.close_date_utc]
        highs, closes = candles["high"].tolist(), candles["close"].tolist()
        expected = trade.initial_stop_loss
        for k in range(1, len(candles)):
            stop = CLOSED.update_trailing_stop(
                is_short=False,
                open_rate=trade.open_rate,
                best_rate=max(highs[:k]),
                fee_open=trade.fee_open,
                fee_close=trade.fee_close,
            )
            if stop is not None and stop < closes[k - 1]:
                expected = max(expected, tick_up(stop, trade))
        assert trade.stop_loss == expected, trade


def test_a_stop_exit_names_the_rule_that_set_the_stop_in_the_exported_result(both, tmp_path):
    running, _ = both
    exported = load_backtest_data(export(running, tmp_path / "results"))
    rows = exported[exported["exit_reason"] == "trailing_stop_loss"]
    assert len(rows) == len(stopped(running))  # Freqtrade's exit reason is kept
    sources = {}
    for row in rows.itertuples():
        source = stop_source(row.orders[-1]["ft_order_tag"])
        sources[source] = sources.get(source, 0) + 1
        breakeven = rate_for_profit(
            RUNNING.breakeven_buffer,
            open_rate=row.open_rate,
            is_short=False,
            fee_open=row.fee_open,
            fee_close=row.fee_close,
        )
        trade = next(
            t for t in running.trades if (t.pair, t.open_date_utc) == (row.pair, row.open_date)
        )
        if source == STOP_BREAKEVEN:
            assert row.stop_loss_abs == tick_up(breakeven, trade)
        else:
            assert source == STOP_TRAIL
            assert row.stop_loss_abs > tick_up(breakeven, trade)
            # The trail of a rate the trade reached.
            best_trail = row.max_rate * (1 - RUNNING.trailing_distance_pct)
            assert row.stop_loss_abs <= tick_up(best_trail, trade)
    assert sources.get(STOP_BREAKEVEN, 0) >= 5 and sources.get(STOP_TRAIL, 0) >= 5
