"""
Partial exits (a take-profit ladder) and scale-ins (adds to winners, DCA on drawdowns).

Framework-free policy: it decides, Freqtrade (through ``PartialExitMixin``) executes.
A ``position`` is a :class:`PositionState`: plain values, built by hand or, by the mixin, from
a Freqtrade ``Trade`` (``freqtrade_posmgmt.mixins.partial_exits.position_state``).

Which levels already fired is read from the tags of a trade's filled orders, which name each
level by what it is, its target: ``pm_tp3%``, merged ``pm_tp3%+6%``, ``pm_add-5%``. Decisions
survive a bot restart, and a ladder changed in between is matched by target, not by position.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from freqtrade_posmgmt.profit import profit_ratio, rate_for_profit
from freqtrade_posmgmt.validation import (
    coerce,
    fail,
    flag,
    is_number,
    number,
    numbers,
    strictly_ascending,
    validated_policy,
    whole,
)

TAG_PREFIX = "pm_"
SOLD_ALL_NOTE = " (sold all: rest below min stake)"
CANDLES_SINCE_LAST_FILL = "candles_since_last_fill"

_PERCENT = r"-?\d+(?:\.\d+)?(?:e-?\d+)?%"
_TAG_RE = re.compile(rf"^pm_(tp|add)({_PERCENT}(?:\+{_PERCENT})*)")
# Tags written before levels were named by target (pm_tp1+tp2): read by position.
_OLD_TAG_RE = re.compile(r"^pm_((?:tp|add)\d+(?:\+(?:tp|add)\d+)*)")
# Sizes are ratios summed from floats: 0.25 + 0.25 + 0.5 must count as a whole position.
_EPSILON = 1e-9


def level_name(value: float) -> str:
    """
    How a tag names a level: its target (or scale-in threshold) in percent, e.g. ``3%``,
    ``1.5%``, ``-5%``. Two levels are the same level when their names are equal.
    """
    return f"{value * 100:g}%"


def level_tag(kind: str, values: Iterable[float]) -> str:
    """
    Order tag naming the levels an order fires by their targets, e.g. ``pm_tp3%+6%`` or
    ``pm_add-5%``.
    :param kind: ``"tp"`` for exit targets, ``"add"`` for scale-ins.
    :param values: the targets (profit ratios) or scale-in thresholds of those levels.
    """
    return TAG_PREFIX + kind + "+".join(level_name(v) for v in values)


def levels_in_tag(tag: str | None, kind: str, ladder: Sequence[float]) -> frozenset[int]:
    """
    Levels of ``ladder`` (1-based) named by an order tag written by :func:`level_tag`, matched
    by target: a tag naming a target the ladder does not have names no level. Tags of the older
    form ``pm_tp1+tp2`` name levels by position. Tags of other origins (entry signals, other
    mixins) name no levels.
    :param tag: an order's tag (Freqtrade's ``order.ft_order_tag``).
    :param kind: ``"tp"`` or ``"add"``.
    :param ladder: the policy's ``exit_targets`` (for ``"tp"``) or ``scale_in_thresholds``.
    """
    tag = tag or ""
    match = _TAG_RE.match(tag)
    if match:
        if match.group(1) != kind:
            return frozenset()
        named = set(match.group(2).split("+"))
        return frozenset(n for n, value in enumerate(ladder, 1) if level_name(value) in named)
    match = _OLD_TAG_RE.match(tag)
    if not match:
        return frozenset()
    return frozenset(
        int(part[len(kind) :])
        for part in match.group(1).split("+")
        if part.startswith(kind)
        and part[len(kind) :].isdigit()
        and 1 <= int(part[len(kind) :]) <= len(ladder)
    )


@dataclass(frozen=True)
class PositionState:
    """
    The facts about a position the policy decides on: plain values, no Freqtrade object. The
    mixin reads them from a trade's filled orders (``mixins.partial_exits.position_state``).

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
            raise fail("side", self.side, 'must be "long" or "short"')
        number("entry_price", self.entry_price, above=0, rule="must be a number > 0")
        number("leverage", self.leverage, at_least=1, rule="must be a number >= 1")
        exit_fee = self.fee if self.exit_fee is None else self.exit_fee
        for name, fee in (("fee", self.fee), ("exit_fee", exit_fee)):
            number(name, fee, at_least=0, below=1, rule="must be a number in [0, 1)")
        number("funding_fees", self.funding_fees)
        number("original_size", self.original_size, above=0, rule="must be a number > 0")
        current = self.original_size if self.current_size is None else self.current_size
        number("current_size", current, at_least=0, rule="must be a number >= 0")
        peak = max(self.original_size, current) if self.peak_size is None else self.peak_size
        if not (is_number(peak) and peak >= max(self.original_size, current)):
            raise fail("peak_size", self.peak_size, "must be >= original_size and current_size")
        stake = self.original_stake
        if stake is None:
            stake = self.original_size * self.entry_price / self.leverage
        number("original_stake", stake, above=0, rule="must be a number > 0")
        coerce(
            self,
            current_size=float(current),
            peak_size=float(peak),
            original_stake=float(stake),
            exit_fee=float(exit_fee),
        )
        for name in ("partial_exits_taken", "scale_ins_taken"):
            levels = getattr(self, name)
            if not all(is_number(n) and float(n).is_integer() and n >= 1 for n in levels):
                raise fail(name, levels, "must hold level numbers >= 1")
            coerce(self, **{name: frozenset(int(n) for n in levels)})
        if self.partly_exited is None:
            coerce(self, partly_exited=bool(self.partial_exits_taken))
        flag("partly_exited", self.partly_exited)

    @property
    def is_short(self) -> bool:
        return self.side == "short"

    def _arithmetic(self) -> dict[str, Any]:
        """The position as :mod:`freqtrade_posmgmt.profit` takes it."""
        return {
            "open_rate": self.entry_price,
            "is_short": self.is_short,
            "leverage": self.leverage,
            "fee_open": self.fee,
            "fee_close": self.exit_fee,
            "amount": self.current_size or self.original_size,
            "funding_fees": self.funding_fees,
        }

    def profit_at(self, price: float) -> float:
        """
        Freqtrade's profit ratio at ``price`` (``trade.calc_profit_ratio``): both fees and the
        funding included, leverage-scaled, from the average entry price, rounded as Freqtrade
        rounds it. 0.0 once nothing is held.
        """
        if not self.current_size:
            return 0.0
        return profit_ratio(price, **self._arithmetic())

    def breakeven_price(self) -> float:
        """Price at which selling the rest earns back its entry, both fees and the funding."""
        return rate_for_profit(0.0, **self._arithmetic())


