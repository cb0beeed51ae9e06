"""
Vectorised maximum favourable / adverse excursions of trades over OHLC candles.

Units, used everywhere in this package's MFE/MAE code:

- An excursion is a ratio, before fees and without leverage. For the price excursion it is the
  move from the trade's first entry price: ``mfe = (highest high - entry) / entry`` for a long,
  ``(entry - lowest low) / entry`` for a short, so ``mfe >= 0`` and ``mae <= 0``.
- The position-aware excursion is the extreme of realised + unrealised profit over the trade's
  life, in stake currency (``*_abs``) and as a ratio of the position's peak stake (its largest
  cost basis). For a single-entry trade the ratio equals the price excursion exactly.
- ``pnl`` is the trade's own result in the same ratio unit, so ``mae <= pnl <= mfe``.

Which prices a position saw: the high and low of every candle that opened while the position
was open (``open time <= candle date < close time``), plus every fill price. The exit candle's
range is left out because its order relative to the exit is unknown (Freqtrade's own
``max_rate`` / ``min_rate`` include it). Backtest fills sit on candle opens, so the entry candle
counts whole.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd

from freqtrade_posmgmt.validation import fail

FILL_COLUMNS = ("trade_id", "pair", "is_short", "date", "is_entry", "amount", "price")


def _ns(values: pd.Series | pd.Index, name: str) -> np.ndarray:
    """UTC epoch nanoseconds of tz-aware datetimes."""
    index = pd.DatetimeIndex(values)
    if index.tz is None:
        raise fail(name, rule="naive datetimes; must be timezone-aware (UTC)")
    return index.as_unit("ns").asi8


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    # A view, not pd.to_datetime: that converts element by element.
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("datetime64[ns]")).tz_localize(
        "UTC"
    )


class _RangeArg:
    """
    Sparse table answering "index of the extreme value in values[lo:hi]" in O(1) per query.
    Ties resolve to the earliest index.
    """

    def __init__(self, values: np.ndarray, largest: bool) -> None:
        self._values = values
        self._better = np.greater_equal if largest else np.less_equal
        size = len(values)
        levels = max(1, int(size).bit_length())
        table = np.zeros((levels, size), dtype=np.int64)
        table[0] = np.arange(size)
        for level in range(1, levels):
            half = 1 << (level - 1)
            count = size - (1 << level) + 1
            left = table[level - 1, :count]
            right = table[level - 1, half : half + count]
            table[level, :count] = np.where(self._better(values[left], values[right]), left, right)
        self._table = table

    def query(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Index of the extreme in each non-empty half-open range ``[lo, hi)``."""
        level = np.floor(np.log2(hi - lo)).astype(np.int64)
        left = self._table[level, lo]
        right = self._table[level, hi - (1 << level)]
        return np.where(self._better(self._values[left], self._values[right]), left, right)


