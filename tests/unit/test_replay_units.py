"""The replay's pure parts: the tick path through a candle, and the comparison's causes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freqtrade_posmgmt.replay.comparison import Cause, compare
from freqtrade_posmgmt.replay.feed import tick_path

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
