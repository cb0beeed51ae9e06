"""The framework-free state of the mixin layer: the equity ledger, fill replay, closed candles."""

from bisect import bisect_right
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freqtrade_posmgmt.closed_candles import (
    best_closed_rate,
    candle_index,
    last_closed_index,
    unread_closed_range,
)
from freqtrade_posmgmt.fills import Fill, exit_profits, holdings
from freqtrade_posmgmt.ledger import EquityLedger, EquityPoint
from freqtrade_posmgmt.profit import profit_abs

exits = st.lists(
    st.tuples(st.integers(1, 50).map(float), st.floats(-100, 100, allow_nan=False)), max_size=30
)


def path_of(start: float, fills: list[tuple[float, float]]) -> list[EquityPoint]:
    """The equity path booked in time order, one point per moment: the reference."""
    moments: dict[float, float] = {}
    for time, profit in fills:
        moments[time] = moments.get(time, 0.0) + profit
    point, path = EquityPoint(0.0, start, start, start), []
    for time in sorted(moments):
        point = point.then(time, point.equity + moments[time])
        path.append(point)
    return path


@given(exits)
def test_the_ledger_books_fills_in_any_order_as_in_time_order(fills):
    ledger = EquityLedger(1000.0)
    for time, profit in fills:
        ledger.add(time, profit)
    expected = path_of(1000.0, fills)
    assert ledger.points == pytest.approx(expected) if expected else ledger.points == []
    for before in (1.0, 25.0, 51.0):
        earlier = [p for p in expected if p.time < before]
        assert ledger.at(before) == (earlier[-1] if earlier else ledger.start)


@given(exits, exits)
def test_open_exits_merge_into_the_closed_path(closed, open_):
    ledger = EquityLedger(1000.0)
    for time, profit in closed:
        ledger.add(time, profit)
    merged = [p for p in path_of(1000.0, closed + open_) if p.time < 40.0]
    point = ledger.with_open_exits(open_, 40.0)
    expected = merged[-1] if merged else ledger.start
    assert point.equity == pytest.approx(expected.equity)
    assert point.peak == pytest.approx(expected.peak)
    assert point.trough == pytest.approx(expected.trough)


def test_closed_trades_are_found_by_close_time():
    ledger = EquityLedger(100.0)
    for day, profit in ((1, 5.0), (3, -2.0), (5, 1.0)):
        closed_at = datetime(2025, 1, day, tzinfo=UTC)
        ledger.close([(closed_at.timestamp(), profit)], closed_at, profit)
    since = datetime(2025, 1, 2, tzinfo=UTC).timestamp()
    before = datetime(2025, 1, 5, tzinfo=UTC).timestamp()
    assert ledger.closed_between(since, before) == [(datetime(2025, 1, 3, tzinfo=UTC), -2.0)]
    assert (ledger.count, ledger.total) == (3, 4.0)


def test_exit_profits_replay_the_average_entry_and_the_funding():
    fills = [
        Fill(1.0, True, 2.0, 2.0, 100.0, funding_fee=0.0),
        Fill(2.0, True, 2.0, 2.0, 110.0, funding_fee=-0.5),
        Fill(3.0, False, 1.0, 1.0, 120.0, funding_fee=-0.25),
        Fill(4.0, False, 3.0, 3.0, 90.0),
    ]
    kwargs = {"is_short": False, "fee_open": 0.001, "fee_close": 0.002}
    assert exit_profits(fills, **kwargs) == [
        (3.0, profit_abs(120.0, open_rate=105.0, amount=1.0, funding_fees=-0.75, **kwargs)),
        (4.0, profit_abs(90.0, open_rate=105.0, amount=3.0, funding_fees=0.0, **kwargs)),
    ]


def test_holdings_of_a_position_with_an_add_and_a_partial_exit():
    fills = [
        Fill(1.0, True, 1.99, 2.0, 100.0, tag="enter"),
        Fill(2.0, True, 1.0, 1.0, 90.0, tag="pm_add-5%"),
        Fill(3.0, False, 1.5, 1.5, 110.0, tag="pm_tp3%"),
    ]
    facts = holdings(fills, leverage=2.0)
    assert (facts.first_size, facts.first_stake, facts.peak, facts.exited) == (
        1.99,
        100.0,
        2.99,
        True,
    )
    assert (facts.entry_tags, facts.exit_tags) == (("enter", "pm_add-5%"), ("pm_tp3%",))


@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=40),
    st.integers(-7200, 200 * 3600),
)
def test_candle_index_is_the_last_candle_opened_at_or_before(gaps, epoch):
    opens, time = [], 0
    for gap in gaps:  # a missing candle now and then
        time += 3600 * (1 + gap)
        opens.append(time)
    for found, at in (
        (candle_index(opens, 3600, epoch), epoch),
        (last_closed_index(opens, 3600, epoch), epoch - 3600),
    ):
        expected = bisect_right(opens, at) - 1
        assert found == expected if expected >= 0 else found < 0


def test_the_best_closed_rate_extends_what_is_known():
    highs = [1.0, 3.0, 2.0, 5.0]
    assert best_closed_rate(highs, 0, 2, is_short=False) == 3.0
    assert best_closed_rate(highs, 3, 3, is_short=False, known=4.0) == 5.0
    assert best_closed_rate(highs, 3, 2, is_short=True, known=None) is None
    assert best_closed_rate(highs, 1, 3, is_short=True, known=2.5) == 2.0


def test_unread_candles_are_found_by_time_in_a_full_frame():
    """A live bot's frame keeps its length: each new candle pushes the oldest out. The candles
    not read yet follow from the time of the last one read, not from its index."""
    hour = 3600
    frame = [hour * i for i in range(10, 15)]  # five candles, the last closed at 15h
    first, last = unread_closed_range(frame, hour, 15 * hour + 60, since_s=11 * hour + 30)
    assert (frame[first], frame[last]) == (11 * hour, 14 * hour)
    read = frame[last]
    full = [hour * i for i in range(12, 17)]  # two candles later, still five long
    first, last = unread_closed_range(full, hour, 17 * hour + 60, 11 * hour + 30, read)
    assert [full[i] for i in range(first, last + 1)] == [15 * hour, 16 * hour]
    # Nothing new within the same candle.
    first, last = unread_closed_range(full, hour, 17 * hour + 900, 11 * hour + 30, 16 * hour)
    assert first > last


def test_no_candle_is_read_before_the_entry_candle_closes():
    """At a poll inside the entry candle the frame ends at the candle before it: that candle
    is no part of the trade."""
    hour = 3600
    frame = [hour * i for i in range(10, 15)]  # closed up to 15h; the entry candle opens at 15h
    assert unread_closed_range(frame, hour, 15 * hour + 600, since_s=15 * hour + 300) is None
    first, last = unread_closed_range(frame + [15 * hour], hour, 16 * hour + 5, 15 * hour + 300)
    assert first == last == 5
