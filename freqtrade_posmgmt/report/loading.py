"""
Locate and load what the report reads: Freqtrade's configuration, the backtest result and the
candles it ran on, located the way Freqtrade locates them (``--userdir``, ``-c/--config``,
``--datadir``). Every problem, also in writing the report's files (:func:`write_text`), is a
:class:`ReportError` worded for one line.
"""

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.configuration import Configuration
from freqtrade.data.btanalysis import (
    get_latest_backtest_filename,
    load_backtest_data,
    load_backtest_stats,
)
from freqtrade.data.history import load_pair_history
from freqtrade.enums import CandleType, RunMode
from freqtrade.exceptions import FreqtradeException

from freqtrade_posmgmt import registry
from freqtrade_posmgmt.excursions import PairCandles

# Where the mixins write their decisions beside the results (``mixins._sidecar.DIRECTORY``;
# not imported, so that the report does not load the mixins).


class ReportError(Exception):
    """Bad input: reported as one line, with a non-zero exit status."""


@dataclass(frozen=True)
class LoadedResult:
    """A backtest result's closed trades, their fills and their candles."""

    result_file: Path
    timeframe: str
    trades: pd.DataFrame
    """Freqtrade's closed trades of every strategy, with a ``strategy`` column."""
    fills: pd.DataFrame
    """One row per filled order (see :func:`freqtrade_posmgmt.excursions.trade_excursions`)."""
    fill_candles: dict[str, PairCandles]
    """The candles the fills sit on (the detail timeframe's, if the backtest used one)."""
    candles: dict[str, PairCandles]
    """The candles of the backtest's timeframe."""
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Freqtrade's statistics per strategy (``profit_total``, ``max_drawdown_account``...)."""
    decisions: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    """Per strategy, what the mixins wrote beside the result (see ``mixins._sidecar``), or
    None when nothing was written for its run (no position management, or not found)."""
    decisions_recorded: bool = True
    """False for a source that holds no decisions at all (a bot's trade database): what the
    mixins refused or resized is unknown, not absent."""


def resolve_config(args: argparse.Namespace) -> dict[str, Any]:
    """
    Freqtrade's configuration for the given options: the config files (default, as Freqtrade:
    ``<userdir>/config.json``, else ``./config.json``), then ``--userdir`` and ``--datadir``.
    """
    files = args.config
    if not files:
        default = (args.user_data_dir or Path("user_data")) / "config.json"
        files = [path for path in (default, Path("config.json")) if path.is_file()][:1]
    if not files:
        raise ReportError(
            "no config found (user_data/config.json or ./config.json): pass -c CONFIG "
            "so the candle data can be located"
        )
    for path in files:
        if not path.is_file():
            raise ReportError(f"config {path} does not exist")
    options = {
        "config": [str(path) for path in files],
        "user_data_dir": str(args.user_data_dir) if args.user_data_dir else None,
        "datadir": str(args.datadir) if args.datadir else None,
    }
    try:
        return Configuration(
            {key: value for key, value in options.items() if value is not None}, RunMode.OTHER
        ).get_config()
    except (FreqtradeException, ValueError, OSError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReportError(f"config {', '.join(map(str, files))}: {first_line}") from e


def locate_result(result: Path | None, config: dict[str, Any]) -> Path:
    """The result file: as given, the latest in a given directory, or the latest in the
    backtest directory (``<userdir>/backtest_results``)."""
    directory = Path(config["exportdirectory"]) if result is None else result
    if result is not None and not result.exists():
        raise ReportError(f"backtest result {result} does not exist")
    if not directory.is_dir():
        if result is None:
            raise ReportError(f"no backtest results directory {directory}: run a backtest first")
        return result
    try:
        return directory / get_latest_backtest_filename(directory)
    except ValueError as e:
        raise ReportError(
            f"no backtest result in {directory}: run a backtest with --export trades "
            "or pass the result file"
        ) from e


def load_result(result_file: Path, config: dict[str, Any]) -> LoadedResult:
    """Load a backtest result's closed trades and the candles they ran on."""
    strategies, metadata, trades = _load_strategy_trades(result_file)
    trades = trades[~trades["is_open"].astype(bool)].reset_index(drop=True)
    if trades.empty:
        raise ReportError(f"{result_file}: no closed trades; nothing to analyse")
    first = next(iter(strategies.values()))
    timeframe = first["timeframe"]
    # With a detail timeframe the fills sit inside the main candles: use the detail candles.
    fill_timeframe = first.get("timeframe_detail") or timeframe
    trading_mode = first.get("trading_mode", "spot")
    pairs = sorted(trades["pair"].unique())
    fill_candles = load_candles(pairs, fill_timeframe, config, trading_mode)
    check_coverage(fill_candles, trades)
    candles = (
        fill_candles
        if fill_timeframe == timeframe
        else load_candles(pairs, timeframe, config, trading_mode)
    )
    decisions = {
        name: load_decisions(result_file, name, metadata.get(name, {}).get("run_id"))
        for name in strategies
    }
    return LoadedResult(
        result_file,
        timeframe,
        trades,
        trade_fills(trades),
        fill_candles,
        candles,
        dict(strategies),
        decisions,
    )


def load_decisions(result_file: Path, strategy: str, run_id: str | None) -> dict[str, Any] | None:
    """
    The decisions the mixins wrote for ``strategy``'s run ``run_id`` (Freqtrade's, from the
    result's ``.meta.json``) in ``posmgmt/`` beside the result; None if there are none.
    """
    if not run_id:
        return None
    path = result_file.parent / registry.DECISIONS_DIRECTORY / f"{strategy}-{run_id}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ReportError(f"{path}: unreadable position-management decisions ({e})") from e


def _load_strategy_trades(
    result_file: Path,
) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame]:
    try:
        stats = load_backtest_stats(result_file)
        strategies = stats.get("strategy") if isinstance(stats, dict) else None
        if not isinstance(strategies, dict):
            raise ReportError(_not_a_result(result_file, stats))
        metadata = stats.get("metadata") or {}
        frames = []
        for name in strategies:
            trades = load_backtest_data(result_file, strategy=name)
            frames.append(trades.assign(strategy=name))
    except ReportError:
        raise
    except Exception as e:  # a corrupt file can fail anywhere in the loaders
        raise ReportError(
            f"{result_file} is not a readable Freqtrade backtest result ({type(e).__name__}: "
            f"{str(e).strip().splitlines()[0] if str(e).strip() else 'no detail'})"
        ) from e
    trades = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if trades.empty:
        raise ReportError(f"{result_file}: the backtest made no trades; nothing to analyse")
    return strategies, metadata, trades