def exit_min_stake_factor(stoploss: float, amount_reserve_percent: float) -> float:
    """
    How much more than ``adjust_trade_position``'s ``min_stake`` the rest of a partial exit must
    be worth, by Freqtrade's own rule (``Exchange.get_min_pair_stake_amount``): for an exit it
    reserves ``amount_reserve_percent`` plus room for the ``stoploss`` (at most 1.5x in all),
    for the ``min_stake`` it hands the strategy only the ``amount_reserve_percent``. Live, an exit
    whose rest is worth less is dropped by Freqtrade, silently; backtests use the same bound.

    :param stoploss: the strategy's ``stoploss`` (e.g. -0.10).
    :param amount_reserve_percent: Freqtrade's ``amount_reserve_percent`` (its default is
        ``freqtrade.constants.DEFAULT_AMOUNT_RESERVE_PERCENT``, 0.05).
    """
    margin_reserve = 1.0 + amount_reserve_percent
    reserve = margin_reserve / (1 - abs(stoploss)) if abs(stoploss) != 1 else 1.5
    return max(max(min(reserve, 1.5), 1.0) / margin_reserve, 1.0)


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
    :param targets: the profit targets of ``levels``, which the tag names.
    """

    levels: tuple[int, ...]
    amount: float
    price: float
    sells_all: bool
    rest_below_min_stake: bool = False
    targets: tuple[float, ...] = field(default=(), compare=False)

    @property
    def tag(self) -> str:
        """Order tag naming the targets, e.g. ``pm_tp3%+6%``."""
        note = SOLD_ALL_NOTE if self.rest_below_min_stake else ""
        return level_tag("tp", self.targets) + note


@dataclass(frozen=True)
class ScaleIn:
    """
    One entry order adding to the position.

    :param levels: 1-based numbers of the scale-in thresholds this order fires.
    :param stake: stake to add, in stake currency (before leverage).
    :param price: the price the decision was made at.
    :param thresholds: the profit thresholds of ``levels``, which the tag names.
    """

    levels: tuple[int, ...]
    stake: float
    price: float
    thresholds: tuple[float, ...] = field(default=(), compare=False)

    @property
    def tag(self) -> str:
        """Order tag naming the levels by threshold, e.g. ``pm_add-5%``."""
        return level_tag("add", self.thresholds)


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
    :param max_scale_ins: most scale-in levels that may fire per trade; by default (None) every
        listed level may fire once. 0 beside listed levels is refused: they would never fire.
        Kept as given (None stays None), so a policy re-made with other levels
        (``dataclasses.replace``, a config section over the Parameters) allows its own levels;
        the cap in force is :attr:`scale_in_cap`.
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
    max_scale_ins: int | None = None
    scale_in_after_exit: bool = False
    scale_in_min_candles: int = 0
    breakeven_after_first_exit: bool = False
    scale_in_cap: int = field(init=False, repr=False)
    """How many scale-in levels may fire per trade: ``max_scale_ins``, else every listed one."""

    def __post_init__(self) -> None:
        targets = numbers("exit_targets", self.exit_targets)
        sizes = numbers("exit_sizes", self.exit_sizes)
        thresholds = numbers("scale_in_thresholds", self.scale_in_thresholds)
        adds = numbers("scale_in_sizes", self.scale_in_sizes)
        strictly_ascending("exit_targets", targets)
        if any(t <= 0 for t in targets):
            raise fail("exit_targets", targets, "must all be > 0")
        if len(sizes) != len(targets):
            raise fail(
                "exit_sizes",
                sizes,
                f"must have one size per exit target ({len(targets)})",
            )
        if any(not 0 < s <= 1 for s in sizes):
            raise fail("exit_sizes", sizes, "must each be in (0, 1]")
        if sum(sizes) > 1 + _EPSILON:
            raise fail("exit_sizes", sizes, "must sum to at most 1")
        strictly_ascending("scale_in_thresholds", thresholds)
        if any(t == 0 for t in thresholds):
            raise fail("scale_in_thresholds", thresholds, "must all be non-zero")
        if len(adds) != len(thresholds):
            raise fail(
                "scale_in_sizes",
                adds,
                f"must have one size per scale-in threshold ({len(thresholds)})",
            )
        if any(s <= 0 for s in adds):
            raise fail("scale_in_sizes", adds, "must all be > 0")
        if self.max_scale_ins is None:
            max_adds = len(thresholds)
        else:
            max_adds = whole("max_scale_ins", self.max_scale_ins)
        if thresholds and not max_adds:
            raise fail(
                "max_scale_ins",
                max_adds,
                "lets none of the listed scale_in_thresholds fire: leave it out (every level "
                "may fire once) or list no scale-ins",
            )
        if max_adds > len(thresholds):
            raise fail(
                "max_scale_ins",
                max_adds,
                f"must be <= len(scale_in_thresholds) ({len(thresholds)})",
            )
        if not targets and not max_adds:
            raise fail(
                "exit_targets",
                targets,
                "is empty and no scale-in may fire: use None to switch off",
            )
        coerce(
            self,
            exit_targets=targets,
            exit_sizes=sizes,
            scale_in_thresholds=thresholds,
            scale_in_sizes=adds,
            max_scale_ins=None if self.max_scale_ins is None else max_adds,
            scale_in_cap=max_adds,
            scale_in_min_candles=whole("scale_in_min_candles", self.scale_in_min_candles),
        )
        flag("scale_in_after_exit", self.scale_in_after_exit)
        flag("breakeven_after_first_exit", self.breakeven_after_first_exit)

    @classmethod
    def from_shape(
        cls,
        *,
        first_target: float,
        levels: int = 1,
        spacing: float = 2.0,
        size: float = 0.5,
        size_ratio: float = 1.0,
        first_scale_in: float = -0.05,
        scale_in_levels: int = 0,
        scale_in_spacing: float = 2.0,
        scale_in_size: float = 0.5,
    ) -> "PartialExitPolicy":
        """
        A whole ladder from a few numbers, so that a hyperopt can shape it: ``levels`` targets
        from ``first_target``, each ``spacing`` times the one before; together they sell
        ``size`` of the peak amount, each level ``size_ratio`` times what the one before sells
        (1: equal parts). Likewise ``scale_in_levels`` adds from ``first_scale_in`` (negative:
        DCA), each ``scale_in_spacing`` times further from zero, each of ``scale_in_size``
        times the first entry's stake. Targets are rounded to 0.01% so that tags stay short.
        """
        levels = whole("levels", levels, 1)
        scale_in_levels = whole("scale_in_levels", scale_in_levels, 0)
        targets = [round(first_target * spacing**n, 4) for n in range(levels)]
        weights = [size_ratio**n for n in range(levels)]
        thresholds = sorted(
            round(first_scale_in * scale_in_spacing**n, 4) for n in range(scale_in_levels)
        )
        return cls(
            exit_targets=targets,
            exit_sizes=[size * w / sum(weights) for w in weights],
            scale_in_thresholds=thresholds,
            scale_in_sizes=[scale_in_size] * scale_in_levels,
        )

    @property
    def scales_in(self) -> bool:
        """Whether any scale-in may fire."""
        return self.scale_in_cap > 0

    def check_partial_exits(
        self,
        position: PositionState,
        current_price: float,
        *,
        current_profit: float | None = None,
        min_stake: float | None = None,
        stoploss: float = 0.0,
        amount_reserve_percent: float = 0.0,
    ) -> list[PartialExit]:
        """
        The exit orders due now: a list, empty when nothing is due, else one order (the
        seed's callers loop over it). All targets reached and not yet filled are merged into
        that one order, so a price gap over several targets loses none.
        :param position: the position now.
        :param current_price: the price an exit would fill at.
        :param current_profit: the position's profit ratio at ``current_price``, when the
            caller already has it (Freqtrade's ``current_exit_profit``).
        :param min_stake: Freqtrade's ``min_stake`` for the pair; a rest worth less than it,
            with the reserve of :func:`exit_min_stake_factor`, is sold with the targets.
        :param stoploss: the strategy's ``stoploss``, for that reserve.
        :param amount_reserve_percent: Freqtrade's ``amount_reserve_percent``, for that reserve.
        :return: the exits to place (at most one), ``[]`` when none is due.
        """
        profit = position.profit_at(current_price) if current_profit is None else current_profit
        # Targets ascend: below the first one nothing can be due, whatever already fired.
        if not self.exit_targets or profit < self.exit_targets[0] or position.current_size <= 0:
            return []
        due = tuple(
            n
            for n, target in enumerate(self.exit_targets, start=1)
            if n not in position.partial_exits_taken and profit >= target
        )
        if not due:
            return []
        fired = position.partial_exits_taken.union(due)
        ladder_done = (
            sum(size for n, size in enumerate(self.exit_sizes, start=1) if n in fired)
            >= 1 - _EPSILON
        )
        held = position.current_size
        wanted = sum(self.exit_sizes[n - 1] for n in due) * position.peak_size
        amount = held if ladder_done else min(wanted, held)
        rest = held - amount
        rest_below_min = bool(
            min_stake
        ) and 0 < rest * current_price < min_stake * exit_min_stake_factor(
            stoploss, amount_reserve_percent
        )
        if rest_below_min:
            amount = held
        return [
            PartialExit(
                targets=tuple(self.exit_targets[n - 1] for n in due),
                levels=due,
                amount=amount,
                price=current_price,
                sells_all=amount >= held,
                rest_below_min_stake=rest_below_min,
            )
        ]

    def check_scale_in_opportunity(
        self,
        position: PositionState,
        current_price: float,
        market_data: Mapping[str, Any] | None = None,
        *,
        current_profit: float | None = None,
        min_stake: float | None = None,
        max_stake: float | None = None,
    ) -> ScaleIn | None:
        """
        The add due now, or None. Levels crossed together are merged into one order, nearest
        to zero profit first, as far as ``max_scale_ins`` allows.
        :param position: the position now.
        :param current_price: the price an add would fill at.
        :param market_data: facts beyond the position; ``scale_in_min_candles`` needs
            ``market_data["candles_since_last_fill"]``. A mapping rather than one argument
            because it is the third argument of the seed's call,
            ``check_scale_in_opportunity(position, current_price, market_data)``.
        :param current_profit: the position's profit ratio at ``current_price``, when the
            caller already has it (Freqtrade's ``current_entry_profit``).
        :param min_stake: smallest stake an add may have; a smaller one is not placed.
        :param max_stake: largest stake an add may have (Freqtrade's ``max_stake``: the
            exchange's limit or the free wallet, whichever is smaller); a larger one is capped.
        :return: the add to place, or None.
        """
        if not self.scales_in:
            return None
        profit = position.profit_at(current_price) if current_profit is None else current_profit
        if not any(_crossed(profit, t) for t in self.scale_in_thresholds):
            return None
        allowance = self.scale_in_cap - len(position.scale_ins_taken)
        if position.current_size <= 0 or allowance <= 0:
            return None
        if position.partly_exited and not self.scale_in_after_exit:
            return None
        if self.scale_in_min_candles:
            candles = (market_data or {}).get(CANDLES_SINCE_LAST_FILL)
            if candles is None:
                raise fail(
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
                if n not in position.scale_ins_taken and _crossed(profit, threshold)
            ),
            key=lambda n: abs(self.scale_in_thresholds[n - 1]),
        )
        due = tuple(sorted(crossed[:allowance]))
        if not due:
            return None
        stake = sum(self.scale_in_sizes[n - 1] for n in due) * position.original_stake
        if max_stake is not None:
            stake = min(stake, max_stake)
        if min_stake and stake < min_stake:
            return None
        thresholds = tuple(self.scale_in_thresholds[n - 1] for n in due)
        return ScaleIn(levels=due, stake=stake, price=current_price, thresholds=thresholds)

    def breakeven_stop_price(self, position: PositionState) -> float | None:
        """
        The fee-aware breakeven price once the first target has filled, else None.
        :param position: the position now.
        """
        if not self.breakeven_after_first_exit:
            return None
        if not position.partial_exits_taken or position.current_size <= 0:
            return None
        return position.breakeven_price()
