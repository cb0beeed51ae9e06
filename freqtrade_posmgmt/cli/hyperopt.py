"""
``freqtrade-posmgmt hyperopt --storage URL --study-name NAME [args...]``: Freqtrade's hyperopt on
one Optuna study shared by many hosts (:mod:`.distributed_hyperopt`, imported when run: it
needs Optuna, which a plain ``pip install`` does not bring).
"""

import argparse
from types import ModuleType

from freqtrade_posmgmt.cli.errors import CommandError


def shared_study() -> ModuleType:
    """The shared-study hyperopt, imported only when asked for: it needs Optuna."""
    try:
        from freqtrade_posmgmt.cli import distributed_hyperopt
    except ImportError as e:
        raise CommandError(
            f"the shared-study hyperopt needs {e.name or 'Optuna'}, which is not installed: "
            "pip install 'freqtrade-posmgmt[distributed]'"
        ) from e
    return distributed_hyperopt


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    hyperopt = commands.add_parser(
        "hyperopt",
        help="freqtrade hyperopt on one Optuna study shared by many hosts",
        description="Freqtrade's hyperopt, every worker started with the same --storage and "
        "--study-name asking its trials from and telling its results to one Optuna study. "
        "Needs the [distributed] extra (Optuna and a PostgreSQL driver).",
        epilog="Every other argument is freqtrade hyperopt's own (freqtrade hyperopt --help). "
        "Without network: freqtrade-posmgmt offline hyperopt --storage URL --study-name NAME ...",
    )
    hyperopt.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna RDB storage, e.g. postgresql://user:password@host:5432/db or "
        "sqlite:///study.db",
    )
    hyperopt.add_argument("--study-name", metavar="NAME", help="the study every worker names")
    hyperopt.add_argument(
        "arguments", nargs=argparse.REMAINDER, metavar="...", help="freqtrade hyperopt's arguments"
    )
    return hyperopt


def run(args: argparse.Namespace) -> int:
    """:param args: ``arguments``: everything after ``hyperopt``, Freqtrade's options included."""
    if {"-h", "--help"} & set(args.arguments):
        from freqtrade_posmgmt.cli import build_parser

        build_parser().parse_args(["hyperopt", "--help"])  # prints the help and exits
    return shared_study().main(args.arguments)