def _not_a_result(result_file: Path, content: Any) -> str:
    if isinstance(content, dict) and ("exchange" in content or "stake_currency" in content):
        return (
            f"{result_file} is a Freqtrade config, not a backtest result: pass it with -c, "
            "and the result (or nothing, for the latest) as the argument"
        )
    return f"{result_file} is not a Freqtrade backtest result (no per-strategy results in it)"


def trade_fills(trades: pd.DataFrame) -> pd.DataFrame:
    """One row per filled order of each trade (index: the trade's row in ``trades``) (from the exported orders; entry and exit if there are none)."""
    rows = []
    for trade_id, trade in trades.iterrows():
        orders = trade["orders"] if isinstance(trade["orders"], list) else []
        filled = [order for order in orders if order.get("order_filled_timestamp")]
        if not filled:
            filled = [
                {
                    "ft_is_entry": True,
                    "amount": trade["amount"],
                    "safe_price": trade["open_rate"],
                    "order_filled_timestamp": trade["open_timestamp"],
                },
                {
                    "ft_is_entry": False,
                    "amount": trade["amount"],
                    "safe_price": trade["close_rate"],
                    "order_filled_timestamp": trade["close_timestamp"],
                },
            ]
        for order in filled:
            rows.append(
                (
                    trade_id,
                    trade["pair"],
                    bool(trade["is_short"]),
                    order["order_filled_timestamp"],
                    bool(order["ft_is_entry"]),
                    float(order["amount"]),
                    float(order["safe_price"]),
                )
            )
    fills = pd.DataFrame(
        rows, columns=["trade_id", "pair", "is_short", "date", "is_entry", "amount", "price"]
    )
    fills["date"] = pd.to_datetime(fills["date"], unit="ms", utc=True)
    return fills


def partial_exit_tags(trades: pd.DataFrame) -> pd.Series:
    """Tags of each trade's partial exits (exit fills before the last fill)."""

    def tags(orders: Any) -> list[str]:
        if not isinstance(orders, list):
            return []
        filled = [order for order in orders if order.get("order_filled_timestamp")]
        return sorted(
            {
                order.get("ft_order_tag") or "(untagged)"
                for order in filled[:-1]
                if not order.get("ft_is_entry")
            }
        )

    return trades["orders"].map(tags)


def load_candles(
    pairs: list[str], timeframe: str, config: dict[str, Any], trading_mode: str
) -> dict[str, PairCandles]:
    """
    The candles of each pair from the config's data directory.
    :raise ReportError: a pair without candles
    """
    datadir = Path(config["datadir"])
    candle_type = CandleType.get_default(trading_mode)
    found = {}
    for pair in pairs:
        frame = load_pair_history(
            pair,
            timeframe,
            datadir,
            data_format=config.get("dataformat_ohlcv"),
            candle_type=candle_type,
        )
        if frame.empty:
            raise ReportError(
                f"pair {pair} has no {timeframe} {candle_type.value} candles in {datadir}: "
                "pass the --datadir the backtest used"
            )
        found[pair] = PairCandles(frame)
    return found


def check_coverage(candles: dict[str, PairCandles], trades: pd.DataFrame) -> None:
    """:raise ReportError: a pair's candles do not span all its trades"""
    for pair, span in trades.groupby("pair")[["open_date", "close_date"]]:
        dates = candles[pair].dates
        first, last = span["open_date"].min(), span["close_date"].max()
        if first.value < dates[0] or last.value > dates[-1]:
            raise ReportError(
                f"pair {pair}: candles cover {pd.Timestamp(dates[0], tz='UTC')} .. "
                f"{pd.Timestamp(dates[-1], tz='UTC')} but its trades run {first} .. {last}"
            )


def check_writable(path: Path) -> None:
    """Fail before any work when one of the report's files cannot be written where asked."""
    if not path.parent.is_dir():
        raise ReportError(f"cannot write {path}: no folder {path.parent}")
    if path.is_dir():
        raise ReportError(f"cannot write {path}: it is a folder")


def write_text(path: Path, text: str) -> None:
    """Write one of the report's files."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise ReportError(f"cannot write {path}: {e.strerror or e}") from e
