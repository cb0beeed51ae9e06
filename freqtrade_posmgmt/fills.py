"""
One vocabulary for a position's filled orders, framework-free: the mixins turn a Freqtrade trade's
filled orders into :class:`Fill` values once, and the partial-exit state and the equity ledger both
replay them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from freqtrade_posmgmt.profit import profit_abs


@dataclass(frozen=True)
class Fill:
    """One filled order of a position."""

    time: float
    """Epoch seconds of the fill."""
    is_entry: bool
    """True for an entry (the position's side), False for an exit."""
    amount: float
    """Base currency the fill moved, after fees (Freqtrade's ``safe_amount_after_fee``)."""
    filled: float
    """Base currency filled before fees (``safe_filled``)."""
    price: float
    funding_fee: float = 0.0
    """Futures funding booked with this fill."""
    tag: str | None = None
    """The order's tag (``ft_order_tag``)."""


def exit_profits(
    fills: Sequence[Fill], *, is_short: bool, fee_open: float, fee_close: float
) -> list[tuple[float, float]]:
    """
    Each exit of ``fills`` as (epoch seconds, realised profit in stake currency), in fill order:
    the replay of Freqtrade's ``recalc_trade_from_orders`` (average entry price, fees both ways,
    funding booked up to the exit).
    """
    profits: list[tuple[float, float]] = []
    amount = cost = average = funding = 0.0
    for fill in fills:
        funding += fill.funding_fee
        if fill.is_entry:
            amount += fill.amount
            cost += fill.amount * fill.price
            average = cost / amount if amount > 0 else average
            continue
        profit = profit_abs(
            fill.price,
            open_rate=average,
            is_short=is_short,
            amount=fill.amount,
            fee_open=fee_open,
            fee_close=fee_close,
            funding_fees=funding,
        )
        profits.append((fill.time, profit))
        funding = 0.0
        amount -= fill.amount
        cost -= fill.amount * average
    return profits


@dataclass(frozen=True)
class Holdings:
    """What a position's fills say about its size, for the partial-exit state."""

    first_size: float
    """Amount of the first entry."""
    first_stake: float
    """Stake of the first entry (filled x price / leverage)."""
    peak: float
    """Most ever held."""
    exited: bool
    """Some exit filled."""
    entry_tags: tuple[str | None, ...]
    exit_tags: tuple[str | None, ...]


def holdings(fills: Iterable[Fill], leverage: float) -> Holdings:
    """The size facts of a position from its ``fills`` (in fill order)."""
    held = peak = first_size = first_stake = 0.0
    entry_tags: list[str | None] = []
    exit_tags: list[str | None] = []
    for fill in fills:
        if fill.is_entry:
            if not first_size:
                first_size = fill.amount
                first_stake = fill.filled * fill.price / leverage
            held += fill.amount
            peak = max(peak, held)
            entry_tags.append(fill.tag)
        else:
            held -= fill.amount
            exit_tags.append(fill.tag)
    return Holdings(first_size, first_stake, peak, bool(exit_tags), (*entry_tags,), (*exit_tags,))
