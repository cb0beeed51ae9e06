"""
What position management did: the strategies of a result side by side, and per capability the
exits it caused, the partial fills and adds it placed and the entries it refused or resized.

Exits and fills come from the result itself (exit reasons, order tags); refusals and resized
stakes from the decisions the mixins wrote beside it (``mixins._sidecar``), which Freqtrade's
result does not hold.
"""

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from freqtrade_posmgmt import registry
from freqtrade_posmgmt.report.loading import LoadedResult

# The capabilities in the order PositionManagementMixin stacks them.
# One row per capability, in the order the stack asks them.
CAPABILITIES = tuple(capability.value for capability in registry.STACK_ORDER)
EFFECT_COLUMNS = (
    "on",
    "exits",
    "exit_profit_abs",
    "partial_fills",
    "partial_stake",
    "partial_profit_abs",
    "adds",
    "add_stake",
    "refused",
    "cut",
    "raised",
    "stake_not_deployed",
)
COMPARISON_COLUMNS = (
    "trades",
    "profit_total_abs",
    "profit_total",
    "max_drawdown_account",
    "calmar",
    "winrate",
    "profit_factor",
)


@dataclass(frozen=True)
class StrategyComparison:
    """The result's strategies side by side, and their realised equity curves."""

    table: pd.DataFrame
    """One row per strategy (:data:`COMPARISON_COLUMNS`, Freqtrade's numbers) and ``managed``."""
    equity: dict[str, pd.Series]
    """Per strategy, realised equity after each close (starting balance at the first date)."""
    drawdown: dict[str, pd.Series]
    """Per strategy, realised equity below its running peak, a ratio of the peak (<= 0)."""
    baseline: str | None
    """The one strategy without position management, when the others have it."""
    stake_currency: str


@dataclass(frozen=True)
class CapabilityEffects:
    """What each capability of one strategy did in the backtest."""

    strategy: str
    table: pd.DataFrame
    """One row per capability (:data:`CAPABILITIES`), columns :data:`EFFECT_COLUMNS`."""
    reasons: pd.DataFrame
    """Decisions by capability, kind and reason: ``count`` and ``stake_not_deployed``."""
    decisions_known: bool
    """False when the source holds no decisions (a bot's database): which capabilities were on
    and what they refused or resized are unknown."""
    stake_currency: str = ""
    decision_count: int = 0
    """How many decisions the ``stake_not_deployed`` sums run over."""


def exit_capability(reason: str) -> str | None:
    """The capability an exit reason names, None for the strategy's own exits."""
    capability = registry.exit_capability(reason)
    return None if capability is None else capability.value


def reason_key(reason: str) -> str:
    """A decision's reason without its numbers, so that like decisions group together."""
    return re.split(r" net exposure|[:(]", reason, maxsplit=1)[0].strip()


def comparison(loaded: LoadedResult) -> StrategyComparison:
    trades = loaded.trades
    rows, equity = {}, {}
    for name, stats in loaded.stats.items():
        rows[name] = {
            "trades": stats.get("total_trades", 0),
            **{column: stats.get(column) for column in COMPARISON_COLUMNS[1:]},
            "managed": _managed(loaded.decisions.get(name)),
        }
        mine = trades[trades["strategy"] == name].sort_values("close_date")
        start = float(stats.get("starting_balance", 0.0))
        curve = start + mine.groupby("close_date")["profit_abs"].sum().cumsum()
        first = pd.Series([start], index=[pd.Timestamp(stats["backtest_start"], tz="UTC")])
        equity[name] = pd.concat([first, curve])
    table = pd.DataFrame.from_dict(rows, orient="index")
    plain = [name for name, row in rows.items() if not row["managed"]]
    baseline = plain[0] if len(plain) == 1 and len(rows) > 1 else None
    currency = next(iter(loaded.stats.values()), {}).get("stake_currency", "")
    drawdown = {name: curve / curve.cummax() - 1.0 for name, curve in equity.items()}
    return StrategyComparison(table, equity, drawdown, baseline, currency)


def _managed(document: dict[str, Any] | None) -> bool:
    return document is not None and any(document.get("capabilities", {}).values())


