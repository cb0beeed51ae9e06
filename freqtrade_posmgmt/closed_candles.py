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


def unread_closed_range(
    opens: Sequence[int], step: int, now_s: int, since_s: int, last_read_s: int | None = None
) -> tuple[int, int] | None:
    """
    Indexes ``(first, last)`` of the candles closed at ``now_s`` not read yet: from the candle
    open at ``since_s`` (a trade's entry), or those opened after ``last_read_s`` (the open time
    of the last candle read); ``first > last`` when there is none. None while the candle open at
    ``since_s`` has not closed.

    The last candle read is kept by time, not by index: a live bot's frame drops its oldest
    candle for each new one once full, so an index stops pointing at the same candle.
    """
    if not opens:
        return None
    last = last_closed_index(opens, step, now_s)
    if last < 0 or opens[last] + step <= since_s:
        return None
    if last_read_s is None:
        first = max(candle_index(opens, step, since_s), 0)
    else:
        first = bisect_right(opens, last_read_s)
    return first, last


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
