"""
The command line is one package: every subcommand's parser and runner live in
``freqtrade_posmgmt.cli``, and no other module of the package parses arguments.
"""

from pathlib import Path

import freqtrade_posmgmt
from freqtrade_posmgmt.cli import SUBCOMMANDS

PACKAGE = Path(freqtrade_posmgmt.__file__).parent


def test_every_subcommand_is_a_module_of_the_cli_package():
    for name, (add_parser, run) in SUBCOMMANDS.items():
        for function in (add_parser, run):
            assert function.__module__ == f"freqtrade_posmgmt.cli.{name}", (name, function)


def test_only_the_cli_package_builds_parsers():
    parsing = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "cli"
        and (
            "add_argument(" in (text := path.read_text(encoding="utf-8"))
            or "ArgumentParser(" in text
        )
    )
    assert parsing == []