def capability_effects(loaded: LoadedResult) -> list[CapabilityEffects]:
    """One section per strategy with position management (decisions found); for a source
    without decisions (a bot's database), one per strategy with its exits and fills only."""
    if not loaded.decisions_recorded:
        return [_effects(loaded, name, {}, known=False) for name in loaded.decisions]
    return [
        _effects(loaded, name, document)
        for name, document in loaded.decisions.items()
        if _managed(document)
    ]


def _effects(
    loaded: LoadedResult, name: str, document: dict[str, Any], known: bool = True
) -> CapabilityEffects:
    table = pd.DataFrame(0.0, index=pd.Index(CAPABILITIES, name="capability"),
                         columns=EFFECT_COLUMNS)  # fmt: skip
    on = document.get("capabilities", {})
    table["on"] = [bool(on.get(c, False)) for c in CAPABILITIES]
    trades = loaded.trades[loaded.trades["strategy"] == name]
    for reason, profit in zip(trades["exit_reason"], trades["profit_abs"], strict=True):
        capability = exit_capability(str(reason))
        if capability is not None:
            table.loc[capability, "exits"] += 1
            table.loc[capability, "exit_profit_abs"] += profit
    for _, trade in trades.iterrows():
        orders = trade["orders"] if isinstance(trade["orders"], list) else []
        filled = [o for o in orders if o.get("order_filled_timestamp")]
        profits = exit_profits(trade, filled)
        for index, order in enumerate(filled):
            if not str(order.get("ft_order_tag") or "").startswith(registry.ORDER_TAG_PREFIX):
                continue
            stake = float(order.get("cost") or 0.0) / (trade["leverage"] or 1.0)
            if order.get("ft_is_entry") and index > 0:
                table.loc["partial_exits", ["adds", "add_stake"]] += (1, stake)
            elif not order.get("ft_is_entry") and index < len(filled) - 1:
                table.loc["partial_exits", ["partial_fills", "partial_stake"]] += (1, stake)
                table.loc["partial_exits", "partial_profit_abs"] += profits[index]
    decisions = pd.DataFrame(
        document.get("decisions", []),
        columns=["capability", "kind", "reason", "stake_not_deployed", "pair", "candle"],
    )
    for capability, group in decisions.groupby("capability"):
        if capability not in table.index:
            continue
        kept_out = group["stake_not_deployed"]
        table.loc[capability, "refused"] = int((group["kind"] == "refused").sum())
        table.loc[capability, "cut"] = int(((group["kind"] != "refused") & (kept_out > 0)).sum())
        table.loc[capability, "raised"] = int((kept_out < 0).sum())
        table.loc[capability, "stake_not_deployed"] = float(kept_out.sum())
    reasons = (
        decisions.assign(reason=decisions["reason"].map(reason_key))
        .groupby(["capability", "kind", "reason"], as_index=False)
        .agg(count=("pair", "size"), stake_not_deployed=("stake_not_deployed", "sum"))
        .sort_values(["capability", "count"], ascending=[True, False], ignore_index=True)
    )
    counts = [c for c in ("exits", "partial_fills", "adds", "refused", "cut", "raised")]
    table[counts] = table[counts].astype(int)
    currency = loaded.stats.get(name, {}).get("stake_currency", "")
    return CapabilityEffects(name, table, reasons, known, currency, len(decisions))


def exit_profits(trade: pd.Series, filled: list[dict[str, Any]]) -> dict[int, float]:
    """
    Each exit fill's profit in stake currency, after fees, as Freqtrade books it
    (``Trade.recalc_trade_from_orders``): the exit's amount against the average entry price of
    the position at that moment. Funding fees and margin interest are not included.
    :param filled: the trade's filled orders (exported ``orders``), in fill order
    :return: index in ``filled`` -> profit, for exit fills
    """
    short = bool(trade["is_short"])
    fee_open, fee_close = float(trade["fee_open"] or 0.0), float(trade["fee_close"] or 0.0)
    amount = stake = average = 0.0
    profits = {}
    for index, order in enumerate(filled):
        size, price = float(order["amount"]), float(order["safe_price"])
        if order.get("ft_is_entry"):
            amount, stake = amount + size, stake + size * price
            average = stake / amount
            continue
        opened, closed = size * average, size * price
        if short:
            profits[index] = opened * (1 - fee_open) - closed * (1 + fee_close)
        else:
            profits[index] = closed * (1 - fee_close) - opened * (1 + fee_open)
        amount, stake = amount - size, stake - size * average
    return profits
