"""
``freqtrade-posmgmt``: Freqtrade's own command line, runnable with no network. One module per
subcommand, each a parser (``add_parser``) and a function of the parsed arguments returning the
exit status (``run``); :data:`SUBCOMMANDS` lists them:

- ``offline [--markets PATH] <freqtrade subcommand> [args...]`` (:mod:`.offline`, its checks
  in :mod:`.offline_checks`);
- ``hyperopt --storage URL --study-name NAME [args...]``, also after ``offline``: Freqtrade's
  hyperopt on one Optuna study shared by many hosts (:mod:`.hyperopt`,
  :mod:`.distributed_hyperopt`);
- ``demo``: the example strategy with and without position management (:mod:`.demo`);
- ``analyze [options] [RESULT]``: the MFE/MAE report (:mod:`.analyze`);
- ``attribution``: what each capability contributed (:mod:`.attribution`);
- ``plot``: price charts of what position management did (:mod:`.plot`);
- ``replay``: Freqtrade's bot loop over recorded candles, compared with the backtest
  (:mod:`.replay`);
- ``lab``: exit variants by the thousand, equal to Freqtrade's backtester (:mod:`.lab`).

The options that run a strategy on the shipped data are spelled once (:mod:`.arguments`). The
work itself lives in the packages the subcommands are named after (``report/``,
``attribution/``, ``plot/``, ``replay/``, ``lab/``); only the command line lives here.

Freqtrade, the report and Optuna are imported by the function that uses them: ``--help`` and
``--version`` import none of them, and a plain ``pip install`` (no ``hyperopt`` extra, so no
Optuna) runs every subcommand but the shared-study hyperopt. Freqtrade may be imported anywhere
in this package (the policies may not: tests/unit/test_framework_free.py).
"""

import argparse
import logging
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from freqtrade_posmgmt import __version__
from freqtrade_posmgmt.cli import analyze, attribution, demo, hyperopt, lab, offline, plot, replay
from freqtrade_posmgmt.cli.errors import CommandError

# name: (parser builder, runner). One more subcommand is one more entry.
SUBCOMMANDS: dict[
    str,
    tuple[
        Callable[[argparse._SubParsersAction], argparse.ArgumentParser],
        Callable[[argparse.Namespace], int],
    ],
] = {
    "offline": (offline.add_parser, offline.run),
    "hyperopt": (hyperopt.add_parser, hyperopt.run),
    "demo": (demo.add_parser, demo.run),
    "analyze": (analyze.add_parser, analyze.run),
    "attribution": (attribution.add_parser, attribution.run),
    "plot": (plot.add_parser, plot.run),
    "replay": (replay.add_parser, replay.run),
    "lab": (lab.add_parser, lab.run),
}
# Subcommands whose arguments are parsed by the code they run (Freqtrade's hyperopt, the
# report): argparse would refuse the options it does not know.
RAW_ARGUMENTS = {"hyperopt", "analyze"}


def _version() -> str:
    try:
        freqtrade = version("freqtrade")
    except PackageNotFoundError:
        freqtrade = "not installed"
    return f"%(prog)s {__version__} (freqtrade {freqtrade})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freqtrade-posmgmt", description="Freqtrade position management, offline."
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True)
    for add, run in SUBCOMMANDS.values():
        add(commands).set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in RAW_ARGUMENTS:
        args = argparse.Namespace(arguments=argv[1:], run=SUBCOMMANDS[argv[0]][1])
    else:
        args = build_parser().parse_args(argv)
    try:
        status = args.run(args)
    except CommandError as e:
        logging.shutdown()
        print(f"freqtrade-posmgmt: error: {e}", file=sys.stderr)
        status = 2
    sys.exit(status)
