"""
The options every subcommand that runs a strategy on the shipped data shares, spelled once and
named as Freqtrade names them (``-c/--config``, ``-s/--strategy``, ``--timerange``,
``--userdir/--user-data-dir``), plus ``--markets``, the static markets snapshot that replaces
the exchange when offline. Each subcommand adds its own options after these.
"""

import argparse
from pathlib import Path

from freqtrade_posmgmt.cli.offline import MARKETS_HELP


def add_strategy_run_arguments(
    parser: argparse.ArgumentParser,
    *,
    config_required: bool = True,
    timerange_required: bool = False,
    strategy_help: str = "strategy class name",
) -> None:
    """
    Add ``-c``, ``-s``, ``--timerange``, ``--userdir`` and ``--markets`` to ``parser``.
    Parsed as ``config`` (a list of paths), ``strategy``, ``timerange``, ``user_data_dir`` and
    ``markets``.
    :param config_required: False where the user data directory's config.json is the default
    :param timerange_required: True where the whole span would be a mistake (e.g. the replay)
    :param strategy_help: what ``-s`` names for this subcommand
    """
    parser.add_argument(
        "-c",
        "--config",
        action="append",
        type=Path,
        required=config_required,
        metavar="PATH",
        help="Freqtrade config file (repeatable, as for freqtrade)"
        + ("" if config_required else "; default: <userdir>/config.json"),
    )
    parser.add_argument("-s", "--strategy", required=True, metavar="NAME", help=strategy_help)
    parser.add_argument(
        "--timerange",
        required=timerange_required,
        metavar="START-END",
        help="Freqtrade timerange, e.g. 20250101-20250301",
    )
    parser.add_argument(
        "--userdir",
        "--user-data-dir",
        dest="user_data_dir",
        type=Path,
        metavar="DIR",
        help="Freqtrade user data directory (default: user_data)",
    )
    parser.add_argument("--markets", type=Path, metavar="PATH", help=MARKETS_HELP)
