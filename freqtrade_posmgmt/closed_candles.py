"""
What a bot deciding at a candle boundary knows: the candles closed so far, framework-free.

A trailing stop that must not peek at the still-open candle reads the last closed candle's ATR
and, with ``trail_on="candle_close"``, the best high (low for a short) of the candles closed since
the trade opened. Times are epoch seconds throughout.
"""

from bisect import bisect_right
from collections.abc import Sequence


def candle_index(opens: Sequence[int], step: int, epoch_s: int) -> int:
    """
    Index of the candle open at ``epoch_s`` (the last opened at or before it), or a negative
    number before the first candle.
    :param opens: candle open times, ascending
    :param step: the timeframe in seconds
    """
    # Freqtrade fills gaps, so the index follows from the time; search only where it does not
    # (a gap after all, or a calendar timeframe such as 1M).
    index = min((epoch_s - opens[0]) // step, len(opens) - 1)
    if index >= 0 and not (
        opens[index] <= epoch_s and (index + 1 == len(opens) or opens[index + 1] > epoch_s)
    ):
        index = bisect_right(opens, epoch_s) - 1
    return index


def last_closed_index(opens: Sequence[int], step: int, now_s: int) -> int:
    """Index of the last candle closed at ``now_s`` (never the still-open one), negative if none."""
    return candle_index(opens, step, now_s - step)


def best_closed_rate(
    extremes: Sequence[float],
    first: int,
    last_closed: int,
    is_short: bool,
    known: float | None = None,
) -> float | None:
    """
    The best of ``known`` and the candles ``first`` to ``last_closed`` (their highs for a long,
    lows for a short, given as ``extremes``); None when there is neither.
    """
    best = known
    if first <= last_closed:
        window = extremes[first : last_closed + 1]
        extreme = min(window) if is_short else max(window)
        if best is None:
            best = extreme
        else:
            best = min(best, extreme) if is_short else max(best, extreme)
    return best