class PairCandles:
    """
    One pair's candles prepared for range queries.

    :param candles: Freqtrade OHLCV frame (``date`` tz-aware, ascending, ``open``, ``high``,
        ``low``, ``close``).
    :param atr_period: Period of the Wilder ATR used to normalise the edge ratio.
    """

    def __init__(self, candles: pd.DataFrame, atr_period: int = 14) -> None:
        self.dates = _ns(candles["date"], "candles.date")
        if len(self.dates) == 0:
            raise fail("candles", rule="empty frame; need at least one candle")
        if np.any(np.diff(self.dates) <= 0):
            raise fail("candles.date", rule="must be strictly ascending")
        self.open = candles["open"].to_numpy(dtype=np.float64)
        self.high = candles["high"].to_numpy(dtype=np.float64)
        self.low = candles["low"].to_numpy(dtype=np.float64)
        self.atr = average_true_range(
            self.high, self.low, candles["close"].to_numpy(dtype=np.float64), atr_period
        )
        self._argmax_high = _RangeArg(self.high, largest=True)
        self._argmin_low = _RangeArg(self.low, largest=False)

    def index_at(self, ns: np.ndarray) -> np.ndarray:
        """Index of the first candle that opened at or after each time."""
        return np.searchsorted(self.dates, ns, side="left")

    def extremes(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indexes of the highest high and lowest low in each non-empty range ``[lo, hi)``."""
        return self._argmax_high.query(lo, hi), self._argmin_low.query(lo, hi)


def average_true_range(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14
) -> np.ndarray:
    """
    Wilder's average true range, equal to TA-Lib's ``ATR``: NaN for the first ``period``
    candles, then the mean true range, then Wilder's smoothing.
    :param period: Number of candles averaged.
    :return: ATR at each candle's close, in price units.
    """
    if period < 1:
        raise fail("atr_period", period, "must be >= 1")
    atr = np.full(len(high), np.nan)
    if len(high) <= period:
        return atr
    previous_close = close[:-1]
    true_range = np.maximum.reduce(
        [high[1:] - low[1:], np.abs(high[1:] - previous_close), np.abs(low[1:] - previous_close)]
    )
    seeded = true_range[period - 1 :].copy()
    seeded[0] = true_range[:period].mean()
    atr[period:] = pd.Series(seeded).ewm(alpha=1 / period, adjust=False).mean().to_numpy()
    return atr


def _group_extreme(
    group: np.ndarray, value: np.ndarray, time: np.ndarray, groups: int, largest: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per group (0..groups-1, each present), the largest (or smallest) value and the earliest
    time it occurred."""
    order = np.argsort(group, kind="stable")
    value, time = value[order], time[order]
    starts = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]])
    extreme = (np.maximum if largest else np.minimum).reduceat(value, starts)
    sizes = np.diff(np.r_[starts, len(value)])
    at_extreme = value == np.repeat(extreme, sizes)
    latest = np.iinfo(np.int64).max
    first_time = np.minimum.reduceat(np.where(at_extreme, time, latest), starts)
    return extreme, first_time


def _position_path(
    candles: PairCandles,
    codes: np.ndarray,
    date: np.ndarray,
    is_entry: np.ndarray,
    amount: np.ndarray,
    price: np.ndarray,
    short: np.ndarray,
) -> dict[str, np.ndarray]:
    """
    Position-aware excursions of the trades of one pair, from their fills.

    Fills come sorted by trade code (0..n-1, every code present), then time. Between two fills
    the position (amount held, average entry price, realised profit) is fixed, so its total
    profit is linear in the price and peaks at a candle's high or low: each such segment is one
    range query. Fill prices are points on the path.
    """
    trades = len(short)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    counts = np.diff(np.r_[starts, len(codes)])
    sign = np.where(short, -1.0, 1.0)

    # State after each fill, walked fill by fill across all trades at once.
    held = np.zeros(trades)
    average = np.zeros(trades)
    realised = np.zeros(trades)
    peak_stake = np.zeros(trades)
    held_after = np.empty(len(codes))
    average_after = np.empty(len(codes))
    realised_after = np.empty(len(codes))
    for step in range(counts.max()):
        live = np.flatnonzero(counts > step)
        row = starts[live] + step
        add = is_entry[row]
        buy, buy_row = live[add], row[add]
        cost = average[buy] * held[buy] + price[buy_row] * amount[buy_row]
        held[buy] += amount[buy_row]
        average[buy] = cost / held[buy]
        peak_stake[buy] = np.maximum(peak_stake[buy], cost)
        sell, sell_row = live[~add], row[~add]
        closed = np.minimum(amount[sell_row], held[sell])
        realised[sell] += sign[sell] * closed * (price[sell_row] - average[sell])
        held[sell] -= closed
        held_after[row] = held[live]
        average_after[row] = average[live]
        realised_after[row] = realised[live]

    fill_sign = sign[codes]
    at_fill = realised_after + fill_sign * held_after * (price - average_after)
    # At its opening fill a position's profit is zero by definition, but the average entry
    # price (price * amount / amount) can be one ulp off, leaving about -1e-16 of the stake:
    # a trade opened and closed in one candle would then have mfe < 0. Zero anchors the path,
    # so mfe >= 0 >= mae holds exactly.
    at_fill[starts] = 0.0

    # Segments: candles that opened between a fill and the next fill of the same trade.
    segment = np.flatnonzero(np.r_[codes[1:] == codes[:-1], False])
    lo = candles.index_at(date[segment])
    hi = candles.index_at(date[segment + 1])
    nonempty = hi > lo
    segment, lo, hi = segment[nonempty], lo[nonempty], hi[nonempty]
    top, bottom = candles.extremes(lo, hi)
    segment_short = fill_sign[segment] < 0
    best = np.where(segment_short, bottom, top)
    worst = np.where(segment_short, top, bottom)
    best_price = np.where(segment_short, candles.low[bottom], candles.high[top])
    worst_price = np.where(segment_short, candles.high[top], candles.low[bottom])

    def profit(at_price: np.ndarray) -> np.ndarray:
        return realised_after[segment] + fill_sign[segment] * held_after[segment] * (
            at_price - average_after[segment]
        )

    group = np.r_[codes, codes[segment]]
    mfe, mfe_time = _group_extreme(
        group, np.r_[at_fill, profit(best_price)], np.r_[date, candles.dates[best]], trades, True
    )
    mae, mae_time = _group_extreme(
        group,
        np.r_[at_fill, profit(worst_price)],
        np.r_[date, candles.dates[worst]],
        trades,
        False,
    )
    last = starts + counts - 1
    return {
        "open_date": date[starts],
        "close_date": date[last],
        "open_rate": price[starts],
        "close_rate": price[last],
        "fills": counts,
        "peak_stake": peak_stake,
        "pnl_abs": at_fill[last],
        "mfe_abs": mfe,
        "mae_abs": mae,
        "mfe_time": mfe_time,
        "mae_time": mae_time,
    }


