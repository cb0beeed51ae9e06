"""
``freqtrade-posmgmt offline [--markets PATH] <freqtrade subcommand> [args...]``: run Freqtrade
with a static markets snapshot instead of asking the exchange.

Freqtrade has no offline mode: at start-up ``Exchange.reload_markets`` asks the exchange for its
market list. Only that one coroutine is replaced here, so Freqtrade's own validation, precision,
minimum-stake and fee logic all still run on the snapshot's markets.
"""

import argparse
import copy
import json
import logging
import sys
from pathlib import Path
from typing import Any

from freqtrade_posmgmt.cli.errors import CommandError, exit_status
from freqtrade_posmgmt.cli.hyperopt import shared_study

# The shipped snapshot, inside the user data directory (``--userdir`` or the config's
# ``user_data_dir``), so the default does not depend on the working directory.
MARKETS_IN_USERDIR = Path("markets/binance_spot.json")
MARKETS_HELP = (
    "ccxt markets snapshot (JSON, {symbol: market}) that Freqtrade loads instead of asking the "
    "exchange; default: markets/binance_spot.json in the user data directory (--userdir, else "
    "the config's user_data_dir, else ./user_data)"
)


class OfflineError(CommandError):
    """A problem with the offline inputs, worded for one line of output."""


def load_markets(path: Path) -> dict[str, dict[str, Any]]:
    """
    Read a ccxt markets snapshot (``{symbol: market}``) from a JSON file.
    :param path: the snapshot file
    :return: the markets, keyed by symbol
    """
    if not path.is_file():
        raise OfflineError(
            f"markets file {path} not found: pass --markets PATH pointing to a ccxt markets "
            "snapshot (JSON)"
        )
    try:
        markets = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise OfflineError(f"markets file {path} is not valid JSON ({e}): replace it") from e
    if not isinstance(markets, dict) or not all(
        isinstance(m, dict) and m.get("symbol") == symbol for symbol, m in markets.items()
    ):
        raise OfflineError(
            f"markets file {path} is not a ccxt markets snapshot ({{symbol: market}}): replace it"
        )
    return markets


def use_static_markets(markets: dict[str, dict[str, Any]]) -> None:
    """
    Make every Freqtrade exchange in this process load ``markets`` instead of fetching them.
    :param markets: ccxt markets keyed by symbol, as returned by :func:`load_markets`
    """
    from freqtrade.exchange.exchange import Exchange

    async def _api_reload_markets(self: Exchange, reload: bool = False) -> None:
        # ccxt annotates the market dicts it is given; keep the snapshot pristine for reloads.
        self._api_async.set_markets(copy.deepcopy(markets))

    Exchange._api_reload_markets = _api_reload_markets


def run_offline(markets_path: Path | None, freqtrade_args: list[str]) -> int:
    """
    Run Freqtrade's command line with a static markets snapshot, after checking its inputs.
    :param markets_path: the snapshot; None for the one in the user data directory
    :return: Freqtrade's exit status
    :raise OfflineError: bad input, in one line
    """
    from freqtrade.commands import Arguments
    from freqtrade.main import main as freqtrade_main

    from freqtrade_posmgmt.cli.offline_checks import (
        NO_DATA_LOGGERS,
        QuietAbout,
        check_offline_inputs,
        default_markets,
        load_config,
    )

    try:
        # Freqtrade's own parser first: a mistyped subcommand or --help is answered by it.
        parsed = Arguments(freqtrade_args).get_parsed_arg()
    except SystemExit as e:
        return exit_status(e)
    if "func" in parsed:
        # No config (a subcommand that needs none, and none found): Freqtrade runs on defaults.
        config = load_config(parsed) if parsed.get("config") else None
        markets = load_markets(markets_path or default_markets(parsed, config))
        if config is not None:
            missing = check_offline_inputs(freqtrade_args[0], parsed, config, markets)
            for informative in missing:
                print(f"freqtrade-posmgmt: warning: {informative.warning}", file=sys.stderr)
            for name in NO_DATA_LOGGERS:
                logging.getLogger(name).addFilter(QuietAbout(missing))
        use_static_markets(markets)
    try:
        freqtrade_main(freqtrade_args)
    except SystemExit as e:
        return exit_status(e)
    return 0


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
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


def run(args: argparse.Namespace) -> int:
    freqtrade_args = args.freqtrade_args
    shared = any(a.startswith(("--storage", "--study-name")) for a in freqtrade_args)
    if freqtrade_args[:1] == ["hyperopt"] and shared:
        freqtrade_args = shared_study().prepare(freqtrade_args)
    return run_offline(args.markets, freqtrade_args)
