"""
``freqtrade-posmgmt plot``: the options of ``freqtrade plot-dataframe`` (``-c``, ``-s``,
``-p``, ``--timerange``, ``--userdir``, ``--db-url``), one HTML page per pair in
``<userdir>/plot``.

By default the strategy's backtest is re-run offline (the markets snapshot of the user data
directory) with a recorder on Freqtrade's stop adjustment, so the stop drawn is the one
Freqtrade held on every candle. With ``--db-url`` the trades come from a trade database (a
dry-run, live or replay bot's), which keeps each trade's first and last stop and its stop orders.
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from freqtrade_posmgmt.cli.arguments import add_strategy_run_arguments

PROG = "freqtrade-posmgmt plot"
DESCRIPTION = (
    "Price charts of what position management did: per pair, candles, entries and exits, the "
    "stop over time coloured by the rule that set it, ladder targets and fills, adds, time-exit "
    "deadlines, and the entries refused or cut with their reason on hover."
)


class PlotError(Exception):
    """Bad input, reported in one line."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """The ``plot`` subcommand's parser (options named as ``freqtrade plot-dataframe``'s)."""
    plot = subparsers.add_parser("plot", help="price charts of what position management did",
                                 description=DESCRIPTION)  # fmt: skip
    add_strategy_run_arguments(plot, config_required=False)
    plot.add_argument("--strategy-path", type=Path, metavar="PATH",
                      help="additional strategy lookup path")  # fmt: skip
    plot.add_argument("-p", "--pairs", nargs="+", metavar="PAIR",
                      help="pairs to plot (default: the config's whitelist)")  # fmt: skip
    plot.add_argument("-d", "--datadir", "--data-dir", dest="datadir", type=Path,
                      metavar="PATH", help="candle data directory (default: the config's)")  # fmt: skip
    plot.add_argument("--db-url", metavar="URL",
                      help="draw the strategy's trades of a trade database (dry-run, live or "
                      "replay; e.g. sqlite:///tradesv3.dryrun.sqlite) instead of re-running its "
                      "backtest")  # fmt: skip
    plot.add_argument("-o", "--output", type=Path, metavar="DIR",
                      help="where the pages go (default: <userdir>/plot)")  # fmt: skip
    return plot


def backtest_config(args: argparse.Namespace) -> dict[str, Any]:
    """Freqtrade's backtest configuration for the options, nothing exported."""
    from freqtrade.configuration import Configuration
    from freqtrade.enums import RunMode
    from freqtrade.exceptions import FreqtradeException

    files = args.config or [(args.user_data_dir or Path("user_data")) / "config.json"]
    for path in files:
        if not Path(path).is_file():
            raise PlotError(f"config {path} does not exist: pass -c CONFIG")
    options = {
        "config": [str(path) for path in files],
        "user_data_dir": str(args.user_data_dir) if args.user_data_dir else None,
        "datadir": str(args.datadir) if args.datadir else None,
        "strategy": args.strategy,
        "strategy_path": str(args.strategy_path) if args.strategy_path else None,
        "pairs": args.pairs,
        "timerange": args.timerange,
        "export": "none",
        "cache": "none",
    }
    try:
        return Configuration(
            {key: value for key, value in options.items() if value is not None}, RunMode.BACKTEST
        ).get_config()
    except (FreqtradeException, ValueError, OSError) as e:
        raise PlotError(str(e).strip().splitlines()[0] if str(e).strip() else repr(e)) from e


def collect(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """The configuration and the recorded backtest (trades, stops, decisions, policies)."""
    from freqtrade.exceptions import FreqtradeException

    from freqtrade_posmgmt.cli.offline import OfflineError, load_markets, use_static_markets
    from freqtrade_posmgmt.cli.offline_checks import default_markets
    from freqtrade_posmgmt.plot.recorder import from_database, run_backtest

    config = backtest_config(args)
    if args.db_url:
        try:
            return config, from_database(args.db_url, args.strategy)
        except Exception as e:  # SQLAlchemy's errors for a wrong URL or file, in one line
            raise PlotError(f"trade database {args.db_url}: {str(e).splitlines()[0]}") from e
    try:
        use_static_markets(load_markets(args.markets or default_markets({}, config)))
    except OfflineError as e:
        raise PlotError(str(e)) from e
    try:
        return config, run_backtest(config)
    except FreqtradeException as e:
        raise PlotError(str(e).strip().splitlines()[0]) from e


def write_pages(config: dict[str, Any], recording: Any, output: Path) -> list[Path]:
    """One page per pair of the backtest, in ``output``."""
    from freqtrade.configuration import TimeRange
    from freqtrade.data.history import load_pair_history
    from freqtrade.enums import CandleType

    from freqtrade_posmgmt.plot.page import build_figure, page

    output.mkdir(parents=True, exist_ok=True)
    timeframe = config["timeframe"]
    strategy = config["strategy"]
    written = []
    for pair in config["exchange"]["pair_whitelist"]:
        candles = load_pair_history(
            pair, timeframe, Path(config["datadir"]), timerange=TimeRange.parse_timerange(config.get("timerange")),
            data_format=config.get("dataformat_ohlcv"),
            candle_type=CandleType.get_default(config.get("trading_mode", "spot")),
        )  # fmt: skip
        if candles.empty:
            continue
        figure = build_figure(pair, candles, recording, timeframe)
        path = output / f"posmgmt-{strategy}-{pair.replace('/', '_').replace(':', '_')}.html"
        path.write_text(page(pair, strategy, timeframe, figure), encoding="utf-8")
        written.append(path)
    return written


def run(args: argparse.Namespace) -> int:
    """
    Re-run the backtest with the recorder and write one page per pair.
    :return: 0, or 2 after one line on bad input
    """
    logging.disable(logging.INFO)  # Freqtrade's backtest log; the pages are the output
    try:
        config, recording = collect(args)
        output = args.output or Path(config["user_data_dir"]) / "plot"
        written = write_pages(config, recording, output)
    except (PlotError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    finally:
        logging.disable(logging.NOTSET)
    for path in written:
        print(f"{path}")
    return 0
