"""
Realised equity, its running peak and trough, point in time: framework-free, fed plain exit fills.

Equity is the starting balance plus the realised profit of every exit filled strictly before a
moment. The mixins feed it the exits of Freqtrade's closed trades (``mixins/_account.py``); it
knows nothing of Freqtrade.
"""

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class EquityPoint:
    """Realised equity after the exits of one moment, with its running peak and trough."""

    time: float
    """Epoch seconds of the fills (0.0 for the starting balance)."""
    equity: float
    peak: float
    """Highest equity so far (the starting balance counts)."""
    trough: float
    """Lowest equity since ``peak`` was made (``peak`` itself right at a new peak)."""

    def then(self, time: float, equity: float) -> "EquityPoint":
        """The point after moving to ``equity`` at ``time``: a new peak resets the trough."""
        if equity >= self.peak:
            return EquityPoint(time, equity, equity, equity)
        return EquityPoint(time, equity, self.peak, min(self.trough, equity))


class EquityLedger:
    """
    The equity path of closed trades' exits, one point per fill time, kept in time order and
    extended as trades close (a new trade usually only appends, except for an early partial exit).
    """

    def __init__(self, start: float) -> None:
        self.start = EquityPoint(0.0, start, start, start)
        self.times: list[float] = []
        self.profits: list[float] = []
        self.points: list[EquityPoint] = []
        # Each closed trade's close time (epoch seconds) and profit, in closing order.
        self.close_times: list[float] = []
        self.closes: list[tuple[datetime, float]] = []
        self.count = 0
        """Closed trades added."""
        self.total = 0.0
        """Sum of the closed trades' profits."""

    def add(self, time: float, profit: float) -> None:
        """Book one exit fill's realised ``profit`` at ``time``."""
        index = bisect_left(self.times, time)
        if index < len(self.times) and self.times[index] == time:
            self.profits[index] += profit  # one point per moment: fills of a candle act at once
        else:
            self.times.insert(index, time)
            self.profits.insert(index, profit)
        del self.points[index:]
        previous = self.points[-1] if self.points else self.start
        for i in range(index, len(self.times)):
            previous = previous.then(self.times[i], previous.equity + self.profits[i])
            self.points.append(previous)

    def close(
        self, exits: Iterable[tuple[float, float]], closed_at: datetime, profit: float
    ) -> None:
        """Book a closed trade: its exit fills (time, profit), close time and total profit."""
        for time, exit_profit in exits:
            self.add(time, exit_profit)
        self.close_times.append(closed_at.timestamp())
        self.closes.append((closed_at, profit))
        self.total += profit
        self.count += 1

    def at(self, before: float) -> EquityPoint:
        """The last point strictly before ``before``."""
        index = bisect_left(self.times, before)
        return self.points[index - 1] if index else self.start

    def path(self, before: float) -> list[EquityPoint]:
        """Every point strictly before ``before``, starting with the starting balance."""
        return [self.start] + self.points[: bisect_left(self.times, before)]

    def closed_between(self, since: float, before: float) -> list[tuple[datetime, float]]:
        """(close time, profit) of the trades closed from ``since`` up to ``before``."""
        first = bisect_left(self.close_times, since)
        return self.closes[first : bisect_left(self.close_times, before)]

    def with_open_exits(self, partials: list[tuple[float, float]], before: float) -> EquityPoint:
        """
        The point before ``before`` counting also ``partials``, exits (time, profit) of trades
        still open, merged into the closed path from the first of them on.
        """
        partials = sorted((t, p) for t, p in partials if t < before)
        if not partials:
            return self.at(before)
        first = partials[0][0]
        point = self.at(first)
        index = bisect_left(self.times, first)
        later = [
            (t, p)
            for t, p in zip(self.times[index:], self.profits[index:], strict=True)
            if t < before
        ]
        merged: dict[float, float] = {}
        for time, profit in later + partials:
            merged[time] = merged.get(time, 0.0) + profit
        for time in sorted(merged):
            point = point.then(time, point.equity + merged[time])
        return point