def trade_excursions(
    candles_by_pair: Mapping[str, PairCandles], fills: pd.DataFrame
) -> pd.DataFrame:
    """
    Price and position-aware excursions of every trade.

    :param candles_by_pair: Prepared candles of each pair that has trades.
    :param fills: One row per filled order, columns ``trade_id`` (unique per trade), ``pair``,
        ``is_short``, ``date`` (tz-aware), ``is_entry``, ``amount`` (> 0, base currency) and
        ``price`` (> 0). A trade's first fill must be an entry.
    :return: One row per trade, indexed by ``trade_id`` in ascending order: ``pair``,
        ``is_short``, ``open_date``, ``close_date``, ``open_rate`` (first entry price),
        ``close_rate`` (last fill price), ``fills``; the price excursion ``mfe``, ``mae``
        (ratios of the first entry price) with ``mfe_time``, ``mae_time``; the position-aware
        excursion ``position_mfe_abs``, ``position_mae_abs`` (stake currency),
        ``position_mfe``, ``position_mae`` (ratios of ``peak_stake``, the largest cost basis)
        with ``position_mfe_time``, ``position_mae_time``; the result ``pnl_abs`` and ``pnl``
        (ratio of ``peak_stake``). All before fees and leverage.
    """
    missing = [column for column in FILL_COLUMNS if column not in fills.columns]
    if missing:
        raise fail("fills", rule=f"missing columns {missing}; need {list(FILL_COLUMNS)}")
    fills = fills.sort_values(["pair", "trade_id", "date"], kind="stable")
    pair_codes, pair_names = pd.factorize(fills["pair"])
    unknown = sorted(set(pair_names) - set(candles_by_pair))
    if unknown:
        raise fail(f"no candles for pair(s) {', '.join(unknown)}", rule="give their candles")
    codes, trade_ids = pd.factorize(fills["trade_id"])
    date = _ns(fills["date"], "fills.date")
    is_entry = fills["is_entry"].to_numpy(dtype=bool)
    amount = fills["amount"].to_numpy(dtype=np.float64)
    price = fills["price"].to_numpy(dtype=np.float64)
    if not (np.all(amount > 0) and np.all(price > 0)):
        raise fail("fills", rule="amount and price must be > 0")
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    if not np.all(is_entry[starts]):
        bad = trade_ids[codes[starts[~is_entry[starts]][0]]]
        raise fail(f"fills of trade {bad}", rule="the first fill must be an entry")
    ends = np.r_[starts[1:], len(codes)] - 1
    pair = pair_codes[starts]
    short = fills["is_short"].to_numpy(dtype=bool)[starts]

    columns: dict[str, list[np.ndarray]] = {}
    # Trades are numbered in (pair, trade_id) order, so each pair's fills form one block.
    pair_starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    for first, last in zip(pair_starts, np.r_[pair_starts[1:], len(pair)], strict=True):
        rows = slice(starts[first], ends[last - 1] + 1)
        candles = candles_by_pair[pair_names[pair[first]]]
        position = _position_path(
            candles,
            codes[rows] - first,
            date[rows],
            is_entry[rows],
            amount[rows],
            price[rows],
            short[first:last],
        )
        # The price excursion is the position-aware one of one unit held from the first fill
        # to the last.
        first_last = np.column_stack([starts[first:last], ends[first:last]]).ravel()
        unit = _position_path(
            candles,
            np.repeat(np.arange(last - first), 2),
            date[first_last],
            np.tile([True, False], last - first),
            np.ones(len(first_last)),
            price[first_last],
            short[first:last],
        )
        stake = position["peak_stake"]
        found = {
            "open_date": position["open_date"],
            "close_date": position["close_date"],
            "open_rate": position["open_rate"],
            "close_rate": position["close_rate"],
            "fills": position["fills"],
            "mfe": unit["mfe_abs"] / unit["peak_stake"],
            "mae": unit["mae_abs"] / unit["peak_stake"],
            "mfe_time": unit["mfe_time"],
            "mae_time": unit["mae_time"],
            "peak_stake": stake,
            "position_mfe_abs": position["mfe_abs"],
            "position_mae_abs": position["mae_abs"],
            "position_mfe": position["mfe_abs"] / stake,
            "position_mae": position["mae_abs"] / stake,
            "position_mfe_time": position["mfe_time"],
            "position_mae_time": position["mae_time"],
            "pnl_abs": position["pnl_abs"],
            "pnl": position["pnl_abs"] / stake,
        }
        for key, values in found.items():
            columns.setdefault(key, []).append(values)
    result = pd.DataFrame({key: np.concatenate(parts) for key, parts in columns.items()})
    ratios = ["mfe", "mae", "position_mfe", "position_mae", "pnl"]
    # Adding 0.0 turns the -0.0 of a short that never moved into 0.0.
    result[ratios] += 0.0
    for key in result.columns:
        if key.endswith(("_date", "_time")):
            result[key] = _utc(result[key].to_numpy())
    result.insert(0, "pair", np.asarray(pair_names, dtype=object)[pair])
    result.insert(1, "is_short", short)
    result.index = pd.Index(trade_ids, name="trade_id")
    return result.sort_index()


