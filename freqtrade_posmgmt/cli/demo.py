"""
``freqtrade-posmgmt demo``: backtest the example strategy with and without position management
on the shipped data, then analyse both.
"""

import argparse
import contextlib
import sys
from pathlib import Path

from freqtrade_posmgmt.cli.offline import MARKETS_HELP, run_offline

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


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
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


def run(args: argparse.Namespace) -> int:
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
    from freqtrade_posmgmt.cli import analyze, attribution
    from freqtrade_posmgmt.mixins import _sidecar

    _sidecar.flush()  # the report reads the decisions in this same process
    # The attribution first: the report finds its JSON beside the result and tells it second.
    status = attribution.demo(args.markets, None if args.freqtrade_report else DEMO_OUTPUT)
    return status or analyze.main(DEMO_REPORT_ARGS)
