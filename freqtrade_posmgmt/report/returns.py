"""Where the profit came from: per pair and per month, per strategy (Freqtrade's trade profit)."""

from dataclasses import dataclass

import pandas as pd

from freqtrade_posmgmt.report.loading import LoadedResult


@dataclass(frozen=True)
class Returns:
    """Profit per pair and per month of close, each strategy side by side."""

    by_pair: pd.DataFrame
    """Index ``pair``; columns ``(strategy, trades | profit_abs | won)``, ``won`` the share of
    trades with a profit after fees. Pairs by total profit, best first."""
    monthly: pd.DataFrame
    """Index ``month`` (first day, UTC); columns: one per strategy, profit in stake currency."""
    stake_currency: str


def returns(loaded: LoadedResult) -> Returns:
    trades = loaded.trades
    by_pair = (
        trades.assign(won=trades["profit_abs"] > 0)
        .groupby(["pair", "strategy"])
        .agg(trades=("profit_abs", "size"), profit_abs=("profit_abs", "sum"), won=("won", "mean"))
        .unstack("strategy")
        .swaplevel(axis=1)
        .sort_index(axis=1, level=0, sort_remaining=False)
    )
    order = by_pair.xs("profit_abs", axis=1, level=1).sum(axis=1).sort_values(ascending=False)
    by_pair = by_pair.loc[order.index]
    # tz-aware to_period drops the zone with a warning: drop it first, the months are UTC.
    month = trades["close_date"].dt.tz_convert(None).dt.to_period("M").dt.to_timestamp()
    monthly = (
        trades.assign(month=month)
        .pivot_table(index="month", columns="strategy", values="profit_abs", aggfunc="sum")
        .fillna(0.0)
    )
    # Every month of the span, also those without a closed trade.
    months = pd.date_range(monthly.index.min(), monthly.index.max(), freq="MS")
    monthly = monthly.reindex(months, fill_value=0.0).rename_axis("month")
    # The result's order (the backtest's --strategy-list), as Freqtrade's own tables have it.
    order = [name for name in loaded.stats if name in monthly.columns] or list(monthly.columns)
    monthly = monthly[order]
    by_pair = by_pair[[name for name in order if name in by_pair.columns.get_level_values(0)]]
    currency = next(iter(loaded.stats.values()), {}).get("stake_currency", "")
    return Returns(by_pair, monthly, currency)
