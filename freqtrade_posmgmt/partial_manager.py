"""
Partial exits (a take-profit ladder) and scale-ins (adds to winners, DCA on drawdowns).

Framework-free policy: it decides, Freqtrade (through ``PartialExitMixin``) executes.
A ``position`` is either a :class:`PositionState` or any object shaped like Freqtrade's
``Trade`` (read by :meth:`PositionState.from_trade`).

Which levels already fired is read from the tags of a trade's filled orders
(``pm_tp1``, ``pm_add1``, merged ``pm_tp1+tp2``), so decisions survive a bot restart.
"""

import itertools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from freqtrade_posmgmt.validation import validated_policy

TAG_PREFIX = "pm_"
SOLD_ALL_NOTE = " (sold all: rest below min stake)"
CANDLES_SINCE_LAST_FILL = "candles_since_last_fill"

_TAG_RE = re.compile(r"^pm_((?:tp|add)\d+(?:\+(?:tp|add)\d+)*)")
# Sizes are ratios summed from floats: 0.25 + 0.25 + 0.5 must count as a whole position.
_EPSILON = 1e-9


def _fail(name: str, value: Any, rule: str) -> ValueError:
    shown = list(value) if isinstance(value, tuple) else value
    return ValueError(f"{name}={shown!r}: {rule}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers(name: str, value: Any) -> tuple[float, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise _fail(name, value, "must be a list of numbers")
    items = tuple(value)
    if not all(_is_number(v) for v in items):
        raise _fail(name, value, "must be a list of numbers")
    if not all(math.isfinite(v) for v in items):
        raise _fail(name, value, "must hold finite numbers")
    return tuple(float(v) for v in items)


def _whole(name: str, value: Any, minimum: int = 0) -> int:
    if not (_is_number(value) and float(value).is_integer()) or value < minimum:
        raise _fail(name, value, f"must be a whole number >= {minimum}")
    return int(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(name, value, "must be true or false")
    return value


def _ascending(name: str, values: tuple[float, ...]) -> None:
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise _fail(name, values, "must be strictly ascending")


def level_tag(kind: str, levels: Iterable[int]) -> str:
    """
    Order tag naming the levels an order fires, e.g. ``pm_tp1+tp2`` or ``pm_add1``.
    :param kind: ``"tp"`` for exit targets, ``"add"`` for scale-ins.
    :param levels: 1-based level numbers.
    """
    return TAG_PREFIX + "+".join(f"{kind}{n}" for n in levels)


def levels_in_tag(tag: str | None, kind: str) -> frozenset[int]:
    """
    Level numbers of one kind named by an order tag written by :func:`level_tag`.
    Tags of other origins (entry signals, other mixins) name no levels.
    :param tag: an order's tag (Freqtrade's ``order.ft_order_tag``).
    :param kind: ``"tp"`` or ``"add"``.
    """
    match = _TAG_RE.match(tag or "")
    if not match:
        return frozenset()
    return frozenset(
        int(part[len(kind) :])
        for part in match.group(1).split("+")
        if part.startswith(kind) and part[len(kind) :].isdigit()
    )


@dataclass(frozen=True)
class PositionState:
    """
    The facts about a position the policy decides on. Build one by hand for simulations, or
    read a Freqtrade trade with :meth:`from_trade`.

    :param entry_price: average entry price (Freqtrade's ``trade.open_rate``).
    :param side: ``"long"`` or ``"short"``.
    :param original_size: amount (base currency) bought by the first entry.
    :param current_size: amount held now; defaults to ``original_size``.
    :param peak_size: most ever held; defaults to the larger of the two sizes above.
    :param original_stake: stake of the first entry; defaults to
        ``original_size * entry_price / leverage`` (right while nothing was added).
    :param leverage: leverage of the position (1 for spot).
    :param fee: fee ratio paid on entries (Freqtrade's ``fee_open``).
    :param exit_fee: fee ratio paid on exits (``fee_close``); defaults to ``fee``.
    :param funding_fees: futures funding booked so far, received (> 0) or paid (< 0).
    :param partial_exits_taken: exit target numbers (1-based) that already filled.
    :param scale_ins_taken: scale-in level numbers (1-based) that already filled.
    :param partly_exited: some exit filled, of this policy's or not; defaults to whether
        ``partial_exits_taken`` is non-empty.
    """

    entry_price: float
    side: str
    original_size: float
    current_size: float | None = None
    peak_size: float | None = None
    original_stake: float | None = None
    leverage: float = 1.0
    fee: float = 0.0
    exit_fee: float | None = None
    funding_fees: float = 0.0
    partial_exits_taken: frozenset[int] = field(default_factory=frozenset)
    scale_ins_taken: frozenset[int] = field(default_factory=frozenset)
    partly_exited: bool | None = None

    def __post_init__(self) -> None:
        if self.side not in ("long", "short"):
            raise _fail("side", self.side, 'must be "long" or "short"')
        if not (_is_number(self.entry_price) and self.entry_price > 0):
            raise _fail("entry_price", self.entry_price, "must be a number > 0")
        if not (_is_number(self.leverage) and self.leverage >= 1):
            raise _fail("leverage", self.leverage, "must be a number >= 1")
        exit_fee = self.fee if self.exit_fee is None else self.exit_fee
        for name, fee in (("fee", self.fee), ("exit_fee", exit_fee)):
            if not (_is_number(fee) and 0 <= fee < 1):
                raise _fail(name, fee, "must be a number in [0, 1)")
        if not (_is_number(self.funding_fees) and math.isfinite(self.funding_fees)):
            raise _fail("funding_fees", self.funding_fees, "must be a finite number")
        if not (_is_number(self.original_size) and self.original_size > 0):
            raise _fail("original_size", self.original_size, "must be a number > 0")
        current = self.original_size if self.current_size is None else self.current_size
        if not (_is_number(current) and current >= 0):
            raise _fail("current_size", self.current_size, "must be a number >= 0")
        peak = max(self.original_size, current) if self.peak_size is None else self.peak_size
        if not (_is_number(peak) and peak >= max(self.original_size, current)):
            raise _fail("peak_size", self.peak_size, "must be >= original_size and current_size")
        stake = self.original_stake
        if stake is None:
            stake = self.original_size * self.entry_price / self.leverage
        elif not (_is_number(stake) and stake > 0):
            raise _fail("original_stake", stake, "must be a number > 0")
        object.__setattr__(self, "current_size", float(current))
        object.__setattr__(self, "peak_size", float(peak))
        object.__setattr__(self, "original_stake", float(stake))
        object.__setattr__(self, "exit_fee", float(exit_fee))
        for name in ("partial_exits_taken", "scale_ins_taken"):
            levels = getattr(self, name)
            if not all(_is_number(n) and float(n).is_integer() and n >= 1 for n in levels):
                raise _fail(name, levels, "must hold level numbers >= 1")
            object.__setattr__(self, name, frozenset(int(n) for n in levels))
        if self.partly_exited is None:
            object.__setattr__(self, "partly_exited", bool(self.partial_exits_taken))
        _flag("partly_exited", self.partly_exited)

    @classmethod
    def from_trade(cls, trade: Any) -> "PositionState":
        """
        Read a Freqtrade ``Trade`` (or anything shaped like it). Which levels fired comes from
        the tags of its filled orders, so the result is the same after a bot restart.
        :param trade: a trade with at least one filled entry.
        """
        entry_side = trade.entry_side
        leverage = trade.leverage or 1.0
        held = peak = first_size = first_stake = 0.0
        targets: set[int] = set()
        scale_ins: set[int] = set()
        exited = False
        for order in trade.orders:
            if order.ft_is_open or not order.filled:
                continue
            amount = order.safe_amount_after_fee
            if order.ft_order_side == entry_side:
                if not first_size:
                    first_size = amount
                    first_stake = order.safe_filled * order.safe_price / leverage
                held += amount
                peak = max(peak, held)
                scale_ins |= levels_in_tag(order.ft_order_tag, "add")
            else:
                held -= amount
                exited = True
                targets |= levels_in_tag(order.ft_order_tag, "tp")
        return cls(
            entry_price=trade.open_rate,
            side="short" if trade.is_short else "long",
            original_size=first_size,
            current_size=trade.amount,
            peak_size=max(peak, first_size, trade.amount),
            original_stake=first_stake,
            leverage=leverage,
            fee=trade.fee_open or 0.0,
            exit_fee=trade.fee_close or 0.0,
            funding_fees=trade.funding_fees or 0.0,
            partial_exits_taken=frozenset(targets),
            scale_ins_taken=frozenset(scale_ins),
            partly_exited=exited,
        )

    @property
    def is_short(self) -> bool:
        return self.side == "short"

    def profit_at(self, price: float) -> float:
        """
        Freqtrade's profit ratio at ``price`` (``trade.calc_profit_ratio``): both fees and the
        funding included, leverage-scaled, from the average entry price.
        """
        if not self.current_size:
            return 0.0
        sign = -1.0 if self.is_short else 1.0
        open_value = self.current_size * self.entry_price * (1 + sign * self.fee)
        close_value = (
            self.current_size * price * (1 - sign * self.exit_fee) + sign * self.funding_fees
        )
        return sign * (close_value / open_value - 1) * self.leverage

    def breakeven_price(self) -> float:
        """Price at which selling the rest earns back its entry, both fees and the funding."""
        sign = -1.0 if self.is_short else 1.0
        size = self.current_size or self.original_size
        open_value = size * self.entry_price * (1 + sign * self.fee)
        return (open_value - sign * self.funding_fees) / (size * (1 - sign * self.exit_fee))


def _state(position: Any) -> PositionState:
    return position if isinstance(position, PositionState) else PositionState.from_trade(position)


def _crossed(profit: float, threshold: float) -> bool:
    """A positive scale-in threshold is reached from below, a negative one from above."""
    return profit >= threshold if threshold > 0 else profit <= threshold


@dataclass(frozen=True)
class PartialExit:
    """
    One exit order: every target it fires, and how much to sell.

    :param levels: 1-based numbers of the exit targets this order fires.
    :param amount: amount to sell (base currency), never more than held.
    :param price: the price the decision was made at.
    :param sells_all: the order closes the position.
    :param rest_below_min_stake: the whole rest is sold because what the targets would have
        left is below the minimum stake.
    """

    levels: tuple[int, ...]
    amount: float
    price: float
    sells_all: bool
    rest_below_min_stake: bool = False

    @property
    def tag(self) -> str:
        """Order tag naming the targets, e.g. ``pm_tp1+tp2``."""
        note = SOLD_ALL_NOTE if self.rest_below_min_stake else ""
        return level_tag("tp", self.levels) + note


@dataclass(frozen=True)
class ScaleIn:
    """
    One entry order adding to the position.

    :param levels: 1-based numbers of the scale-in thresholds this order fires.
    :param stake: stake to add, in stake currency (before leverage).
    :param price: the price the decision was made at.
    """

    levels: tuple[int, ...]
    stake: float
    price: float

    @property
    def tag(self) -> str:
        """Order tag naming the levels, e.g. ``pm_add1``."""
        return level_tag("add", self.levels)


@validated_policy
@dataclass(frozen=True)
class PartialExitPolicy:
    """
    A take-profit ladder and scale-in rules, measured in Freqtrade's profit ratio
    (fee-inclusive, leverage-scaled, from the average entry price).

    :param exit_targets: profit ratios, strictly ascending and > 0, at which to sell part.
    :param exit_sizes: fraction of the position's PEAK amount (adds included) each target
        sells, each in (0, 1], summing to at most 1. Summing to 1 closes the trade on the last
        target; below 1 the rest is left to the other exits (stops, time exits, signals).
    :param scale_in_thresholds: profit ratios, strictly ascending and non-zero, at which to add:
        a positive one adds to a winner once profit reaches it, a negative one adds on a
        drawdown (DCA) once profit falls to it.
    :param scale_in_sizes: stake of each add as a fraction of the first entry's stake (> 0).
    :param max_scale_ins: most scale-in levels that may fire per trade.
    :param scale_in_after_exit: allow adds after the trade has partly exited (off by default,
        so a position is never trimmed and re-bought over and over).
    :param scale_in_min_candles: candles a scale-in waits after the trade's last fill.
    :param breakeven_after_first_exit: once the first target has filled, move the stop to the
        fee-aware breakeven price.
    """

    exit_targets: tuple[float, ...]
    exit_sizes: tuple[float, ...]
    scale_in_thresholds: tuple[float, ...] = ()
    scale_in_sizes: tuple[float, ...] = ()
    max_scale_ins: int = 0
    scale_in_after_exit: bool = False
    scale_in_min_candles: int = 0
    breakeven_after_first_exit: bool = False

    def __post_init__(self) -> None:
        targets = _numbers("exit_targets", self.exit_targets)
        sizes = _numbers("exit_sizes", self.exit_sizes)
        thresholds = _numbers("scale_in_thresholds", self.scale_in_thresholds)
        adds = _numbers("scale_in_sizes", self.scale_in_sizes)
        _ascending("exit_targets", targets)
        if any(t <= 0 for t in targets):
            raise _fail("exit_targets", targets, "must all be > 0")
        if len(sizes) != len(targets):
            raise _fail(
                "exit_sizes",
                sizes,
                f"must have one size per exit target ({len(targets)})",
            )
        if any(not 0 < s <= 1 for s in sizes):
            raise _fail("exit_sizes", sizes, "must each be in (0, 1]")
        if sum(sizes) > 1 + _EPSILON:
            raise _fail("exit_sizes", sizes, "must sum to at most 1")
        _ascending("scale_in_thresholds", thresholds)
        if any(t == 0 for t in thresholds):
            raise _fail("scale_in_thresholds", thresholds, "must all be non-zero")
        if len(adds) != len(thresholds):
            raise _fail(
                "scale_in_sizes",
                adds,
                f"must have one size per scale-in threshold ({len(thresholds)})",
            )
        if any(s <= 0 for s in adds):
            raise _fail("scale_in_sizes", adds, "must all be > 0")
        max_adds = _whole("max_scale_ins", self.max_scale_ins)
        if max_adds > len(thresholds):
            raise _fail(
                "max_scale_ins",
                max_adds,
                f"must be <= len(scale_in_thresholds) ({len(thresholds)})",
            )
        if not targets and not max_adds:
            raise _fail(
                "exit_targets",
                targets,
                "is empty and no scale-in may fire: use None to switch off",
            )
        object.__setattr__(self, "exit_targets", targets)
        object.__setattr__(self, "exit_sizes", sizes)
        object.__setattr__(self, "scale_in_thresholds", thresholds)
        object.__setattr__(self, "scale_in_sizes", adds)
        object.__setattr__(self, "max_scale_ins", max_adds)
        object.__setattr__(
            self,
            "scale_in_min_candles",
            _whole("scale_in_min_candles", self.scale_in_min_candles),
        )
        _flag("scale_in_after_exit", self.scale_in_after_exit)
        _flag("breakeven_after_first_exit", self.breakeven_after_first_exit)

    @property
    def scales_in(self) -> bool:
        """Whether any scale-in may fire."""
        return self.max_scale_ins > 0

    def check_partial_exits(
        self,
        position: Any,
        current_price: float,
        *,
        current_profit: float | None = None,
        min_stake: float | None = None,
    ) -> list[PartialExit]:
        """
        The exit orders due now: a list, empty when nothing is due, else one order. All
        targets reached and not yet filled are merged into that one order, so a price gap over
        several targets loses none (Freqtrade places one order per call anyway).
        :param position: a :class:`PositionState` or a Freqtrade ``Trade``.
        :param current_price: the price an exit would fill at.
        :param current_profit: the position's profit ratio at ``current_price``, when the
            caller already has it (Freqtrade's ``current_exit_profit``).
        :param min_stake: smallest value (amount x price) a position may keep; a rest below it
            is sold with the targets.
        :return: the exits to place (at most one), ``[]`` when none is due.
        """
        state = _state(position)
        profit = state.profit_at(current_price) if current_profit is None else current_profit
        # Targets ascend: below the first one nothing can be due, whatever already fired.
        if not self.exit_targets or profit < self.exit_targets[0] or state.current_size <= 0:
            return []
        due = tuple(
            n
            for n, target in enumerate(self.exit_targets, start=1)
            if n not in state.partial_exits_taken and profit >= target
        )
        if not due:
            return []
        fired = state.partial_exits_taken.union(due)
        ladder_done = (
            sum(size for n, size in enumerate(self.exit_sizes, start=1) if n in fired)
            >= 1 - _EPSILON
        )
        held = state.current_size
        wanted = sum(self.exit_sizes[n - 1] for n in due) * state.peak_size
        amount = held if ladder_done else min(wanted, held)
        rest = held - amount
        rest_below_min = bool(min_stake) and 0 < rest * current_price < min_stake
        if rest_below_min:
            amount = held
        return [
            PartialExit(
                levels=due,
                amount=amount,
                price=current_price,
                sells_all=amount >= held,
                rest_below_min_stake=rest_below_min,
            )
        ]

    def check_scale_in_opportunity(
        self,
        position: Any,
        current_price: float,
        market_data: Mapping[str, Any] | None = None,
        *,
        current_profit: float | None = None,
    ) -> ScaleIn | None:
        """
        The add due now, or None. Levels crossed together are merged into one order, nearest
        to zero profit first, as far as ``max_scale_ins`` allows.
        :param position: a :class:`PositionState` or a Freqtrade ``Trade``.
        :param current_price: the price an add would fill at.
        :param market_data: facts beyond the position; ``scale_in_min_candles`` needs
            ``market_data["candles_since_last_fill"]``.
        :param current_profit: the position's profit ratio at ``current_price``, when the
            caller already has it (Freqtrade's ``current_entry_profit``).
        :return: the add to place, or None.
        """
        if not self.scales_in:
            return None
        state = _state(position)
        profit = state.profit_at(current_price) if current_profit is None else current_profit
        if not any(_crossed(profit, t) for t in self.scale_in_thresholds):
            return None
        allowance = self.max_scale_ins - len(state.scale_ins_taken)
        if state.current_size <= 0 or allowance <= 0:
            return None
        if state.partly_exited and not self.scale_in_after_exit:
            return None
        if self.scale_in_min_candles:
            candles = (market_data or {}).get(CANDLES_SINCE_LAST_FILL)
            if candles is None:
                raise _fail(
                    "scale_in_min_candles",
                    self.scale_in_min_candles,
                    f'needs market_data["{CANDLES_SINCE_LAST_FILL}"]',
                )
            if candles < self.scale_in_min_candles:
                return None
        crossed = sorted(
            (
                n
                for n, threshold in enumerate(self.scale_in_thresholds, start=1)
                if n not in state.scale_ins_taken and _crossed(profit, threshold)
            ),
            key=lambda n: abs(self.scale_in_thresholds[n - 1]),
        )
        due = tuple(sorted(crossed[:allowance]))
        if not due:
            return None
        stake = sum(self.scale_in_sizes[n - 1] for n in due) * state.original_stake
        return ScaleIn(levels=due, stake=stake, price=current_price)

    def breakeven_stop_price(self, position: Any) -> float | None:
        """
        The fee-aware breakeven price once the first target has filled, else None.
        :param position: a :class:`PositionState` or a Freqtrade ``Trade``.
        """
        if not self.breakeven_after_first_exit:
            return None
        state = _state(position)
        if not state.partial_exits_taken or state.current_size <= 0:
            return None
        return state.breakeven_price()

    def apply_partial_exit(self, position: PositionState, action: PartialExit) -> PositionState:
        """
        The position after ``action`` filled at its price (never selling more than held).
        :param position: the position before the exit.
        :param action: an exit returned by :meth:`check_partial_exits`.
        """
        return replace(
            position,
            current_size=position.current_size - min(action.amount, position.current_size),
            partial_exits_taken=position.partial_exits_taken.union(action.levels),
            partly_exited=True,
        )

    def apply_scale_in(self, position: PositionState, action: ScaleIn) -> PositionState:
        """
        The position after ``action`` filled at its price: larger, with a new average entry.
        :param position: the position before the add.
        :param action: an add returned by :meth:`check_scale_in_opportunity`.
        """
        added = action.stake * position.leverage / action.price
        size = position.current_size + added
        return replace(
            position,
            entry_price=(position.current_size * position.entry_price + added * action.price)
            / size,
            current_size=size,
            peak_size=max(position.peak_size, size),
            scale_ins_taken=position.scale_ins_taken.union(action.levels),
        )
