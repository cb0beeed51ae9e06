"""
``freqtrade-posmgmt``: Freqtrade's own command line, runnable with no network.

- ``freqtrade-posmgmt offline [--markets PATH] <freqtrade subcommand> [args...]``
- ``freqtrade-posmgmt demo``: backtest the example strategy with and without position management
  on the shipped data, then analyse both.
- ``freqtrade-posmgmt analyze [options] [RESULT]``: the MFE/MAE report.
- ``freqtrade-posmgmt [offline] hyperopt --storage URL --study-name NAME [args...]``: Freqtrade's
  hyperopt on one Optuna study shared by many hosts (see distributed_hyperopt).

Each subcommand is a parser (``add_<name>``) and a function of the parsed arguments that
returns the exit status; :data:`SUBCOMMANDS` lists them.
"""

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from freqtrade.commands import Arguments
from freqtrade.main import main as freqtrade_main

from freqtrade_posmgmt import distributed_hyperopt, report
from freqtrade_posmgmt.lab import command as lab_command
from freqtrade_posmgmt.mixins import _sidecar
from freqtrade_posmgmt.offline import OfflineError, load_markets, use_static_markets
from freqtrade_posmgmt.offline_checks import check_offline_inputs, default_markets, load_config

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
DEMO_OUTPUT = Path("user_data/backtest_results/demo-freqtrade-output.txt")
# The latest result is the one the demo just wrote; the HTML goes next to it.
DEMO_REPORT_ARGS = ["--userdir", "user_data", "--config", "user_data/config.json", "--html"]
MARKETS_HELP = (
    "ccxt markets snapshot (JSON, {symbol: market}) that Freqtrade loads instead of asking the "
    "exchange; default: markets/binance_spot.json in the user data directory (--userdir, else "
    "the config's user_data_dir, else ./user_data)"
)


def _exit_status(exit: SystemExit) -> int:
    return exit.code if isinstance(exit.code, int) else int(exit.code is not None)


def run_offline(markets_path: Path | None, freqtrade_args: list[str]) -> int:
    """
    Run Freqtrade's command line with a static markets snapshot, after checking its inputs.
    :param markets_path: the snapshot; None for the one in the user data directory
    :return: Freqtrade's exit status
    :raise OfflineError: bad input, in one line
    """
    try:
        # Freqtrade's own parser first: a mistyped subcommand or --help is answered by it.
        parsed = Arguments(freqtrade_args).get_parsed_arg()
    except SystemExit as e:
        return _exit_status(e)
    if "func" in parsed:
        # No config (a subcommand that needs none, and none found): Freqtrade runs on defaults.
        config = load_config(parsed) if parsed.get("config") else None
        markets = load_markets(markets_path or default_markets(parsed, config))
        if config is not None:
            check_offline_inputs(freqtrade_args[0], parsed, config, markets)
        use_static_markets(markets)
    try:
        freqtrade_main(freqtrade_args)
    except SystemExit as e:
        return _exit_status(e)
    return 0


def _offline(args: argparse.Namespace) -> int:
    return run_offline(args.markets, distributed_hyperopt.prepare(args.freqtrade_args))


def _demo(args: argparse.Namespace) -> int:
    if args.freqtrade_report:
        status = run_offline(args.markets, DEMO_ARGS)
    else:
        # Freqtrade's log and its two per-strategy reports go to a file: the story is the
        # comparison and what each capability did, which the analysis prints.
        DEMO_OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        with (
            DEMO_OUTPUT.open("w", encoding="utf-8") as out,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(out),
        ):
            status = run_offline(args.markets, DEMO_ARGS)
        if status != 0:
            sys.stderr.write(DEMO_OUTPUT.read_text(encoding="utf-8")[-4000:])
            return status
        print(f"Freqtrade's own backtest output: {DEMO_OUTPUT}")
    _sidecar.flush()  # the report reads the decisions in this same process
    return report.main(DEMO_REPORT_ARGS) if status == 0 else status


def add_offline(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    offline = commands.add_parser(
        "offline",
        help="run any freqtrade subcommand with a static markets snapshot",
        description="Run a freqtrade subcommand with a static markets snapshot (no network).",
    )
    offline.add_argument("--markets", type=Path, metavar="PATH", help=MARKETS_HELP)
    offline.add_argument(
        "freqtrade_args",
        nargs=argparse.REMAINDER,
        metavar="SUBCOMMAND ...",
        help="a freqtrade subcommand and its arguments, e.g. backtesting -c config.json",
    )
    return offline


def add_demo(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    demo = commands.add_parser(
        "demo",
        help="backtest the example strategy with and without position management",
        description="Backtest the example strategy with and without position management on "
        "the shipped data (run from the project folder), then analyse both.",
    )
    demo.add_argument("--markets", type=Path, metavar="PATH", help=MARKETS_HELP)
    demo.add_argument(
        "--freqtrade-report",
        action="store_true",
        help=f"print Freqtrade's log and per-strategy reports too (default: into {DEMO_OUTPUT})",
    )
    return demo


def add_analyze(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    analyze = commands.add_parser(
        "analyze", help="MFE/MAE analysis of a backtest result", description=report.DESCRIPTION
    )
    report.add_arguments(analyze)
    return analyze


# name: (parser builder, runner). One more subcommand is one more entry.
SUBCOMMANDS: dict[
    str,
    tuple[
        Callable[[argparse._SubParsersAction], argparse.ArgumentParser],
        Callable[[argparse.Namespace], int],
    ],
] = {
    "offline": (add_offline, _offline),
    "demo": (add_demo, _demo),
    "analyze": (add_analyze, report.run),
    "lab": (lab_command.add_parser, lab_command.run),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freqtrade-posmgmt", description="Freqtrade position management, offline."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for add, run in SUBCOMMANDS.values():
        add(commands).set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hyperopt"]:  # All of the rest is Freqtrade's, options included.
        sys.exit(distributed_hyperopt.main(argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        status = args.run(args)
    except (OfflineError, distributed_hyperopt.SharedStudyError) as e:
        logging.shutdown()
        print(f"freqtrade-posmgmt: error: {e}", file=sys.stderr)
        status = 2
    sys.exit(status)
