"""
``freqtrade-posmgmt``: Freqtrade's own command line, runnable with no network.

- ``freqtrade-posmgmt offline [--markets PATH] <freqtrade subcommand> [args...]``
- ``freqtrade-posmgmt demo``: backtest the example strategy with and without position management
  on the shipped data, then analyse both.
- ``freqtrade-posmgmt analyze [RESULT] [--html PATH] [--json PATH]``: the MFE/MAE report.
- ``freqtrade-posmgmt [offline] hyperopt --storage URL --study-name NAME [args...]``: Freqtrade's
  hyperopt on one Optuna study shared by many hosts (see distributed_hyperopt).
"""

import argparse
import logging
import sys
from pathlib import Path

from freqtrade.commands import Arguments
from freqtrade.configuration import Configuration
from freqtrade.configuration.config_validation import validate_config_schema
from freqtrade.enums import CandleType, RunMode
from freqtrade.exceptions import FreqtradeException
from freqtrade.main import main as freqtrade_main

from freqtrade_posmgmt import distributed_hyperopt, report
from freqtrade_posmgmt.offline import (
    DEFAULT_MARKETS,
    OfflineError,
    load_markets,
    use_static_markets,
)

# Subcommands that read candles of the whitelisted pairs, so every pair must have them.
CANDLE_SUBCOMMANDS = {
    "backtesting",
    "hyperopt",
    "lookahead-analysis",
    "recursive-analysis",
}
DEMO_ARGS = [
    "backtesting",
    "--config",
    "user_data/config.json",
    "--userdir",
    "user_data",
    "--strategy-list",
    "ExampleStrategy",
    "ExampleManagedStrategy",
    "--export",
    "trades",
]
# The latest result is the one the demo just wrote; the HTML goes next to it.
DEMO_REPORT_ARGS = ["--userdir", "user_data", "--config", "user_data/config.json", "--html"]


def check_offline_inputs(freqtrade_args: list[str], markets: dict) -> None:
    """
    Fail early, in one line, on inputs Freqtrade would reject with a traceback or a wall of log:
    a malformed config, a whitelisted pair missing from the snapshot, a pair with no candles.
    :param freqtrade_args: the arguments to be passed on to Freqtrade
    :param markets: the markets snapshot in use
    """
    parsed = Arguments(freqtrade_args).get_parsed_arg()
    subcommand = freqtrade_args[0] if freqtrade_args else None
    if "func" not in parsed or "config" not in parsed:
        return
    logging.disable(logging.CRITICAL)  # Freqtrade logs its own copy of any config error.
    try:
        config = Configuration(parsed, RunMode.OTHER).get_config()
        validate_config_schema(config)
    except FreqtradeException as e:
        files = ", ".join(parsed["config"])
        first_line = str(e).strip().splitlines()[0]
        raise OfflineError(f"config {files}: {first_line.rstrip('.')} (fix the config file)") from e
    finally:
        logging.disable(logging.NOTSET)
    pairs = config.get("exchange", {}).get("pair_whitelist", [])
    for pair in pairs:
        if pair not in markets:
            raise OfflineError(
                f"pair {pair} is not in the markets snapshot: remove it from pair_whitelist "
                "or use a snapshot that lists it (--markets PATH)"
            )
    if subcommand not in CANDLE_SUBCOMMANDS:
        return
    timeframes = {config.get("timeframe")} | {config.get("timeframe_detail")}
    candle_type = CandleType.get_default(config.get("trading_mode", "spot"))
    datadir = Path(config["datadir"])
    for pair in pairs:
        for timeframe in timeframes - {None}:
            stem = f"{pair.replace('/', '_').replace(':', '_')}-{timeframe}"
            suffix = "" if candle_type == CandleType.SPOT else f"-{candle_type.value}"
            subdir = "" if candle_type == CandleType.SPOT else "futures"
            if not any((datadir / subdir).glob(f"{stem}{suffix}.*")):
                raise OfflineError(
                    f"pair {pair} has no {timeframe} candles in {datadir / subdir}: "
                    f"add {stem}{suffix}.feather or remove {pair} from pair_whitelist"
                )


def run_offline(markets_path: Path, freqtrade_args: list[str]) -> int:
    """
    Run Freqtrade's command line with the static markets snapshot.
    :return: Freqtrade's exit status
    """
    markets = load_markets(markets_path)
    check_offline_inputs(freqtrade_args, markets)
    use_static_markets(markets)
    try:
        freqtrade_main(freqtrade_args)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else int(e.code is not None)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freqtrade-posmgmt", description="Freqtrade position management, offline."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    offline = commands.add_parser(
        "offline", help="run any freqtrade subcommand with a static markets snapshot"
    )
    offline.add_argument("--markets", type=Path, default=DEFAULT_MARKETS)
    offline.add_argument("freqtrade_args", nargs=argparse.REMAINDER)
    demo = commands.add_parser(
        "demo", help="backtest the example strategy with and without position management"
    )
    demo.add_argument("--markets", type=Path, default=DEFAULT_MARKETS)
    analyze = commands.add_parser(
        "analyze", help="MFE/MAE analysis of a backtest result", add_help=False
    )
    analyze.add_argument("analyze_args", nargs=argparse.REMAINDER)
    hyperopt = commands.add_parser(
        "hyperopt", help="Freqtrade's hyperopt on a shared Optuna study", add_help=False
    )
    hyperopt.add_argument("hyperopt_args", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hyperopt"]:  # All of the rest is Freqtrade's, options included.
        sys.exit(distributed_hyperopt.main(argv[1:]))
    args = build_parser().parse_args(argv)
    if args.command == "analyze":
        sys.exit(report.main(args.analyze_args))
    freqtrade_args = DEMO_ARGS if args.command == "demo" else args.freqtrade_args
    try:
        freqtrade_args = distributed_hyperopt.prepare(freqtrade_args)
        status = run_offline(args.markets, freqtrade_args)
    except (OfflineError, distributed_hyperopt.SharedStudyError) as e:
        logging.shutdown()
        print(f"freqtrade-posmgmt: error: {e}", file=sys.stderr)
        status = 2
    if args.command == "demo" and status == 0:
        status = report.main(DEMO_REPORT_ARGS)
    sys.exit(status)
