"""
Trailing stops, fee-aware breakeven and stepped profit locks, decided without Freqtrade.

Every threshold speaks Freqtrade's language: a profit is Freqtrade's profit ratio (after both
fees, scaled by leverage, from the average entry price, as ``Trade.calc_profit_ratio``
computes it), and a percent distance is a ratio of that profit, exactly like Freqtrade's own
``trailing_stop_positive``: on leverage ``L`` it moves the stop ``rate * pct / L``.
Funding fees are left out: they are not known to the policy and move a profit by basis points.
"""

import itertools
import math
from dataclasses import dataclass
from numbers import Real
from typing import Any

from freqtrade_posmgmt.validation import validated_policy

# Freqtrade rounds profit ratios to 8 decimals (Trade.calc_profit_ratio); so do we, so that a
# threshold compares exactly as Freqtrade's own trailing offset does.
_PROFIT_DECIMALS = 8


def profit_ratio(
    rate: float,
    *,
    open_rate: float,
    is_short: bool,
    leverage: float = 1.0,
    fee_open: float = 0.0,
    fee_close: float = 0.0,
) -> float:
    """
    Freqtrade's profit ratio of closing the whole position at ``rate`` (fees included).

    :param rate: Exit rate.
    :param open_rate: Average entry rate of the position.
    :param is_short: True for a short position.
    :param leverage: Leverage of the position (1.0 for spot).
    :param fee_open: Fee ratio paid on the entry.
    :param fee_close: Fee ratio paid on the exit.
    :return: Profit ratio, as ``Trade.calc_profit_ratio`` returns it (funding fees excluded).
    """
    if is_short:
        ratio = (1 - rate * (1 + fee_close) / (open_rate * (1 - fee_open))) * leverage
    else:
        ratio = (rate * (1 - fee_close) / (open_rate * (1 + fee_open)) - 1) * leverage
    return round(ratio, _PROFIT_DECIMALS)


def rate_for_profit(
    profit: float,
    *,
    open_rate: float,
    is_short: bool,
    leverage: float = 1.0,
    fee_open: float = 0.0,
    fee_close: float = 0.0,
) -> float:
    """
    The exit rate at which Freqtrade's profit ratio equals ``profit``: the inverse of
    :func:`profit_ratio`. With ``profit=0`` it is the fee-aware breakeven price.

    :param profit: Wanted profit ratio (leverage-scaled, after both fees).
    :param open_rate: Average entry rate of the position.
    :param is_short: True for a short position.
    :param leverage: Leverage of the position (1.0 for spot).
    :param fee_open: Fee ratio paid on the entry.
    :param fee_close: Fee ratio paid on the exit.
    :return: Exit rate.
    """
    if is_short:
        return open_rate * (1 - fee_open) * (1 - profit / leverage) / (1 + fee_close)
    return open_rate * (1 + fee_open) * (1 + profit / leverage) / (1 - fee_close)


def stoploss_ratio(
    stop_rate: float, current_rate: float, *, is_short: bool, leverage: float = 1.0
) -> float | None:
    """
    The value ``custom_stoploss`` must return so that Freqtrade places its stop at ``stop_rate``.

    Freqtrade divides the returned ratio by leverage and applies it to ``current_rate``
    (``Trade.adjust_stop_loss``). The ratio is refined until Freqtrade's own arithmetic gives back
    ``stop_rate`` to the last bit whenever a float allows it: the stop is then rounded to the
    exchange tick exactly as a stop Freqtrade computed itself would be.

    :param stop_rate: Wanted absolute stop price.
    :param current_rate: The ``current_rate`` Freqtrade passed to ``custom_stoploss``.
    :param is_short: True for a short position.
    :param leverage: Leverage of the position (1.0 for spot).
    :return: Positive stop ratio, or None when the stop would sit at or beyond ``current_rate``
        (Freqtrade cannot place it there; its own ``stoploss_from_absolute`` returns 0 then).
    """
    side = -1.0 if is_short else 1.0
    if current_rate <= 0 or side * (current_rate - stop_rate) <= 0:
        return None
    ratio = side * (1 - stop_rate / current_rate) * leverage
    for _ in range(4):
        placed = current_rate * (1 - side * abs(ratio / leverage))
        if placed == stop_rate:
            break
        ratio += side * (placed - stop_rate) / current_rate * leverage
    return ratio


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{field}={value!r}: must be a finite number")
    return float(value)


