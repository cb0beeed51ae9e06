"""
The correlation cap replayed from a backtest's trades, independently of the mixin: correlations
recomputed with pandas from the candle files, groups by union-find, exposure from the filled
entry orders. Shared by the tests of the correlation mixin and of the whole stack.
"""

from datetime import timedelta
from functools import cache

import pandas as pd

from tests.support.backtest_harness import SPOT_DATA

HOUR = timedelta(hours=1)
WINDOW = 720
THRESHOLD = 0.7
WALLET = 100_000
"""The dry-run wallet of the replayed backtests."""


@cache
def hourly_returns() -> pd.DataFrame:
    """Every shipped pair's close-to-close returns on one hourly grid (NaN around gaps)."""
    frames = {
        path.name.split("-")[0].replace("_", "/"): pd.read_feather(path).set_index("date")["close"]
        for path in SPOT_DATA.glob("*-1h.feather")
    }
    closes = pd.DataFrame(frames)
    grid = pd.date_range(closes.index[0], closes.index[-1], freq="1h")
    return closes.reindex(grid).pct_change(fill_method=None)


@cache
def correlation_at(when: pd.Timestamp) -> pd.DataFrame:
    """Pearson of the returns of the 720 candles that closed before ``when``, from scratch."""
    returns = hourly_returns()
    window = returns[(returns.index < when) & (returns.index >= when - WINDOW * HOUR)]
    return window.corr(min_periods=20)


def rho(a: str, b: str, when: pd.Timestamp) -> float:
    spot = [p.split(":")[0] for p in (a, b)]
    return correlation_at(when).loc[spot[0], spot[1]]


def component(candidate: str, held: list[str], when: pd.Timestamp) -> list[str]:
    """Pairs held in the candidate's group: union-find over the candidate and the pairs held."""
    nodes = [candidate, *held]
    parent = {n: n for n in nodes}

    def find(n: str) -> str:
        while parent[n] != n:
            n = parent[n]
        return n

    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            if rho(a, b, when) >= THRESHOLD:
                parent[find(a)] = find(b)
    return sorted(n for n in held if find(n) == find(candidate))


def events(trades: list) -> list[tuple]:
    """Every filled entry order: (time, trade id, trade, signed notional), in processing order."""
    out = []
    for trade in trades:
        for order in trade.orders:
            if order.ft_order_side == trade.entry_side and order.status == "closed":
                notional = order.safe_filled * order.safe_price
                out.append(
                    (
                        order.order_date_utc,
                        trade.id,
                        trade,
                        -notional if trade.is_short else notional,
                    )
                )
    return sorted(out, key=lambda e: (e[0], e[1]))


def equity_at(trades: list, when) -> float:
    """Starting balance (wallet x tradable_balance_ratio) + profit closed before ``when``."""
    return WALLET * 0.99 + sum(
        t.close_profit_abs for t in trades if t.close_date and t.close_date < when
    )


def check_every_entry_within_cap(trades: list, cap: float) -> list[tuple]:
    """Replay the entries; return (event, group, net, room) for each one in a group."""
    grouped = []
    every = events(trades)
    for when, trade_id, trade, notional in every:
        exposure: dict[str, float] = {}
        for other_when, other_id, other, other_notional in every:
            if other.pair == trade.pair and other is not trade:
                continue
            closed = other.close_date is not None and other.close_date <= when
            earlier = other_when < when or (other_when == when and other_id < trade_id)
            if earlier and not closed:
                exposure[other.pair] = exposure.get(other.pair, 0.0) + other_notional
        held = [p for p, v in exposure.items() if v and p != trade.pair]
        group = component(trade.pair, held, pd.Timestamp(when))
        if not group:
            continue
        members = [*group, trade.pair] if trade.pair in exposure else group
        net = sum(exposure[p] for p in members)
        limit = cap * equity_at(trades, when)
        after = net + notional
        if notional > 0:
            assert after <= limit * (1 + 1e-9), (trade.pair, when, group, net, notional, limit)
        else:
            assert after >= -limit * (1 + 1e-9), (trade.pair, when, group, net, notional, limit)
        grouped.append((when, trade, group, net, limit - net if notional > 0 else limit + net))
    return grouped
