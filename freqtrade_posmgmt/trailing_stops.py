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
from freqtrade_posmgmt.stop_sources import STOP_BREAKEVEN, STOP_LOCK, STOP_TRAIL
from freqtrade_posmgmt.validation import (
    coerce,
    fail,
    number,
    one_of,
    optional_number,
    validated_policy,
    whole,
)

TRAIL_ON_CURRENT_RATE = "current_rate"
TRAIL_ON_CANDLE_CLOSE = "candle_close"


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


@validated_policy
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
    :param trail_on: Which prices move the stop. ``"current_rate"`` (default): every rate
        Freqtrade passes, the running candle's high (low for shorts) in a backtest, so a stop can
        arm and fire inside the entry candle. ``"candle_close"``: only closed candles' highs
        (lows), as a bot deciding at each candle close does: never on the entry candle, and a
        backtest decides what a live bot decides (Freqtrade issue #7546).
    """

    activation_threshold: float = 0.015
    trailing_distance_pct: float = 0.005
    atr_multiplier: float | None = None
    breakeven_threshold: float | None = None
    breakeven_buffer: float = 0.001
    atr_period: int = 14
    profit_locks: tuple[tuple[float, float], ...] = ()
    trail_on: str = TRAIL_ON_CURRENT_RATE

    def __post_init__(self) -> None:
        # JSON gives ints: coerce first, so that a message shows the number as the policy holds it.
        for name in (
            "activation_threshold",
            "trailing_distance_pct",
            "breakeven_buffer",
        ):
            coerce(self, **{name: number(name, getattr(self, name))})
        for name in ("atr_multiplier", "breakeven_threshold"):
            coerce(self, **{name: optional_number(name, getattr(self, name))})
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
            self,
            atr_period=whole("atr_period", self.atr_period, 1, rule="must be an integer >= 1"),
            profit_locks=_profit_locks(self.profit_locks),
        )
        one_of("trail_on", self.trail_on, (TRAIL_ON_CURRENT_RATE, TRAIL_ON_CANDLE_CLOSE))

    @property
    def trails_on_candle_close(self) -> bool:
        """True when only closed candles move the stop."""
        return self.trail_on == TRAIL_ON_CANDLE_CLOSE

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
        greater than the distance, and it knows no ATR, breakeven, profit locks or closed-candle
        trailing.
        """
        return (
            self.trail_on == TRAIL_ON_CURRENT_RATE
            and self.atr_multiplier is None
            and self.breakeven_threshold is None
            and not self.profit_locks
            and self.activation_threshold > self.trailing_distance_pct
        )

    def stop_and_source(
        self,
        *,
        is_short: bool,
        open_rate: float,
        best_rate: float,
        atr: float | None = None,
        leverage: float = 1.0,
        fee_open: float = 0.0,
        fee_close: float = 0.0,
        amount: float = 1.0,
        funding_fees: float = 0.0,
    ) -> tuple[float, str] | None:
        """
        The tightest stop the rules give at ``best_rate``, and which rule gives it
        (``stop_sources.STOP_TRAIL``, ``STOP_BREAKEVEN`` or ``STOP_LOCK``); None while no rule
        applies. The arguments are those of :meth:`update_trailing_stop`.
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
                stops.append((best_rate - side * self.atr_multiplier * atr, STOP_TRAIL))
            else:
                # Freqtrade's own expression for trailing_stop_positive, bit for bit.
                trail = best_rate * (1 - side * abs(self.trailing_distance_pct / leverage))
                stops.append((trail, STOP_TRAIL))

        locked = source = None
        if self.breakeven_threshold is not None and best_profit >= self.breakeven_threshold:
            locked, source = self.breakeven_buffer, STOP_BREAKEVEN
        for profit, lock in self.profit_locks:
            if best_profit >= profit and (locked is None or lock > locked):
                locked, source = lock, STOP_LOCK
        if locked is not None:
            stops.append((rate_for_profit(locked, **position), source))

        # A distance beyond the price, or a lock within rounding of its trigger, places no stop.
        stops = [(stop, rule) for stop, rule in stops if stop > 0 and side * (best_rate - stop) > 0]
        if not stops:
            return None
        # The tightest wins; on a tie the first (the trail).
        return max(stops, key=lambda found: side * found[0])

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
        :param best_rate: Highest rate since entry for a long, lowest for a short (with
            ``trail_on="candle_close"``: of the closed candles since entry).
        :param existing_stop: The stop price in force, if any.
        :param atr: ATR of the last closed candle, in price units (None or NaN while unknown).
        :param leverage: Leverage of the position (1.0 for spot).
        :param fee_open: Fee ratio paid on the entry.
        :param fee_close: Fee ratio paid on the exit.
        :param amount: Amount held; only matters with ``funding_fees``.
        :param funding_fees: Futures funding booked so far, received (> 0) or paid (< 0).
        :return: Stop price, or None while no rule applies.
        """
        found = self.stop_and_source(
            is_short=is_short,
            open_rate=open_rate,
            best_rate=best_rate,
            atr=atr,
            leverage=leverage,
            fee_open=fee_open,
            fee_close=fee_close,
            amount=amount,
            funding_fees=funding_fees,
        )
        if found is None:
            return None
        if existing_stop is None:
            return found[0]
        return min(found[0], existing_stop) if is_short else max(found[0], existing_stop)
