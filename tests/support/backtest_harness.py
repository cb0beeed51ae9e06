"""
Run real Freqtrade backtests in-process, offline, on the shipped data.

Every run happens in a fresh temporary user_data folder: the repo's config is copied and merged
with the run's overrides, candle files are linked (read-only), and the strategy class is loaded by
Freqtrade's own resolver through a one-line subclass written there. Nothing is written into the
repo and Freqtrade's engine is not mocked.
"""

import contextlib
import copy
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.configuration import Configuration
from freqtrade.enums import RunMode
from freqtrade.optimize.backtesting import Backtesting
from freqtrade.optimize.optimize_reports import generate_backtest_stats, store_backtest_results
from freqtrade.persistence import LocalTrade
from freqtrade.resolvers import StrategyResolver
from freqtrade.strategy import IStrategy

from freqtrade_posmgmt.cli.offline import load_markets, use_static_markets

REPO = Path(__file__).resolve().parents[2]
USER_DATA = REPO / "user_data"
SPOT_DATA = USER_DATA / "data" / "binance"
MARKETS = load_markets(USER_DATA / "markets" / "binance_spot.json")


@dataclass
class BacktestResult:
    trades: list[LocalTrade]
    """Closed and open trades, in open-date order, each with its ``orders``."""
    results: pd.DataFrame
    """Freqtrade's per-trade results frame."""
    stats: dict[str, Any]
    """Freqtrade's statistics for the strategy (as in the exported result)."""
    config: dict[str, Any]


