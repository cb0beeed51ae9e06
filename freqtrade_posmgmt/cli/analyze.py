"""``freqtrade-posmgmt analyze [options] [RESULT]``: the report, imported when run."""

import argparse


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    # Listed here; its arguments, --help included, are the report's own parser's.
    analyze = commands.add_parser(
        "analyze", help="MFE/MAE analysis of a backtest result or a trade database", add_help=False
    )
    analyze.add_argument("arguments", nargs=argparse.REMAINDER)
    return analyze


def run(args: argparse.Namespace) -> int:
    from freqtrade_posmgmt import report

    return report.main(args.arguments)
