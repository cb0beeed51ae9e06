import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from freqtrade_posmgmt.excursions import (
    PairCandles,
    average_true_range,
    edge_ratio,
    trade_excursions,
    trailing_stop_expectancy,
)

START = pd.Timestamp("2025-01-06 00:00", tz="UTC")
PAIR = "BTC/USDT"


def hour(n: int) -> pd.Timestamp:
    return START + pd.Timedelta(hours=n)


def candles_of(rows: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    """Hourly candles from (open, high, low, close) rows."""
    frame = pd.DataFrame(rows, columns=["open", "high", "low", "close"])
    frame.insert(0, "date", [hour(n) for n in range(len(rows))])
    frame["volume"] = 1.0
    return frame


def fills_of(trade_id, is_short, rows) -> pd.DataFrame:
    """Fills from (hour, is_entry, amount, price) rows."""
    return pd.DataFrame(
        {
            "trade_id": trade_id,
            "pair": PAIR,
            "is_short": is_short,
            "date": [hour(n) for n, *_ in rows],
            "is_entry": [entry for _, entry, _, _ in rows],
            "amount": [amount for *_, amount, _ in rows],
            "price": [price for *_, price in rows],
        }
    )


# Hand-built: entry 1 @100 (h0), add 1 @104 (h2), partial exit 1 @108 (h4),
# add 2 @96 (h5), partial exit 1 @101 (h7), final exit 2 @103 (h9).
LADDER_CANDLES = candles_of(
    [
        (100, 103, 99, 102),
        (102, 105, 101, 104),
        (104, 106, 103, 105),
        (105, 109, 104, 108),
        (108, 112, 107, 100),
        (96, 97, 92, 95),
        (95, 100, 94, 101),
        (101, 102, 99, 102),
        (102, 104, 100, 103),
        (103, 104, 102, 103),
    ]
)
LADDER_FILLS = [
    (0, True, 1.0, 100.0),
    (2, True, 1.0, 104.0),
    (4, False, 1.0, 108.0),
    (5, True, 2.0, 96.0),
    (7, False, 1.0, 101.0),
    (9, False, 2.0, 103.0),
]


def test_two_adds_two_partial_exits_exact_position_excursion():
    result = trade_excursions(
        {PAIR: PairCandles(LADDER_CANDLES)}, fills_of(7, False, LADDER_FILLS)
    ).loc[7]
    # Peak cost basis after the second add: 1 @102 average kept + 2 @96 = 294.
    assert result["peak_stake"] == pytest.approx(294.0)
    # Best: h8 high 104 with 2 held at average 98 and 9 realised: 9 + 2 * 6 = 21.
    assert result["position_mfe_abs"] == pytest.approx(21.0)
    assert result["position_mfe_time"] == hour(8)
    # Worst: h5 low 92 with 3 held at average 98 and 6 realised: 6 - 3 * 6 = -12.
    assert result["position_mae_abs"] == pytest.approx(-12.0)
    assert result["position_mae_time"] == hour(5)
    assert result["pnl_abs"] == pytest.approx(19.0)
    assert result["position_mfe"] == pytest.approx(21 / 294)
    assert result["position_mae"] == pytest.approx(-12 / 294)
    assert result["pnl"] == pytest.approx(19 / 294)
    # The price excursion from the first entry over h0..h8: high 112 at h4, low 92 at h5.
    assert result["mfe"] == pytest.approx(0.12)
    assert result["mfe_time"] == hour(4)
    assert result["mae"] == pytest.approx(-0.08)
    assert result["mae_time"] == hour(5)
    assert result["fills"] == 6
    assert (result["open_date"], result["close_date"]) == (hour(0), hour(9))


def test_short_position_path_is_the_long_one_negated():
    candles = {PAIR: PairCandles(LADDER_CANDLES)}
    long = trade_excursions(candles, fills_of(1, False, LADDER_FILLS)).loc[1]
    short = trade_excursions(candles, fills_of(1, True, LADDER_FILLS)).loc[1]
    assert short["position_mfe_abs"] == pytest.approx(12.0)
    assert short["position_mfe_time"] == hour(5)
    assert short["position_mae_abs"] == pytest.approx(-21.0)
    assert short["pnl_abs"] == pytest.approx(-long["pnl_abs"])
    assert short["mfe"] == pytest.approx(0.08)
    assert short["mae"] == pytest.approx(-0.12)


def test_exit_candle_range_is_not_counted():
    candles = candles_of([(100, 101, 99, 100), (100, 130, 70, 100)])
    # Stopped inside the second candle at 95: its 130 high and 70 low may come after the exit.
    fills = fills_of(1, False, [(0, True, 1.0, 100.0), (1, False, 1.0, 95.0)])
    result = trade_excursions({PAIR: PairCandles(candles)}, fills).loc[1]
    assert result["mfe"] == pytest.approx(0.01)
    assert result["mae"] == pytest.approx(-0.05)
    assert result["mae_time"] == hour(1)


def test_trade_that_never_moved_has_zero_excursions_not_negative_zero():
    candles = candles_of([(100, 100, 100, 100)] * 3)
    fills = fills_of(1, True, [(0, True, 1.0, 100.0), (2, False, 1.0, 100.0)])
    result = trade_excursions({PAIR: PairCandles(candles)}, fills).loc[1]
    assert np.copysign(1, result["mfe"]) == 1 and np.copysign(1, result["mae"]) == 1
    assert result["mfe_time"] == hour(0)


def test_bad_fills_raise_one_clear_error():
    candles = {PAIR: PairCandles(LADDER_CANDLES)}
    with pytest.raises(ValueError, match="trade 3: the first fill must be an entry"):
        trade_excursions(candles, fills_of(3, False, [(0, False, 1.0, 100.0)]))
    with pytest.raises(ValueError, match=r"no candles for pair\(s\) ETH/USDT"):
        trade_excursions(candles, fills_of(3, False, LADDER_FILLS).assign(pair="ETH/USDT"))
    naive = LADDER_CANDLES.assign(date=LADDER_CANDLES["date"].dt.tz_localize(None))
    with pytest.raises(ValueError, match="candles.date: naive datetimes"):
        PairCandles(naive)


def test_atr_equals_talib():
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    high = close * (1 + rng.uniform(0, 0.01, 300))
    low = close * (1 - rng.uniform(0, 0.01, 300))
    ours = average_true_range(high, low, close, 14)
    theirs = talib.ATR(high, low, close, timeperiod=14)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, equal_nan=True)