def edge_ratio(
    candles_by_pair: Mapping[str, PairCandles], trades: pd.DataFrame, max_bars: int = 48
) -> pd.DataFrame:
    """
    Edge ratio e(n) of the entries (Faith): for each horizon n = 1..max_bars candles from the
    entry candle, ``mean(MFE_n / ATR) / mean(|MAE_n| / ATR)``, ATR taken at the close of the
    candle before entry. Independent of how the trades exited; above 1 the entries have an edge.

    :param trades: Columns ``pair``, ``open_date``, ``open_rate``, ``is_short``.
    :param max_bars: Longest horizon, in candles.
    :return: Indexed by ``bars`` (n): ``trades`` (entries with n candles of data and an ATR),
        ``mean_mfe_atr``, ``mean_mae_atr`` and ``edge_ratio``.
    """
    if max_bars < 1:
        raise fail("max_bars", max_bars, "must be >= 1")
    count = np.zeros(max_bars, dtype=np.int64)
    favourable = np.zeros(max_bars)
    adverse = np.zeros(max_bars)
    for pair, pair_trades in trades.groupby("pair", sort=True):
        candles = candles_by_pair[pair]
        start = candles.index_at(_ns(pair_trades["open_date"], "trades.open_date"))
        atr = np.where(start > 0, candles.atr[np.maximum(start - 1, 0)], np.nan)
        entry = pair_trades["open_rate"].to_numpy(dtype=np.float64)
        short = pair_trades["is_short"].to_numpy(dtype=bool)
        window = start[:, None] + np.arange(max_bars)
        usable = (window < len(candles.dates)) & np.isfinite(atr)[:, None] & (atr > 0)[:, None]
        window = np.minimum(window, len(candles.dates) - 1)
        highest = np.maximum.accumulate(candles.high[window], axis=1)
        lowest = np.minimum.accumulate(candles.low[window], axis=1)
        up = np.maximum(highest - entry[:, None], 0.0)
        down = np.maximum(entry[:, None] - lowest, 0.0)
        gain = np.where(short[:, None], down, up) / atr[:, None]
        loss = np.where(short[:, None], up, down) / atr[:, None]
        count += usable.sum(axis=0)
        favourable += np.where(usable, gain, 0.0).sum(axis=0)
        adverse += np.where(usable, loss, 0.0).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_mfe = favourable / count
        mean_mae = adverse / count
        ratio = mean_mfe / mean_mae
    return pd.DataFrame(
        {
            "trades": count,
            "mean_mfe_atr": mean_mfe,
            "mean_mae_atr": mean_mae,
            "edge_ratio": ratio,
        },
        index=pd.RangeIndex(1, max_bars + 1, name="bars"),
    )


