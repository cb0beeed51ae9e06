"""
Read a Freqtrade trade database (a replay's, a dry-run's or a live bot's): its trades in the
shape the report reads a backtest result in (``report.loading``), and as Freqtrade serialises
them, with each trade's custom data (where the MFE/MAE recorder keeps what it saw live).
"""

import json
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.data.btanalysis import trade_list_to_dataframe
from freqtrade.data.metrics import calculate_calmar, calculate_max_drawdown
from freqtrade.persistence import Trade, init_db
from freqtrade.util.dry_run_wallet import get_dry_run_wallet

from freqtrade_posmgmt.registry import DECISIONS_VERSION, decisions_log_path
from freqtrade_posmgmt.report import loading


def load_database_trades(db_url: str) -> pd.DataFrame:
    """
    The closed and open trades of the database at ``db_url`` as a frame with the columns
    Freqtrade's ``load_backtest_data`` gives a backtest result (``pair``, ``open_date``,
    ``close_date`` as UTC datetimes, ``open_timestamp``, ``orders`` as lists of dicts, ...),
    plus ``trade_id``, ``strategy`` and ``custom_data`` (each trade's custom data,
    ``{key: value}``), in id order.
    :param db_url: e.g. ``sqlite:///tradesv3.dryrun.sqlite``
    """
    init_db(db_url)
    try:
        trades = sorted(Trade.get_trades([]).all(), key=lambda trade: trade.id)
        frame = trade_list_to_dataframe(trades)
        return frame.assign(
            trade_id=[trade.id for trade in trades],
            strategy=[trade.strategy for trade in trades],
            custom_data=[_custom_data(trade) for trade in trades],
        )
    finally:
        Trade.session.remove()


def _custom_data(trade: Trade) -> dict[str, Any]:
    return {entry.cd_key: entry.value for entry in trade.get_all_custom_data()}


def database_trades(db_url: str) -> list[dict[str, Any]]:
    """The trades at ``db_url`` as Freqtrade serialises them (``Trade.to_json``), in id order,
    each with its ``custom_data`` (``{key: value}``) and its ``stop_orders`` (the stop orders
    placed on the exchange, with their ``stop_price``)."""
    init_db(db_url)
    try:
        return [
            {
                **trade.to_json(),
                "custom_data": _custom_data(trade),
                # to_json leaves out the stop orders on the exchange: they are added here.
                "stop_orders": [
                    {**order.to_json(trade.entry_side), "stop_price": order.stop_price}
                    for order in trade.orders
                    if order.ft_order_side == "stoploss"
                ],
            }
            for trade in sorted(Trade.get_trades([]).all(), key=lambda trade: trade.id)
        ]
    finally:
        Trade.session.remove()


def load_database_result(db_url: str, config: dict[str, Any]) -> loading.LoadedResult:
    """
    A trade database read as ``report.loading.load_result`` reads a backtest result: its closed
    trades (with ``custom_data``, where the live MFE/MAE is), their fills and the candles they ran
    on (``config``'s timeframe, data directory and trading mode), per strategy the statistics
    the report compares strategies by (:func:`database_stats`), and the decisions the bot wrote
    to its decisions log beside the database (:func:`load_decisions_log`; without that log,
    ``decisions_recorded`` is False).
    :raise loading.ReportError: no closed trade, or candles missing for a pair
    """
    trades = load_database_trades(db_url)
    if trades.empty or not (~trades["is_open"].astype(bool)).any():
        raise loading.ReportError(f"{db_url}: no closed trades; nothing to analyse")
    trades = trades[~trades["is_open"].astype(bool)].reset_index(drop=True)
    timeframe = config["timeframe"]
    pairs = sorted(trades["pair"].unique())
    candles = loading.load_candles(pairs, timeframe, config, config.get("trading_mode", "spot"))
    loading.check_coverage(candles, trades)
    strategies = sorted(trades["strategy"].unique())
    log = decisions_log_path(db_url)
    logged = load_decisions_log(log) if log is not None and log.is_file() else None
    return loading.LoadedResult(
        Path(db_url.removeprefix("sqlite:///")),
        timeframe,
        trades,
        loading.trade_fills(trades),
        candles,
        candles,
        {name: database_stats(trades[trades["strategy"] == name], config) for name in strategies},
        decisions={name: logged.get(name) for name in strategies},
        decisions_recorded=logged is not None,
    )


def load_decisions_log(path: Path) -> dict[str, dict[str, Any]]:
    """
    A bot's decisions log read as backtests' decisions files are (``mixins._sidecar``): per
    strategy, which capabilities were on (as last written) and its decisions, each once (a
    bot restarted inside a candle may decide that candle again).
    """
    documents: dict[str, dict[str, Any]] = {}
    seen: set[tuple] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        strategy, capabilities = entry.pop("strategy"), entry.pop("capabilities")
        document = documents.setdefault(
            strategy, {"version": DECISIONS_VERSION, "strategy": strategy, "decisions": []}
        )
        document["capabilities"] = capabilities
        key = (strategy, entry["capability"], entry["kind"], entry["pair"], entry["candle"])
        if key not in seen:
            seen.add(key)
            document["decisions"].append(entry)
    return documents


def database_stats(trades: pd.DataFrame, config: dict[str, Any]) -> dict[str, Any]:
    """
    The statistics of a backtest result the report compares strategies by, computed as
    Freqtrade's backtest report computes them, from one strategy's closed trades of a database.
    The starting balance is the config's dry-run wallet; the span starts at the first entry.
    """
    balance = float(get_dry_run_wallet(config))
    profit = trades["profit_abs"]
    won, lost = profit[profit > 0].sum(), profit[profit < 0].sum()
    start, end = trades["open_date"].min(), trades["close_date"].max()
    return {
        "total_trades": len(trades),
        "profit_total_abs": float(profit.sum()),
        "profit_total": float(profit.sum()) / balance,
        "max_drawdown_account": calculate_max_drawdown(
            trades, starting_balance=balance
        ).relative_account_drawdown,
        "calmar": calculate_calmar(trades, start, end, balance),
        "winrate": float((profit > 0).mean()),
        "profit_factor": float(won / abs(lost)) if lost else 0.0,
        "starting_balance": balance,
        "backtest_start": start.strftime("%Y-%m-%d %H:%M:%S"),
        "stake_currency": config["stake_currency"],
    }