def test_edge_ratio_by_hand():
    # Constant true range of 2 gives ATR 2 from candle 2 (period 2).
    rows = [(100, 101, 99, 100)] * 3 + [(100, 104, 99, 103), (103, 103, 97, 98)]
    candles = {PAIR: PairCandles(candles_of(rows), atr_period=2)}
    trades = pd.DataFrame(
        {
            "pair": [PAIR] * 2,
            "open_date": [hour(3)] * 2,
            "open_rate": 100.0,
            "is_short": [False, True],
        }
    )
    result = edge_ratio(candles, trades, max_bars=3)
    # ATR at h2 is 2. n=1 (h3 only): long +4/-1, short +1/-4.
    assert result.loc[1, "mean_mfe_atr"] == pytest.approx((4 + 1) / 2 / 2)
    assert result.loc[1, "mean_mae_atr"] == pytest.approx((1 + 4) / 2 / 2)
    # n=2: long +4/-3, short +3/-4.
    assert result.loc[2, "edge_ratio"] == pytest.approx(1.0)
    assert result.loc[2, "trades"] == 2
    # No third candle after entry: nobody counts.
    assert result.loc[3, "trades"] == 0


def test_trailing_stop_replay_by_hand():
    rows = [(100, 104, 99, 103), (103, 110, 102, 109), (109, 109, 104, 105), (105, 106, 90, 95)]
    candles = {PAIR: PairCandles(candles_of(rows))}
    trades = pd.DataFrame(
        {
            "pair": [PAIR],
            "open_date": [hour(0)],
            "close_date": [hour(3)],
            "open_rate": [100.0],
            "is_short": [False],
            "pnl": [-0.1],
        }
    )
    result = trailing_stop_expectancy(candles, trades, [0.02, 0.05, 0.5])
    # 2%: best before h1 is 104 -> stop 101.92, h1 low 102 holds; best before h2 is 110 ->
    # stop 107.8, h2 low 104 hits it.
    assert result[0.02] == pytest.approx(0.078)
    # 5%: stop 104.5 at h2 hits (low 104).
    assert result[0.05] == pytest.approx(0.045)
    # 50% never hits: the trade's own result stands.
    assert result[0.5] == pytest.approx(-0.1)