def _profit_locks(value: Any) -> tuple[tuple[float, float], ...]:
    field = f"profit_locks={value!r}"
    if not isinstance(value, list | tuple):
        # Every bad configuration value is a ValueError in this package, whatever its type.
        raise ValueError(  # noqa: TRY004
            f"{field}: must be a list of [profit, locked_profit] pairs"
        )
    locks = []
    for lock in value:
        if not isinstance(lock, list | tuple) or len(lock) != 2:
            raise ValueError(f"{field}: each lock must be a [profit, locked_profit] pair")
        trigger, locked = (_number("profit_locks", item) for item in lock)
        if not 0 <= locked < trigger:
            raise ValueError(f"{field}: each lock needs 0 <= locked_profit < profit")
        locks.append((trigger, locked))
    for (trigger, locked), (next_trigger, next_locked) in itertools.pairwise(locks):
        if not (trigger < next_trigger and locked < next_locked):
            raise ValueError(f"{field}: profits and locked profits must be strictly ascending")
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

        activation = _number("activation_threshold", self.activation_threshold)
        if activation < 0:
            raise ValueError(f"activation_threshold={activation!r}: must be >= 0")
        coerce("activation_threshold", activation)

        distance = _number("trailing_distance_pct", self.trailing_distance_pct)
        if not 0 < distance < 1:
            raise ValueError(f"trailing_distance_pct={distance!r}: must be > 0 and < 1")
        coerce("trailing_distance_pct", distance)

        if self.atr_multiplier is not None:
            multiplier = _number("atr_multiplier", self.atr_multiplier)
            if multiplier <= 0:
                raise ValueError(f"atr_multiplier={multiplier!r}: must be > 0 (or None)")
            coerce("atr_multiplier", multiplier)

        buffer = _number("breakeven_buffer", self.breakeven_buffer)
        if buffer < 0:
            raise ValueError(f"breakeven_buffer={buffer!r}: must be >= 0")
        coerce("breakeven_buffer", buffer)

        if self.breakeven_threshold is not None:
            threshold = _number("breakeven_threshold", self.breakeven_threshold)
            if threshold <= buffer:
                raise ValueError(
                    f"breakeven_threshold={threshold!r}: must be greater than "
                    f"breakeven_buffer={buffer!r} (or None)"
                )
            coerce("breakeven_threshold", threshold)

        period = self.atr_period
        if isinstance(period, float) and period.is_integer():
            period = int(period)
        if isinstance(period, bool) or not isinstance(period, int) or period < 1:
            raise ValueError(f"atr_period={self.atr_period!r}: must be an integer >= 1")
        coerce("atr_period", period)

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

    def breakeven_rate(
        self,
        *,
        open_rate: float,
        is_short: bool,
        leverage: float = 1.0,
        fee_open: float = 0.0,
        fee_close: float = 0.0,
    ) -> float:
        """
        The fee-aware breakeven stop: the exit rate that yields ``breakeven_buffer`` profit.

        :param open_rate: Average entry rate of the position.
        :param is_short: True for a short position.
        :param leverage: Leverage of the position (1.0 for spot).
        :param fee_open: Fee ratio paid on the entry.
        :param fee_close: Fee ratio paid on the exit.
        :return: Exit rate.
        """
        return rate_for_profit(
            self.breakeven_buffer,
            open_rate=open_rate,
            is_short=is_short,
            leverage=leverage,
            fee_open=fee_open,
            fee_close=fee_close,
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
        :return: Stop price, or None while no rule applies.
        """
        best_profit = profit_ratio(
            best_rate,
            open_rate=open_rate,
            is_short=is_short,
            leverage=leverage,
            fee_open=fee_open,
            fee_close=fee_close,
        )
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
            stops.append(
                rate_for_profit(
                    locked,
                    open_rate=open_rate,
                    is_short=is_short,
                    leverage=leverage,
                    fee_open=fee_open,
                    fee_close=fee_close,
                )
            )

        # A distance beyond the price, or a lock within rounding of its trigger, places no stop.
        stops = [stop for stop in stops if stop > 0 and side * (best_rate - stop) > 0]
        if not stops:
            return None
        if existing_stop is not None:
            stops.append(existing_stop)
        return min(stops) if is_short else max(stops)
