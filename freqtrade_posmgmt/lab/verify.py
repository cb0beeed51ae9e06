"""
Freqtrade's real backtester on a lab variant, and the trade-by-trade comparison with the lab.
"""

import copy
from typing import Any

from freqtrade.configuration import Configuration
from freqtrade.enums import RunMode
from freqtrade.optimize.backtesting import Backtesting
from freqtrade.persistence import LocalTrade

from freqtrade_posmgmt.lab.variants import export_strategy

# (field, absolute tolerance relative to max(1, |value|)); None: equal.
COMPARED = (
    ("pair", None),
    ("open_timestamp", None),
    ("close_timestamp", None),
    ("is_short", None),
    ("exit_reason", None),
    ("open_rate", 1e-9),
    ("close_rate", 1e-9),
    ("amount", 1e-9),
    ("profit_abs", 1e-8),
    ("profit_ratio", 1e-8),
)


def variant_config(variant: dict[str, Any]) -> dict[str, Any]:
    """The config.json keys that make Freqtrade run ``variant``: what the export writes."""
    config = export_strategy(variant["strategy"])
    config["posmgmt"] = copy.deepcopy(variant["posmgmt"])
    return config


def freqtrade_records(trades: list[LocalTrade]) -> list[dict[str, Any]]:
    """Freqtrade's trades as :func:`freqtrade_posmgmt.lab.runner.trade_records` writes them."""
    records = [
        {
            "pair": trade.pair,
            "open_timestamp": int(trade.open_date_utc.timestamp() * 1000),
            "close_timestamp": int(trade.close_date_utc.timestamp() * 1000),
            "is_short": trade.is_short,
            "open_rate": trade.open_rate,
            "close_rate": trade.close_rate,
            "amount": trade.amount,
            "exit_reason": trade.exit_reason,
            "profit_abs": trade.close_profit_abs,
            "profit_ratio": trade.close_profit,
            "orders": [
                (
                    int(order.order_date_utc.timestamp() * 1000),
                    order.ft_order_side == trade.exit_side,
                    order.safe_amount_after_fee,
                    order.safe_price,
                )
                for order in trade.orders
                if not order.ft_is_open and order.filled
            ],
        }
        for trade in trades
    ]
    records.sort(key=lambda r: (r["open_timestamp"], r["pair"]))
    return records


def differences(lab: list[dict], freqtrade: list[dict], limit: int = 3) -> list[str]:
    """Trade-by-trade differences beyond issue 20's tolerances (empty when equal)."""
    found = []
    if len(lab) != len(freqtrade):
        found.append(f"{len(lab)} lab trades vs {len(freqtrade)} Freqtrade trades")
    for ours, theirs in zip(lab, freqtrade, strict=False):
        bad = []
        for key, tolerance in COMPARED:
            if tolerance is None:
                if ours[key] != theirs[key]:
                    bad.append(key)
            elif abs(ours[key] - theirs[key]) > tolerance * max(1.0, abs(theirs[key])):
                bad.append(key)
        if (
            "orders" in ours
            and "orders" in theirs
            and not _same_orders(ours["orders"], theirs["orders"])
        ):
            bad.append("orders")
        if bad:
            found.append(f"{', '.join(bad)} differ: lab {ours} vs Freqtrade {theirs}")
        if len(found) >= limit:
            break
    return found


def _same_orders(ours: list[tuple], theirs: list[tuple]) -> bool:
    """Filled orders equal: time and side exactly, amount and rate to 1e-9."""
    if len(ours) != len(theirs):
        return False
    for mine, other in zip(ours, theirs, strict=True):
        if mine[:2] != other[:2]:
            return False
        for value, expected in zip(mine[2:], other[2:], strict=True):
            if abs(value - expected) > 1e-9 * max(1.0, abs(expected)):
                return False
    return True


def run_freqtrade(args: dict[str, Any], variant: dict[str, Any]) -> list[dict[str, Any]]:
    """
    Freqtrade's backtest of ``variant``, in process.
    :param args: Freqtrade's arguments for the lab's run (config files, strategy, timerange...)
    """
    config = Configuration(args, RunMode.BACKTEST).get_config()
    for key, value in variant_config(variant).items():
        config[key] = value
    backtesting = Backtesting(config)
    try:
        data, timerange = backtesting.load_bt_data()
        backtesting.backtest_one_strategy(backtesting.strategylist[0], data, timerange)
        return freqtrade_records(LocalTrade.bt_trades + LocalTrade.bt_trades_open)
    finally:
        backtesting.exchange.close()
        Backtesting.cleanup()