# --- properties against a direct replay ---------------------------------------------------


@st.composite
def price_paths(draw):
    size = draw(st.integers(3, 30))
    moves = draw(st.lists(st.floats(-0.05, 0.05), min_size=size, max_size=size))
    closes = 100 * np.exp(np.cumsum(moves))
    opens = np.r_[100.0, closes[:-1]]
    spread = draw(st.lists(st.floats(0, 0.03), min_size=size, max_size=size))
    highs = np.maximum(opens, closes) * (1 + np.asarray(spread))
    lows = np.minimum(opens, closes) * (1 - np.asarray(spread))
    return candles_of(list(zip(opens, highs, lows, closes, strict=True)))


@st.composite
def ladders(draw, size):
    """Random fills on candle opens: an entry, then adds and partial exits, then flat."""
    hours = sorted(draw(st.sets(st.integers(0, size - 1), min_size=2, max_size=6)))
    rows, held = [], 0.0
    for position, n in enumerate(hours):
        last = position == len(hours) - 1
        if last:
            rows.append((n, False, held))
        elif held == 0 or draw(st.booleans()):
            amount = draw(st.sampled_from([0.5, 1.0, 2.0]))
            rows.append((n, True, amount))
            held += amount
        else:
            amount = held * draw(st.sampled_from([0.25, 0.5]))
            rows.append((n, False, amount))
            held -= amount
    return rows


def replay(candles: pd.DataFrame, rows, is_short: bool) -> tuple[float, float]:
    """Best and worst total profit, stepping hour by hour."""
    sign = -1 if is_short else 1
    held = average = realised = 0.0
    seen = []
    fills = {n: (entry, amount) for n, entry, amount in rows}
    last = rows[-1][0]
    for n in range(last + 1):
        candle = candles.iloc[n]
        if n in fills:
            entry, amount = fills[n]
            if entry:
                average = (average * held + candle["open"] * amount) / (held + amount)
                held += amount
            else:
                realised += sign * amount * (candle["open"] - average)
                held -= amount
            seen.append(realised + sign * held * (candle["open"] - average))
        if n < last:
            for price in (candle["high"], candle["low"]):
                seen.append(realised + sign * held * (price - average))
    return max(seen), min(seen)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_position_excursion_matches_a_direct_replay(data):
    candles = data.draw(price_paths())
    rows = data.draw(ladders(len(candles)))
    is_short = data.draw(st.booleans())
    fill_rows = [(n, entry, amount, candles["open"][n]) for n, entry, amount in rows]
    result = trade_excursions({PAIR: PairCandles(candles)}, fills_of(1, is_short, fill_rows))
    best, worst = replay(candles, rows, is_short)
    trade = result.loc[1]
    assert trade["position_mfe_abs"] == pytest.approx(best, abs=1e-9)
    assert trade["position_mae_abs"] == pytest.approx(worst, abs=1e-9)
    assert trade["position_mae"] <= trade["pnl"] + 1e-12 <= trade["position_mfe"] + 2e-12


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_single_entry_price_and_position_excursions_agree(data):
    candles = data.draw(price_paths())
    opened = data.draw(st.integers(0, len(candles) - 1))
    closed = data.draw(st.integers(opened, len(candles) - 1))
    is_short = data.draw(st.booleans())
    entry, exit_price = candles["open"][opened], candles["open"][closed]
    fills = fills_of(1, is_short, [(opened, True, 3.0, entry), (closed, False, 3.0, exit_price)])
    trade = trade_excursions({PAIR: PairCandles(candles)}, fills).loc[1]
    window = candles.iloc[opened:closed]
    high = max(window["high"].max() if len(window) else entry, entry, exit_price)
    low = min(window["low"].min() if len(window) else entry, entry, exit_price)
    up, down = (high - entry) / entry, (low - entry) / entry
    mfe, mae = (-down, -up) if is_short else (up, down)
    assert trade["mfe"] == pytest.approx(mfe, abs=1e-12)
    assert trade["mae"] == pytest.approx(mae, abs=1e-12)
    assert trade["position_mfe"] == pytest.approx(trade["mfe"], abs=1e-12)
    assert trade["position_mae"] == pytest.approx(trade["mae"], abs=1e-12)
    assert trade["mfe"] >= 0 >= trade["mae"]
    assert opened <= (trade["mfe_time"] - START) / pd.Timedelta(hours=1) <= closed


