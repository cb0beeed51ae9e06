"""
Trailing stops, fee-aware breakeven and stepped profit locks, decided without Freqtrade.

Every threshold speaks Freqtrade's language: a profit is Freqtrade's profit ratio (after both
fees and the funding, scaled by leverage, from the average entry price, as
``Trade.calc_profit_ratio`` computes it: :mod:`freqtrade_posmgmt.profit`), and a percent distance
is a ratio of that profit, exactly like Freqtrade's own ``trailing_stop_positive``: on leverage
``L`` it moves the stop ``rate * pct / L``.
"""

import itertools
from dataclasses import dataclass
from typing import Any

from freqtrade_posmgmt.profit import profit_ratio, rate_for_profit
from freqtrade_posmgmt.validation import fail, number, optional_number, whole


def _profit_locks(value: Any) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list | tuple):
        raise fail("profit_locks", value, "must be a list of [profit, locked_profit] pairs")
    locks = []
    for lock in value:
        if not isinstance(lock, list | tuple) or len(lock) != 2:
            raise fail(
                "profit_locks",
                value,
                "each lock must be a [profit, locked_profit] pair",
            )
        trigger, locked = (number("profit_locks", item) for item in lock)
        if not 0 <= locked < trigger:
            raise fail("profit_locks", value, "each lock needs 0 <= locked_profit < profit")
        locks.append((trigger, locked))
    for (trigger, locked), (next_trigger, next_locked) in itertools.pairwise(locks):
        if not (trigger < next_trigger and locked < next_locked):
            raise fail(
                "profit_locks",
                value,
                "profits and locked profits must be strictly ascending",
            )
    return tuple(locks)