def deep_merge(base: dict, overrides: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def swap_markets(spot: dict[str, dict]) -> dict[str, dict]:
    """Linear USDT perpetuals with the spot markets' precision, limits and fees."""
    swaps = {}
    for market in spot.values():
        symbol = f"{market['symbol']}:{market['quote']}"
        swaps[symbol] = {
            **copy.deepcopy(market),
            "symbol": symbol,
            "type": "swap",
            "spot": False,
            "swap": True,
            "contract": True,
            "linear": True,
            "inverse": False,
            "settle": market["quote"],
            "settleId": market["quoteId"],
            "contractSize": 1.0,
            "margin": False,
        }
        swaps[symbol]["limits"]["leverage"] = {"min": 1, "max": 125}
    return swaps


def derive_futures_data(pairs: list[str], timeframes: list[str], datadir: Path) -> None:
    """
    Futures candles derived from SPOT candles (the shipped data has no futures data): futures and
    mark candles equal the spot candles, and the funding rate is zero, so funding fees are zero.
    """
    futures_dir = datadir / "futures"
    futures_dir.mkdir(parents=True, exist_ok=True)
    for pair in pairs:
        stem = pair.split(":")[0].replace("/", "_")
        for timeframe in timeframes:
            spot = pd.read_feather(SPOT_DATA / f"{stem}-{timeframe}.feather")
            name = f"{stem}_USDT-{timeframe}"
            spot.to_feather(futures_dir / f"{name}-futures.feather")
            if timeframe == "1h":
                spot.to_feather(futures_dir / f"{name}-mark.feather")
                funding = spot[["date"]].copy()
                funding[["open", "high", "low", "close", "volume"]] = 0.0
                funding.to_feather(futures_dir / f"{name}-funding_rate.feather")


def write_strategy_stub(strategy: type, strategies_dir: Path, leverage: float | None) -> str:
    """
    Make ``strategy`` loadable by Freqtrade's resolver, which only takes classes defined in a file
    of its strategy path: a subclass of the same name that adds nothing but the fixed leverage.
    """
    lines = [
        f"from {strategy.__module__} import {strategy.__qualname__} as _Base",
        "",
        "",
        f"class {strategy.__name__}(_Base):",
    ]
    if leverage is None:
        lines.append("    pass")
    else:
        lines += [
            "    def leverage(self, pair, current_time, current_rate, proposed_leverage,",
            "                 max_leverage, entry_tag, side, **kwargs):",
            f"        return {float(leverage)!r}",
        ]
    (strategies_dir / f"{strategy.__name__.lower()}_stub.py").write_text("\n".join(lines) + "\n")
    return strategy.__name__


def load_strategy(strategy: type, directory: Path, overrides: dict | None = None) -> IStrategy:
    """Load ``strategy`` the way Freqtrade does, with the repo's config.json plus ``overrides``."""
    config = json.loads((USER_DATA / "config.json").read_text()) | (overrides or {})
    config["strategy"] = write_strategy_stub(strategy, directory, None)
    config["strategy_path"] = str(directory)
    config["user_data_dir"] = directory
    return StrategyResolver.load_strategy(config)


@contextlib.contextmanager
def backtesting_for(
    strategy: type,
    *,
    pairs: list[str] | None = None,
    timerange: str | None = None,
    timeframe_detail: str | None = None,
    trading_mode: str = "spot",
    leverage: float | None = None,
    config: dict[str, Any] | None = None,
) -> Iterator[Backtesting]:
    """
    Freqtrade's ``Backtesting`` for ``strategy`` on the shipped data, in a temporary user_data.
    The arguments are :func:`run_backtest`'s.
    """
    base = json.loads((USER_DATA / "config.json").read_text())
    pairs = pairs or base["exchange"]["pair_whitelist"]
    markets = dict(MARKETS)
    overrides: dict[str, Any] = {"trading_mode": trading_mode}
    if trading_mode == "futures":
        markets.update(swap_markets(MARKETS))
        pairs = [p if ":" in p else f"{p}:{p.split('/')[1]}" for p in pairs]
        overrides["margin_mode"] = "isolated"
    overrides["exchange"] = {"pair_whitelist": pairs}
    run_config = deep_merge(deep_merge(base, overrides), config or {})

    with tempfile.TemporaryDirectory(prefix="posmgmt-bt-") as tmp:
        userdir = Path(tmp) / "user_data"
        datadir = userdir / "data" / "binance"
        datadir.mkdir(parents=True)
        for candles in SPOT_DATA.glob("*.feather"):
            (datadir / candles.name).symlink_to(candles)
        if trading_mode == "futures":
            timeframes = [run_config["timeframe"]] + (
                [timeframe_detail] if timeframe_detail else []
            )
            derive_futures_data(pairs, timeframes, datadir)
        strategies = userdir / "strategies"
        strategies.mkdir()
        config_file = userdir / "config.json"
        config_file.write_text(json.dumps(run_config))
        args = {
            "config": [str(config_file)],
            "user_data_dir": str(userdir),
            "datadir": str(datadir),
            "strategy": write_strategy_stub(strategy, strategies, leverage),
            "strategy_path": str(strategies),
            "export": "none",
            "timerange": timerange,
            "timeframe_detail": timeframe_detail,
            "cache": "none",
        }
        ft_config = Configuration(
            {k: v for k, v in args.items() if v is not None}, RunMode.BACKTEST
        ).get_config()
        use_static_markets(markets)
        backtesting = Backtesting(ft_config)
        try:
            yield backtesting
        finally:
            backtesting.exchange.close()
            Backtesting.cleanup()


def run_backtest(
    strategy: type,
    *,
    pairs: list[str] | None = None,
    timerange: str | None = None,
    timeframe_detail: str | None = None,
    trading_mode: str = "spot",
    leverage: float | None = None,
    config: dict[str, Any] | None = None,
) -> BacktestResult:
    """
    Backtest ``strategy`` (a class importable by its module path) on the shipped data.
    :param pairs: spot pairs (``BTC/USDT``); in futures mode they become ``BTC/USDT:USDT``
    :param timerange: Freqtrade timerange, e.g. ``"20250101-20250301"``; default the whole span
    :param timeframe_detail: e.g. ``"5m"`` (shipped for BTC/USDT and ETH/USDT)
    :param trading_mode: ``"spot"`` or ``"futures"`` (isolated margin, derived futures candles)
    :param leverage: fixed leverage for every trade (futures)
    :param config: further overrides merged into the repo's config.json
    """
    with backtesting_for(
        strategy,
        pairs=pairs,
        timerange=timerange,
        timeframe_detail=timeframe_detail,
        trading_mode=trading_mode,
        leverage=leverage,
        config=config,
    ) as backtesting:
        data, bt_timerange = backtesting.load_bt_data()
        strategy_obj = backtesting.strategylist[0]
        min_date, max_date = backtesting.backtest_one_strategy(strategy_obj, data, bt_timerange)
        name = strategy_obj.get_strategy_name()
        stats = generate_backtest_stats(
            data, backtesting.all_bt_content, min_date=min_date, max_date=max_date
        )
        trades = sorted(LocalTrade.bt_trades + LocalTrade.bt_trades_open, key=lambda t: t.open_date)
        return BacktestResult(
            trades=trades,
            results=backtesting.all_bt_content[name]["results"],
            stats=stats["strategy"][name],
            config=backtesting.config,
        )


def data_span(pair: str, timeframe: str = "1h") -> tuple[Any, Any]:
    """First and last candle open time of a shipped spot candle file."""
    dates = pd.read_feather(SPOT_DATA / f"{pair.replace('/', '_')}-{timeframe}.feather")["date"]
    return dates.iloc[0].to_pydatetime(), dates.iloc[-1].to_pydatetime()


def copy_user_data(destination: Path) -> Path:
    """
    A writable copy of what the repo ships in user_data (config, strategies, markets; data
    linked), without what Freqtrade runs wrote there (results, logs, plots, ...).
    """
    target = destination / "user_data"
    target.mkdir(parents=True)
    shutil.copy2(USER_DATA / "config.json", target)
    for shipped in ("strategies", "markets"):
        shutil.copytree(
            USER_DATA / shipped, target / shipped, ignore=shutil.ignore_patterns("__pycache__")
        )
    (target / "data").mkdir()
    (target / "data" / "binance").symlink_to(SPOT_DATA, target_is_directory=True)
    return target


def export(result, directory: Path, stamp: str = "2025-06-01_00-00-00", trades=None) -> Path:
    """Store a harness result the way ``freqtrade backtesting --export trades`` does."""
    directory.mkdir(exist_ok=True)
    stats = dict(result.stats)
    if trades is not None:
        stats["trades"] = trades
    name = stats["strategy_name"]
    metadata = {
        "run_id": stamp,
        "backtest_start_time": 0,
        "timeframe": result.config["timeframe"],
        "timeframe_detail": None,
        "backtest_start_ts": stats["backtest_start_ts"],
        "backtest_end_ts": stats["backtest_end_ts"],
    }
    return store_backtest_results(
        {"exportdirectory": directory, "original_config": result.config["original_config"]},
        {"strategy": {name: stats}, "strategy_comparison": [], "metadata": {name: metadata}},
        stamp,
    )
