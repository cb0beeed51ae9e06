"""The replay's pure parts: the tick path through a candle, and the comparison's causes."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from freqtrade_posmgmt.replay.comparison import Cause, compare
from freqtrade_posmgmt.replay.feed import PairFeed, tick_path

HOUR = 3_600_000
START = 1_738_368_000_000  # 2025-02-01 00:00 UTC


@st.composite
def candles(draw):
    low = draw(st.floats(1.0, 1000.0))
    high = low * draw(st.floats(1.0, 1.2))
    open_ = draw(st.floats(low, high))
    close = draw(st.floats(low, high))
    return open_, high, low, close


@given(candles(), st.integers(1, 40))
def test_tick_path_stays_in_the_candle_and_ends_at_its_close(candle, ticks):
    open_, high, low, close = candle
    path = tick_path(open_, high, low, close, ticks)
    assert len(path) == ticks
    assert path[0] == open_
    assert all(low <= price <= high for price in path)
    if ticks > 1:
        assert path[-1] == close


@given(candles(), st.integers(4, 40))
def test_tick_path_from_four_ticks_polls_the_high_and_the_low(candle, ticks):
    open_, high, low, close = candle
    path = tick_path(open_, high, low, close, ticks)
    assert high in path and low in path
    nearer, farther = (high, low) if high - open_ <= open_ - low else (low, high)
    assert path.index(nearer) <= path.index(farther)


def test_tick_path_of_four_is_open_nearer_farther_close():
    assert tick_path(100, 103, 90, 95, 4) == [100, 103, 90, 95]
    assert tick_path(100, 110, 99, 105, 4) == [100, 99, 110, 105]


def test_tick_path_needs_a_tick():
    with pytest.raises(ValueError, match="at least 1"):
        tick_path(1, 1, 1, 1, 0)


def trade(pair="BTC/USDT", opened=START + HOUR, closed=START + 5 * HOUR, **changes):
    base = {
        "pair": pair,
        "is_short": False,
        "is_open": False,
        "open_timestamp": opened,
        "close_timestamp": closed,
        "close_date": "2025-02-01 05:00:00",
        "open_rate": 100.0,
        "close_rate": 110.0,
        "amount": 1.0,
        "exit_reason": "exit_signal",
        "orders": [
            {
                "ft_order_side": "buy",
                "ft_is_entry": True,
                "safe_price": 100.0,
                "amount": 1.0,
                "ft_order_tag": None,
                "order_filled_timestamp": opened,
                "status": "closed",
                "filled": 1.0,
            },
            {
                "ft_order_side": "sell",
                "ft_is_entry": False,
                "safe_price": changes.get("close_rate", 110.0),
                "amount": 1.0,
                "ft_order_tag": None,
                "order_filled_timestamp": closed,
                "status": "closed",
                "filled": 1.0,
            },
        ],
    }
    return base | changes


def compared(live, backtest, restarts=()):
    return compare(
        live,
        backtest,
        timeframe_ms=HOUR,
        start_ms=START,
        lot_steps={"BTC/USDT": 0.001, "ETH/USDT": 0.001},
        restart_ms=list(restarts),
    )


def test_same_trades_are_identical_within_one_lot_step():
    result = compared([trade(amount=1.0005)], [trade()])
    assert result.identical == 1 and not result.unexplained


def test_a_stop_filled_at_a_poll_is_the_polled_price():
    live = trade(closed=START + 4 * HOUR + HOUR // 2, close_rate=93.0, exit_reason="stop_loss")
    backtest = trade(closed=START + 4 * HOUR, close_rate=94.0, exit_reason="stop_loss")
    (row,) = compared([live], [backtest]).rows
    assert row.cause is Cause.STOP_AT_POLLED_PRICE


def test_an_exit_at_a_candle_open_at_another_rate_is_unexplained():
    result = compared([trade(close_rate=111.0)], [trade()])
    assert [row.detail for row in result.unexplained] == [
        "exit rate 111.0 vs 110.0; fill 2 differs"
    ]


def test_a_later_stake_difference_follows_from_an_earlier_one():
    first_live = trade(closed=START + 2 * HOUR + 900_000, close_rate=90.0, exit_reason="roi")
    first_backtest = trade(closed=START + 3 * HOUR, close_rate=95.0, exit_reason="roi")
    later = {"opened": START + 6 * HOUR, "closed": START + 8 * HOUR, "pair": "ETH/USDT"}
    result = compared(
        [first_live, trade(amount=0.9, **later)], [first_backtest, trade(amount=1.0, **later)]
    )
    assert [row.cause for row in result.rows] == [
        Cause.EXIT_INSIDE_CANDLE,
        Cause.EARLIER_DIFFERENCE,
    ]


def test_a_stake_difference_with_nothing_before_it_is_unexplained():
    result = compared([trade(amount=0.9)], [trade()])
    assert len(result.unexplained) == 1


def test_a_live_entry_on_the_first_candle_acts_on_the_signal_before_the_timerange():
    (row,) = compared([trade(opened=START)], []).rows
    assert row.cause is Cause.SIGNAL_BEFORE_START


def test_a_backtest_entry_missed_while_the_bot_restarted():
    (row,) = compared([], [trade()], restarts=[START + HOUR + 900_000]).rows
    assert row.cause is Cause.REFUSED_AFTER_RESTART
    (row,) = compared([], [trade()]).rows
    assert row.unexplained


def feed_of(candles: int, ticks: int = 4, gap_after: int | None = None) -> PairFeed:
    """Hourly candles from START, prices rising by 1 a candle; ``gap_after``: one candle missing
    after that index."""
    dates = [START + HOUR * (i + (1 if gap_after is not None and i > gap_after else 0))
             for i in range(candles)]  # fmt: skip
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(dates, unit="ms", utc=True),
            "open": [100.0 + i for i in range(candles)],
            "high": [103.0 + i for i in range(candles)],
            "low": [99.5 + i for i in range(candles)],
            "close": [101.0 + i for i in range(candles)],
            "volume": [10.0 * (i + 1) for i in range(candles)],
        }
    )
    return PairFeed(frame, "1h", ticks)


def recorded(feed: PairFeed, index: int) -> list:
    return [START + HOUR * index, *feed.ohlcv[index].tolist()]


def test_fetch_ohlcv_answers_the_latest_candles_up_to_the_running_one_as_ccxt_rows():
    feed = feed_of(20)
    now = START + 10 * HOUR + HOUR // 4  # the second of four polls of candle 10
    rows = feed.ohlcv_since(now, None, 5)

    assert [row[0] for row in rows] == [START + HOUR * i for i in range(6, 11)]
    assert rows[:-1] == [recorded(feed, i) for i in range(6, 10)]
    assert all(type(row[0]) is int for row in rows)
    assert all(type(value) is float for row in rows[:-1] for value in row[1:])
    # The running candle as formed so far: open, then the nearer extreme (the low).
    assert rows[-1] == [START + 10 * HOUR, 110.0, 110.0, 109.5, 109.5, 10.0 * 11 * 2 / 4]


def test_fetch_ohlcv_pages_from_since_and_stops_at_now_or_the_limit():
    feed = feed_of(20)
    now = START + 12 * HOUR
    assert [row[0] for row in feed.ohlcv_since(now, START + 3 * HOUR, 4)] == [
        START + HOUR * i for i in range(3, 7)
    ]
    # At a candle's first poll it has only its open.
    tail = feed.ohlcv_since(now, START + 10 * HOUR, 100)
    assert tail[:-1] == [recorded(feed, 10), recorded(feed, 11)]
    assert tail[-1] == [START + 12 * HOUR, 112.0, 112.0, 112.0, 112.0, 10.0 * 13 / 4]
    assert feed.ohlcv_since(START - HOUR, None, 10) == []


def test_fetch_ohlcv_after_a_gap_serves_the_last_candle_closed():
    feed = feed_of(5, gap_after=2)  # candles 0, 1, 2, then 4, 5 (hours)
    now = START + 3 * HOUR + HOUR // 2  # inside the missing hour
    assert feed.ohlcv_since(now, None, 10) == [recorded(feed, i) for i in range(3)]


def test_fetch_ohlcv_answers_are_copies():
    feed = feed_of(5)
    now = START + 4 * HOUR
    feed.ohlcv_since(now, None, 10)[0][1] = -1.0
    assert feed.ohlcv_since(now, None, 10)[0] == recorded(feed, 0)