@dataclass(frozen=True)
class TrailingStopPolicy:
    """
    When and how far a stop follows the price, and which profits it locks in.

    :param activation_threshold: Trailing starts once the profit at the best rate exceeds this
        (strictly, like Freqtrade's ``trailing_stop_positive_offset``). Before that the
        strategy's initial ``stoploss`` holds.
    :param trailing_distance_pct: Distance of the stop behind the best rate, as a ratio like
        Freqtrade's ``trailing_stop_positive`` (divided by leverage).
    :param atr_multiplier: If set, the distance is this many ATRs (of the last closed candle)
        instead; the percent distance is the fallback while the ATR is still unknown.
    :param breakeven_threshold: Once the profit at the best rate reaches this, the stop is at
        least the price that closes with ``breakeven_buffer`` profit after both fees.
        None disables breakeven.
    :param breakeven_buffer: Profit ratio locked by breakeven.
    :param atr_period: Period of the ATR (TA-Lib).
    :param profit_locks: Stepped locks as ``(profit, locked_profit)`` pairs, ascending: once the
        profit at the best rate reaches ``profit``, the stop is at least the price that closes
        with ``locked_profit``. E.g. ``((0.20, 0.07), (0.25, 0.15))``.
    """

    activation_threshold: float = 0.015
    trailing_distance_pct: float = 0.005
    atr_multiplier: float | None = None
    breakeven_threshold: float | None = None
    breakeven_buffer: float = 0.001
    atr_period: int = 14
    profit_locks: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        def coerce(field: str, value: Any) -> None:
            object.__setattr__(self, field, value)

        # JSON gives ints: coerce first, so that a message shows the number as the policy holds it.
        for name in (
            "activation_threshold",
            "trailing_distance_pct",
            "breakeven_buffer",
        ):
            coerce(name, number(name, getattr(self, name)))
        for name in ("atr_multiplier", "breakeven_threshold"):
            coerce(name, optional_number(name, getattr(self, name)))
        number("activation_threshold", self.activation_threshold, at_least=0)
        number("trailing_distance_pct", self.trailing_distance_pct, above=0, below=1)
        optional_number(
            "atr_multiplier", self.atr_multiplier, above=0, rule="must be > 0 (or None)"
        )
        number("breakeven_buffer", self.breakeven_buffer, at_least=0)
        optional_number(
            "breakeven_threshold",
            self.breakeven_threshold,
            above=self.breakeven_buffer,
            rule=f"must be greater than breakeven_buffer={self.breakeven_buffer!r} (or None)",
        )
        coerce(
            "atr_period",
            whole("atr_period", self.atr_period, 1, rule="must be an integer >= 1"),
        )
        coerce("profit_locks", _profit_locks(self.profit_locks))

    @property
    def uses_atr(self) -> bool:
        """True when the distance comes from the ATR."""
        return self.atr_multiplier is not None

    def is_builtin_expressible(self) -> bool:
        """
        True when Freqtrade's built-in trailing stop does exactly what this policy does:
        ``trailing_stop_positive=trailing_distance_pct``,
        ``trailing_stop_positive_offset=activation_threshold``,
        ``trailing_only_offset_is_reached=True``. Freqtrade accepts that only with an offset
        greater than the distance, and it knows no ATR, breakeven or profit locks.
        """
        return (
            self.atr_multiplier is None
            and self.breakeven_threshold is None
            and not self.profit_locks
            and self.activation_threshold > self.trailing_distance_pct
        )

    def update_trailing_stop(
        self,
        *,
        is_short: bool,
        open_rate: float,
        best_rate: float,
        existing_stop: float | None = None,
        atr: float | None = None,
        leverage: float = 1.0,
        fee_open: float = 0.0,
        fee_close: float = 0.0,
        amount: float = 1.0,
        funding_fees: float = 0.0,
    ) -> float | None:
        """
        The stop price the position should have now: the tightest of the trailing stop, the
        breakeven stop and the profit locks that apply, never looser than ``existing_stop``.

        Every rule is decided from the best rate the position has seen, so a rule that applied
        once keeps applying (no flags to persist), and a restart changes nothing.

        :param is_short: True for a short position.
        :param open_rate: Average entry rate of the position.
        :param best_rate: Highest rate since entry for a long, lowest for a short.
        :param existing_stop: The stop price in force, if any.
        :param atr: ATR of the last closed candle, in price units (None or NaN while unknown).
        :param leverage: Leverage of the position (1.0 for spot).
        :param fee_open: Fee ratio paid on the entry.
        :param fee_close: Fee ratio paid on the exit.
        :param amount: Amount held; only matters with ``funding_fees``.
        :param funding_fees: Futures funding booked so far, received (> 0) or paid (< 0).
        :return: Stop price, or None while no rule applies.
        """
        position = {
            "open_rate": open_rate,
            "is_short": is_short,
            "leverage": leverage,
            "fee_open": fee_open,
            "fee_close": fee_close,
            "amount": amount,
            "funding_fees": funding_fees,
        }
        best_profit = profit_ratio(best_rate, **position)
        side = -1.0 if is_short else 1.0
        stops = []

        if best_profit > self.activation_threshold:
            if self.atr_multiplier is not None and atr is not None and atr > 0:
                stops.append(best_rate - side * self.atr_multiplier * atr)
            else:
                # Freqtrade's own expression for trailing_stop_positive, bit for bit.
                stops.append(best_rate * (1 - side * abs(self.trailing_distance_pct / leverage)))

        locked = None
        if self.breakeven_threshold is not None and best_profit >= self.breakeven_threshold:
            locked = self.breakeven_buffer
        for profit, lock in self.profit_locks:
            if best_profit >= profit and (locked is None or lock > locked):
                locked = lock
        if locked is not None:
            stops.append(rate_for_profit(locked, **position))

        # A distance beyond the price, or a lock within rounding of its trigger, places no stop.
        stops = [stop for stop in stops if stop > 0 and side * (best_rate - stop) > 0]
        if not stops:
            return None
        if existing_stop is not None:
            stops.append(existing_stop)
        return min(stops) if is_short else max(stops)
