"""
``freqtrade-posmgmt analyze``: what position management did in a Freqtrade backtest result.

Reads an exported backtest result (the latest in the backtest directory by default), or a bot's
trade database (``--db-url``: dry-run, live or replay, with the MFE/MAE recorded live beside the
candle-measured one), and the candles it was run on, and tells the story first: the strategies side by side with their equity
and drawdown, what each capability contributed (``--attribution``, the lab's) and did, per-pair
and monthly returns; then the MFE/MAE excursions and the stops and targets they suggest.
``--json`` and ``--html`` write the same, in the same order, for other tools and for the eye.

Layers: :mod:`.loading` (config, result, candles) -> :mod:`.analysis` (one :class:`Analysis`,
an ordered list of sections, computed once) -> renderers that only read it: :mod:`.text`
(terminal), :mod:`.json_report`, :mod:`.html`.

Unit: ratios of the entry price (of the peak stake for trades with scale-ins or partial exits),
side-aware, before fees and without leverage; see :mod:`freqtrade_posmgmt.excursions`.
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from freqtrade_posmgmt.report.analysis import Analysis, analyse
from freqtrade_posmgmt.report.attribution import Attribution, find_attribution, load_attribution
from freqtrade_posmgmt.report.html import write_html
from freqtrade_posmgmt.report.json_report import write_json
from freqtrade_posmgmt.report.loading import (
    ReportError,
    check_writable,
    load_result,
    locate_result,
    resolve_config,
)
from freqtrade_posmgmt.report.text import print_report

PROG = "freqtrade-posmgmt analyze"


def run(args: argparse.Namespace) -> int:
    """
    Run the report for parsed arguments (:func:`freqtrade_posmgmt.cli.analyze.add_arguments`).
    :return: Exit status: 0, or 2 after printing one line on bad input.
    """
    # Piped output gets Freqtrade-report width instead of rich's 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 160)
    # Freqtrade's loaders log at INFO; the report is the output here.
    logging.disable(logging.INFO)
    try:
        if args.db_url and args.result is not None:
            raise ReportError("pass a backtest result or --db-url, not both")
        config = resolve_config(args)
        result_file = (
            database_file(args.db_url) if args.db_url else locate_result(args.result, config)
        )
        html = None
        if args.html is not None:
            html = Path(args.html) if args.html else default_html_path(result_file)
        # Before the analysis: a mistyped output folder must not cost a printed report.
        for output in (args.json, html):
            if output is not None:
                check_writable(output)
        if args.attribution:
            attribution = load_attribution(args.attribution)
        else:
            # The lab writes its attribution beside a backtest result, never a database.
            attribution = None if args.db_url else find_attribution(result_file)
        analysis = (
            analyse_database(args.db_url, config, attribution)
            if args.db_url
            else analyse_result(result_file, config, attribution)
        )
        print_report(analysis, console)
        if args.json:
            write_json(analysis, args.json)
            console.print(f"Excursions and summary written to {args.json}")
        if html is not None:
            write_html(analysis, html)
            console.print(f"HTML report written to {html}")
    except ReportError as e:
        console.file.flush()
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    finally:
        logging.disable(logging.NOTSET)
    return 0


def database_file(db_url: str) -> Path:
    """The file of a SQLite trade database (the report's files are written next to it)."""
    if not db_url.startswith("sqlite:///"):
        raise ReportError(f"--db-url {db_url}: only SQLite databases (sqlite:///PATH) are read")
    path = Path(db_url.removeprefix("sqlite:///"))
    if not path.is_file():
        raise ReportError(f"trade database {path} does not exist")
    return path


def default_html_path(result_file: Path) -> Path:
    return result_file.with_name(f"{result_file.stem}_mfe_mae.html")


def analyse_result(
    result_file: Path, config: dict[str, Any], attribution: Attribution | None = None
) -> Analysis:
    """Load a backtest result and its candles and compute everything the report shows."""
    return analyse(load_result(result_file, config), attribution)


def analyse_database(
    db_url: str, config: dict[str, Any], attribution: Attribution | None = None
) -> Analysis:
    """Load a trade database's closed trades and their candles and compute the report."""
    # Imported here: reading a database loads Freqtrade's persistence layer.
    from freqtrade_posmgmt.replay.database import load_database_result

    return analyse(load_database_result(db_url, config), attribution)
