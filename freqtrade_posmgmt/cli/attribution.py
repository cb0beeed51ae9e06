"""
``freqtrade-posmgmt attribution -c CONFIG -s STRATEGY``: what each capability contributed.

Offline, as ``freqtrade-posmgmt offline backtesting`` runs: the markets snapshot instead of the
exchange, the same one-line checks of pairs and candles. Freqtrade and rich are imported by the
functions that use them, so that ``freqtrade-posmgmt --help`` stays fast.
"""

import argparse
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from freqtrade_posmgmt.attribution import attribution_path
from freqtrade_posmgmt.cli.arguments import add_strategy_run_arguments

if TYPE_CHECKING:
    from rich.console import Console

PROG = "freqtrade-posmgmt attribution"
DESCRIPTION = (
    "What each position-management capability contributed: Freqtrade's backtest of the strategy "
    "with every capability on, then with each one off in turn (posmgmt.<section>: null), side "
    "by side; a capability's contribution is all on minus that one off."
)
RUN_LABELS = {"all_on": "all on", "baseline": "the plain strategy"}
DEMO_CONFIG = "user_data/config.json"
DEMO_USERDIR = "user_data"
DEMO_STRATEGY = "ExampleManagedStrategy"
DEMO_BASELINE = "ExampleStrategy"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """The ``attribution`` subcommand's parser."""
    parser = subparsers.add_parser(
        "attribution", help="what each capability contributed", description=DESCRIPTION
    )
    add_strategy_run_arguments(parser, strategy_help="the managed strategy")
    parser.add_argument(
        "--baseline",
        metavar="NAME",
        help="the plain strategy, backtested beside it (e.g. the one the mixins were put on)",
    )
    parser.add_argument(
        "--export", type=Path, metavar="PATH.json", help="write the attribution as JSON"
    )
    return parser


def freqtrade_args(args: argparse.Namespace) -> list[str]:
    """The ``freqtrade backtesting`` command line these options stand for."""
    command = ["backtesting"]
    for config in args.config:
        command += ["--config", str(config)]
    command += ["--strategy-list", args.strategy] + ([args.baseline] if args.baseline else [])
    if args.timerange:
        command += ["--timerange", args.timerange]
    if args.user_data_dir:
        command += ["--userdir", str(args.user_data_dir)]
    return command + ["--export", "none", "--cache", "none"]


def attribute_offline(
    args: argparse.Namespace, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """
    Check the offline inputs, then run the attribution's backtests.
    :param progress: told each run's name as it finishes
    :raise OfflineError: a bad markets snapshot, a pair or candles missing
    :raise AttributionError, FreqtradeException: Freqtrade's or the attribution's error
    """
    from freqtrade.commands import Arguments
    from freqtrade.commands.optimize_commands import setup_optimize_configuration
    from freqtrade.enums import RunMode

    from freqtrade_posmgmt.attribution import runs
    from freqtrade_posmgmt.cli.offline import load_markets, use_static_markets
    from freqtrade_posmgmt.cli.offline_checks import (
        check_offline_inputs,
        default_markets,
        load_config,
    )

    parsed = Arguments(freqtrade_args(args)).get_parsed_arg()
    checked = load_config(parsed)
    markets = load_markets(args.markets or default_markets(parsed, checked))
    check_offline_inputs("backtesting", parsed, checked, markets)
    use_static_markets(markets)
    # Freqtrade's own log of each run (config, strategy settings) would bury the table; the
    # checks above reset logging.disable, so it goes here. compute() restores it.
    logging.disable(logging.INFO)
    config = setup_optimize_configuration(parsed, RunMode.BACKTEST)
    return runs.attribute(config, args.strategy, args.baseline, progress)


def write_json(attribution: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(attribution, indent=1) + "\n", encoding="utf-8")


def compute(args: argparse.Namespace, console: "Console") -> dict[str, Any] | None:
    """
    The attribution, with its progress on ``console``; None after printing a one-line error.
    """
    from freqtrade.exceptions import FreqtradeException

    from freqtrade_posmgmt.attribution.runs import AttributionError

    started = time.perf_counter()
    done: list[str] = []
    try:
        with console.status("Backtesting with every capability on") as status:

            def progress(name: str) -> None:
                done.append(RUN_LABELS.get(name, f"{name} off"))
                status.update(f"Backtested: {', '.join(done)}")

            attribution = attribute_offline(args, progress)
    except (AttributionError, FreqtradeException) as e:
        first_line = (str(e).strip() or type(e).__name__).splitlines()[0]
        console.print(f"{PROG}: error: {first_line}", style="red", markup=False, soft_wrap=True)
        return None
    finally:
        from freqtrade_posmgmt.mixins import _decisions

        # The runs' end-of-backtest summaries would come after the table, which says more.
        _decisions.log_summaries()
        logging.disable(logging.NOTSET)
    console.print(
        f"{len(done)} backtests of Freqtrade in {time.perf_counter() - started:.1f} s, "
        "candles loaded once"
    )
    return attribution


def show(attribution: dict[str, Any], export: Path | None, console: "Console") -> None:
    """Print the attribution table; write its JSON to ``export`` if given."""
    from freqtrade_posmgmt.attribution.table import print_attribution

    print_attribution(attribution, console)
    if export:
        write_json(attribution, export)
        console.print(f"Attribution written to {export}")


def run(args: argparse.Namespace) -> int:
    """Print the attribution table (and write its JSON); 2 with one line on an error."""
    from rich.console import Console

    console = Console()
    attribution = compute(args, console)
    if attribution is None:
        return 2
    show(attribution, args.export, console)
    return 0


def demo(markets: Path | None, log: Path | None) -> int:
    """
    ``make demo``'s attribution: the example strategy's capabilities on the demo's data, written
    as JSON beside the demo's result for the report to show (:func:`~freqtrade_posmgmt.attribution.attribution_path`).
    :param markets: the markets snapshot, None for the shipped one
    :param log: where Freqtrade's log goes (appended), None for the terminal
    """
    from freqtrade.data.btanalysis import get_latest_backtest_filename
    from rich.console import Console

    results = Path(DEMO_USERDIR) / "backtest_results"
    args = argparse.Namespace(
        config=[DEMO_CONFIG],
        strategy=DEMO_STRATEGY,
        baseline=DEMO_BASELINE,
        timerange=None,
        user_data_dir=DEMO_USERDIR,
        markets=markets,
    )
    console = Console(file=sys.stdout)  # the terminal, also while the log is redirected
    with contextlib.ExitStack() as redirected:
        if log is not None:
            out = redirected.enter_context(log.open("a", encoding="utf-8"))
            redirected.enter_context(contextlib.redirect_stdout(out))
            redirected.enter_context(contextlib.redirect_stderr(out))
        attribution = compute(args, console)
    if attribution is None:
        return 2
    # The report shows it, in its place in the story: written here, not printed.
    write_json(attribution, attribution_path(results / get_latest_backtest_filename(results)))
    return 0