def replay_trailing(candles: pd.DataFrame, opened: int, closed: int, short: bool, pnl, distance):
    """One trade's trailing stop, candle by candle, in prices."""
    entry = candles["open"][opened]
    best = entry
    for n in range(opened, closed):
        candle = candles.iloc[n]
        if short:
            stop = best * (1 + distance)
            if candle["high"] >= stop:
                return (entry - max(candle["open"], stop)) / entry
            best = min(best, candle["low"])
        else:
            stop = best * (1 - distance)
            if candle["low"] <= stop:
                return (min(candle["open"], stop) - entry) / entry
            best = max(best, candle["high"])
    return pnl


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_trailing_replay_matches_a_candle_by_candle_loop(data):
    candles = data.draw(price_paths())
    size = len(candles)
    trades = []
    for _ in range(data.draw(st.integers(1, 4))):
        opened = data.draw(st.integers(0, size - 1))
        closed = data.draw(st.integers(opened, size - 1))
        trades.append((opened, closed, data.draw(st.booleans()), data.draw(st.floats(-0.1, 0.1))))
    frame = pd.DataFrame(
        {
            "pair": PAIR,
            "open_date": [hour(opened) for opened, *_ in trades],
            "close_date": [hour(closed) for _, closed, *_ in trades],
            "open_rate": [candles["open"][opened] for opened, *_ in trades],
            "is_short": [short for *_, short, _ in trades],
            "pnl": [pnl for *_, pnl in trades],
        }
    )
    # Not round numbers: a candle touching a stop exactly is a float tie either way.
    distances = [0.0051234, 0.0203456, 0.0607891]
    result = trailing_stop_expectancy({PAIR: PairCandles(candles)}, frame, distances)
    for distance in distances:
        expected = np.mean([replay_trailing(candles, *trade, distance) for trade in trades])
        assert result[distance] == pytest.approx(expected, abs=1e-12)


def test_losing_trade_in_one_candle_has_exactly_zero_mfe():
    # 1842.23 * 0.5576 / 0.5576 is one ulp below 1842.23: without anchoring the opening fill
    # at zero profit the position's best point is -1.3e-13 USDT (a real Freqtrade trade).
    price, amount = 1842.23, 0.5576
    assert amount * (price - price * amount / amount) < 0
    candles = {PAIR: PairCandles(candles_of([(price, 1850.0, 1830.0, 1835.0)] * 3))}
    fills = fills_of(1, False, [(1, True, amount, price), (1, False, amount, 1834.86)])
    (trade,) = trade_excursions(candles, fills).itertuples()
    assert trade.position_mfe == 0.0 and trade.mfe == 0.0
    assert trade.position_mae == trade.pnl < 0
    assert trade.position_mfe_time == trade.open_date == hour(1)
