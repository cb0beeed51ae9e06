"""
``freqtrade-posmgmt`` after a plain ``pip install`` (no extras, so no Optuna): every subcommand
answers, ``--help`` included, and the shared-study hyperopt says in one line what to install.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from freqtrade_posmgmt import __version__
from tests.support.backtest_harness import copy_user_data

# The console script's entry point, with Optuna made unimportable first.
WITHOUT_OPTUNA = (
    "import sys; sys.modules['optuna'] = None; from freqtrade_posmgmt.cli import main; main()"
)


def run_without_optuna(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_OPTUNA, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--help"], "hyperopt            freqtrade hyperopt on one Optuna study"),
        (["--version"], f"freqtrade-posmgmt {__version__} (freqtrade 20"),
        (["hyperopt", "--help"], "--storage URL"),
        (["offline", "--help"], "--markets PATH"),
        (["demo", "--help"], "--freqtrade-report"),
        (["analyze", "--help"], "usage: freqtrade-posmgmt analyze"),
    ],
)
def test_help_and_version_answer_without_optuna(tmp_path, args, says):
    proc = run_without_optuna(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert says in proc.stdout


def test_the_shared_study_hyperopt_says_what_to_install_in_one_line(tmp_path):
    proc = run_without_optuna(
        "hyperopt", "--storage", "sqlite:///study.db", "--study-name", "s", cwd=tmp_path
    )
    assert proc.returncode == 2
    error = (
        "freqtrade-posmgmt: error: the shared-study hyperopt needs optuna, which is not "
        "installed: pip install 'freqtrade-posmgmt[distributed]'"
    )
    assert proc.stderr.strip().splitlines() == [error]


def test_offline_backtesting_runs_without_optuna(tmp_path):
    copy_user_data(tmp_path)
    proc = run_without_optuna(
        "offline", "backtesting", "-c", "user_data/config.json", "--userdir", "user_data",
        "--strategy", "ExampleStrategy", "--timerange", "20250101-20250115", "-p", "BTC/USDT",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "STRATEGY SUMMARY" in proc.stdout