def trailing_stop_expectancy(
    candles_by_pair: Mapping[str, PairCandles], trades: pd.DataFrame, distances: np.ndarray
) -> pd.Series:
    """
    Expectancy the trades would have had with a trailing stop, replayed on the candles.

    The stop trails the best price of the candles before the current one (the entry price at
    first) by ``distance``; a candle whose low (a short's high) reaches it exits there, or at
    the candle's open when it opened beyond the stop. Trades the stop does not close before
    their own exit keep their result. The current candle's high is not trusted to come before
    its low, unlike in Freqtrade's backtesting, so this never flatters a tight trail.

    :param trades: Columns ``pair``, ``open_date``, ``close_date``, ``open_rate``,
        ``is_short`` and ``pnl`` (as returned by :func:`trade_excursions`).
    :param distances: Trailing distances, positive ratios of the best price.
    :return: Mean result per trade (ratio of the entry price), indexed by distance.
    """
    distances = np.asarray(distances, dtype=np.float64)
    if not np.all(distances > 0):
        raise fail("distances", rule="trailing distances must be > 0")
    totals = np.zeros(len(distances))
    for pair, pair_trades in trades.groupby("pair", sort=True):
        candles = candles_by_pair[pair]
        start = candles.index_at(_ns(pair_trades["open_date"], "trades.open_date"))
        end = candles.index_at(_ns(pair_trades["close_date"], "trades.close_date"))
        pnl = pair_trades["pnl"].to_numpy(dtype=np.float64)
        length = np.maximum(end - start, 0)
        has_path = length > 0
        totals += pnl[~has_path].sum()
        start, length, pnl = start[has_path], length[has_path], pnl[has_path]
        entry = pair_trades["open_rate"].to_numpy(dtype=np.float64)[has_path]
        short = pair_trades["is_short"].to_numpy(dtype=bool)[has_path]
        if not len(start):
            continue
        # Every trade's candles, flattened: trade number and candle index per row.
        trade = np.repeat(np.arange(len(start)), length)
        first_row = np.r_[0, np.cumsum(length)[:-1]]
        candle = start[trade] + np.arange(len(trade)) - first_row[trade]
        # Gains, side-aware ratios of the entry price: best, worst and opening price of a candle.
        ratio_high = candles.high[candle] / entry[trade] - 1
        ratio_low = candles.low[candle] / entry[trade] - 1
        ratio_open = candles.open[candle] / entry[trade] - 1
        is_short = short[trade]
        best = np.where(is_short, -ratio_low, ratio_high)
        worst = np.where(is_short, -ratio_high, ratio_low)
        opening = np.where(is_short, -ratio_open, ratio_open)
        peak = pd.Series(best).groupby(trade).cummax().to_numpy()
        peak_before = np.maximum(np.r_[0.0, peak[:-1]], 0.0)
        peak_before[first_row] = 0.0
        # In gains, a stop d behind the best price sits at peak - d * scale (long: the best
        # price is entry * (1 + peak); short: the lowest is entry * (1 - peak)). A candle
        # reaches it when d <= (peak - worst) / scale: the distance it would trigger.
        scale = np.where(is_short, 1 - peak_before, 1 + peak_before)
        triggers = pd.Series((peak_before - worst) / scale).groupby(trade).cummax().to_numpy()
        for column, distance in enumerate(distances):
            # Running maxima only grow: the candles before the first hit are those below d.
            offset = np.add.reduceat(triggers < distance, first_row, dtype=np.int64)
            hit = offset < length
            row = first_row[hit] + offset[hit]
            exit_gain = np.minimum(opening[row], peak_before[row] - distance * scale[row])
            totals[column] += exit_gain.sum() + pnl[~hit].sum()
    return pd.Series(totals / max(len(trades), 1), index=pd.Index(distances, name="distance"))
