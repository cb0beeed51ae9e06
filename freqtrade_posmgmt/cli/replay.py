"""
``freqtrade-posmgmt replay``: run Freqtrade's real bot in dry-run over recorded candles, killed
and restarted if asked, then compare its trades with Freqtrade's backtest of the same candles.

Exit status: 0 when every trade is identical or differs for a known cause, 1 when a difference
has no known cause, 2 on bad input.
"""

import argparse
import sys
from pathlib import Path

from freqtrade_posmgmt.cli.arguments import add_strategy_run_arguments

DESCRIPTION = (
    "Replay Freqtrade's own bot loop (dry-run, its trade database in Freqtrade's schema) over "
    "recorded candles with no network, optionally killed and restarted, and compare its trades "
    "with Freqtrade's backtest of the same candles."
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "replay",
        help="run the live bot over recorded candles and compare with the backtest",
        description=DESCRIPTION,
    )
    add_strategy_run_arguments(parser, timerange_required=True)
    parser.add_argument(
        "--db-url",
        metavar="sqlite:///PATH",
        help="the bot's trade database (must not exist yet); default "
        "replay-STRATEGY.sqlite in the user data directory",
    )
    parser.add_argument(
        "--ticks-per-candle",
        type=_positive,
        default=4,
        metavar="N",
        help="price polls per candle on the path open, nearer extreme, farther "
        "extreme, close (default 4: each of them once)",
    )
    parser.add_argument(
        "--kill-at",
        type=_kill_points,
        default=[],
        metavar="25%,60%",
        help="kill the bot (SIGKILL) at these points of the timerange and restart "
        "it on its database; the 1st, 3rd... between two loops, the 2nd, 4th... "
        "inside a loop, right after it placed an order",
    )
    parser.add_argument(
        "--export-comparison",
        type=Path,
        metavar="PATH.json",
        help="write the comparison as JSON",
    )
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _kill_points(text: str) -> list[float]:
    points = []
    for part in text.split(","):
        try:
            value = float(part.strip().rstrip("%")) / 100
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not a percentage like 25%") from None
        if not 0 < value < 1:
            raise argparse.ArgumentTypeError(f"{part!r} is not strictly between 0% and 100%")
        points.append(value)
    return sorted(points)


def run(args: argparse.Namespace) -> int:
    """Replay, compare, show; the exit status as the module says."""
    from freqtrade.configuration import Configuration, TimeRange
    from freqtrade.enums import RunMode
    from freqtrade.exceptions import FreqtradeException

    from freqtrade_posmgmt.cli.offline import MARKETS_IN_USERDIR, OfflineError, load_markets
    from freqtrade_posmgmt.replay.engine import ReplayError
    from freqtrade_posmgmt.replay.feed import FeedError

    try:
        options = {
            "config": [str(path) for path in args.config],
            "strategy": args.strategy,
            "user_data_dir": str(args.user_data_dir) if args.user_data_dir else None,
        }
        config = Configuration(
            {key: value for key, value in options.items() if value}, RunMode.DRY_RUN
        ).get_config()
        timerange = TimeRange.parse_timerange(args.timerange)
        if not (timerange.startts and timerange.stopts):
            raise ReplayError(f"--timerange {args.timerange}: give both a start and an end")
        markets = load_markets(args.markets or Path(config["user_data_dir"]) / MARKETS_IN_USERDIR)
        db_url = args.db_url or (
            f"sqlite:///{Path(config['user_data_dir']) / f'replay-{args.strategy}.sqlite'}"
        )
        return _replay_and_compare(config, markets, timerange, db_url, args)
    except (ReplayError, FeedError, OfflineError, FreqtradeException) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"freqtrade-posmgmt replay: error: {first_line}", file=sys.stderr)
        return 2


def _replay_and_compare(
    config: dict,
    markets: dict,
    timerange: object,
    db_url: str,
    args: argparse.Namespace,
) -> int:
    from datetime import UTC, datetime

    from freqtrade.exchange import timeframe_to_msecs

    from freqtrade_posmgmt.registry import decisions_log_path
    from freqtrade_posmgmt.replay import comparison
    from freqtrade_posmgmt.replay.backtest import backtest_trades
    from freqtrade_posmgmt.replay.database import database_trades
    from freqtrade_posmgmt.replay.engine import (
        KillPoint,
        ReplayError,
        ReplaySettings,
        run_replay,
        tick_times,
    )

    if db_url.startswith("sqlite:///") and Path(db_url[len("sqlite:///") :]).exists():
        raise ReplayError(
            f"{db_url} exists: a replay starts on a new database; remove it or "
            "pass another --db-url"
        )
    log = decisions_log_path(db_url)
    if log is not None and log.exists():
        raise ReplayError(
            f"{log} exists: a replay starts on a new database and decisions log; remove it or "
            "pass another --db-url"
        )
    start = datetime.fromtimestamp(timerange.startts, UTC)
    end = datetime.fromtimestamp(timerange.stopts, UTC)
    settings = ReplaySettings(config, markets, start, end, args.ticks_per_candle, db_url)
    ticks = len(tick_times(start, end, config["timeframe"], args.ticks_per_candle))
    kills = [
        KillPoint(int(point * ticks), inside=index % 2 == 1)
        for index, point in enumerate(args.kill_at)
    ]
    replayed = run_replay(settings, kills)
    times = tick_times(start, end, config["timeframe"], args.ticks_per_candle)
    result = comparison.compare(
        database_trades(db_url),
        backtest_trades(config, markets, start, end),
        timeframe_ms=timeframe_to_msecs(config["timeframe"]),
        start_ms=int(start.timestamp() * 1000),
        lot_steps=lot_steps(markets),
        restart_ms=[int(times[tick].timestamp() * 1000) for tick in replayed.restarts],
    )
    comparison.show(result)
    print(
        f"trade database: {db_url}; {replayed.ticks} loops, restarts at loops "
        f"{replayed.restarts or 'none'}"
        + (
            f"; kill points passed while waiting for an order: {[k.tick for k in replayed.missed]}"
            if replayed.missed
            else ""
        )
    )

    if args.export_comparison:
        comparison.export(result, args.export_comparison)
    return 1 if result.unexplained else 0


def lot_steps(markets: dict) -> dict[str, float]:
    """Each pair's amount step (ccxt's precision in tick-size mode)."""
    return {
        symbol: float(market.get("precision", {}).get("amount") or 0.0)
        for symbol, market in markets.items()
    }
