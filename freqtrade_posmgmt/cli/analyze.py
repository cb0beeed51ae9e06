"""
``freqtrade-posmgmt analyze [options] [RESULT]``: the report (:mod:`freqtrade_posmgmt.report`),
imported when run. The subcommand hands its arguments to the report's own parser here, so that
``analyze --help`` shows the report's options.
"""

import argparse
from pathlib import Path

PROG = "freqtrade-posmgmt analyze"
DESCRIPTION = "MFE/MAE analysis of a Freqtrade backtest result or trade database."


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    # Listed here; its arguments, --help included, are parsed by build_parser.
    analyze = commands.add_parser(
        "analyze", help="MFE/MAE analysis of a backtest result or a trade database", add_help=False
    )
    analyze.add_argument("arguments", nargs=argparse.REMAINDER)
    return analyze


def run(args: argparse.Namespace) -> int:
    return main(args.arguments)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The report's options."""
    parser.add_argument(
        "result",
        nargs="?",
        type=Path,
        help="backtest result (.zip or .json) or a directory of results; "
        "default: the latest in the backtest directory",
    )
    parser.add_argument(
        "--html",
        nargs="?",
        const="",
        type=str,
        metavar="PATH",
        help="write an HTML report (plotly); without PATH, next to the result",
    )
    parser.add_argument(
        "--db-url",
        metavar="URL",
        help="analyse the closed trades of a Freqtrade trade database (dry-run, live or replay) "
        "instead of a backtest result, e.g. sqlite:///tradesv3.dryrun.sqlite",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write excursions and summary")
    parser.add_argument(
        "--attribution",
        type=Path,
        metavar="PATH",
        help="the attribution (JSON of `freqtrade-posmgmt attribution`: each capability switched "
        "off in turn) to show what each capability contributed; default: the one beside the "
        "result, if any",
    )
    parser.add_argument(
        "--userdir",
        "--user-data-dir",
        dest="user_data_dir",
        type=Path,
        metavar="PATH",
        help="Freqtrade's user data directory (default: user_data)",
    )
    parser.add_argument(
        "-c",
        "--config",
        action="append",
        type=Path,
        metavar="PATH",
        help="Freqtrade config file(s) (default: <userdir>/config.json, else ./config.json)",
    )
    parser.add_argument(
        "-d",
        "--datadir",
        "--data-dir",
        dest="datadir",
        type=Path,
        metavar="PATH",
        help="candle data directory (default: the config's)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """
    Run the report.
    :param argv: Arguments after ``analyze``.
    :return: Exit status: 0, or 2 after printing one line on bad input.
    """
    from freqtrade_posmgmt import report

    return report.run(_result_after_html(build_parser().parse_args(argv)))


def _result_after_html(args: argparse.Namespace) -> argparse.Namespace:
    """``--html RESULT`` (the path is optional, so argparse gives it the result): read RESULT
    and write the HTML next to it, rather than overwrite the result with HTML."""
    if args.result is None and args.html and Path(args.html).suffix in (".zip", ".json"):
        return argparse.Namespace(**{**vars(args), "result": Path(args.html), "html": ""})
    return args
