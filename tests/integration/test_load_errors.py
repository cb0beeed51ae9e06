"""
Through Freqtrade's own command line: bad position-management input stops the strategy at load in
one line, a hyperopt space that cannot act stops hyperopt, and the policy in force is logged.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.backtest_harness import copy_user_data

# Whole-module: every test starts the command line in a fresh process that imports Freqtrade
# (seconds each), so make test-fast leaves them out.
pytestmark = pytest.mark.slow

CLI = Path(sys.executable).parent / "freqtrade-posmgmt"
BACKTEST = ["offline", "backtesting", "-c", "user_data/config.json", "--userdir", "user_data",
            "--timerange", "20250101-20250115", "-p", "BTC/USDT"]  # fmt: skip
HYPEROPT = ["offline", "hyperopt", "-c", "user_data/config.json", "--userdir", "user_data",
            "--hyperopt-loss", "SharpeHyperOptLossDaily", "-e", "2", "--timerange",
            "20250101-20250201", "-p", "BTC/USDT"]  # fmt: skip
BAD_ATTRIBUTE = """
from example_strategy import ExampleStrategy

from freqtrade_posmgmt import PositionManagementMixin
from freqtrade_posmgmt.partial_manager import PartialExitPolicy


class BadLadder(PositionManagementMixin, ExampleStrategy):
    partial_exit_policy = PartialExitPolicy(
        exit_targets=[0.06, 0.03], exit_sizes=[0.3, 0.3], breakeven_after_first_exit=True
    )
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    copy_user_data(tmp_path)
    return tmp_path


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # Freqtrade keeps its log quiet under pytest (PYTEST_CURRENT_TEST): run it as a user would.
    # Its log handler wraps lines at the terminal's width, 80 columns without a terminal.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")} | {"COLUMNS": "500"}
    return subprocess.run(
        [str(CLI), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip


def the_one_error(proc: subprocess.CompletedProcess) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" not in output and "Fatal exception" not in output
    errors = [line for line in output.splitlines() if "ERROR" in line]
    assert len(errors) == 1, (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    return errors[0]


def test_a_bad_policy_class_attribute_fails_in_one_line_naming_it(workdir):
    (workdir / "user_data" / "strategies" / "bad_ladder.py").write_text(BAD_ATTRIBUTE)
    proc = run_cli(*BACKTEST, "--strategy", "BadLadder", cwd=workdir)
    error = the_one_error(proc)
    assert error.endswith(
        "BadLadder.partial_exit_policy: exit_targets=[0.06, 0.03]: must be strictly ascending"
    )


def test_a_mistyped_posmgmt_section_fails_at_load_naming_the_known_ones(workdir):
    config = json.loads((workdir / "user_data" / "config.json").read_text())
    config["posmgmt"] = {"trailing_stops": {"activation_threshold": 0.02}}
    (workdir / "typo.json").write_text(json.dumps(config))
    args = [*BACKTEST, "--strategy", "ExampleManagedStrategy"]
    args[args.index("user_data/config.json")] = "typo.json"
    error = the_one_error(run_cli(*args, cwd=workdir))
    assert "posmgmt.trailing_stops: unknown section; known sections: " in error
    known = error.split("known sections: ")[1].split(", ")
    assert {"trailing_stop", "partial_exits", "time_exits", "correlation", "dynamic_risk"} <= set(
        known
    )


def test_hyperopt_of_a_space_that_cannot_act_stops_saying_what_to_change(workdir):
    # The example strategy sets its trailing policy as a class attribute.
    proc = run_cli(*HYPEROPT, "--strategy", "ExampleManagedStrategy", "--spaces", "pm_trailing",
                   cwd=workdir)  # fmt: skip
    error = the_one_error(proc)
    assert "hyperopt space pm_trailing: TrailingStopMixin takes its policy from " in error
    assert "remove the class attribute trailing_stop_policy to tune them" in error
    assert not list((workdir / "user_data" / "hyperopt_results").glob("*.fthypt"))


def test_each_capability_logs_the_policy_in_force_once_at_start_up(workdir):
    proc = run_cli(*BACKTEST, "--strategy", "ExampleManagedStrategy", cwd=workdir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = (proc.stdout + proc.stderr).splitlines()
    expected = [
        ("TrailingStopMixin: policy from class attribute trailing_stop_policy: "
         "TrailingStopPolicy(activation_threshold=0.05, "),
        ("PartialExitMixin: policy from class attribute partial_exit_policy: "
         "PartialExitPolicy(exit_targets=(0.03, 0.06), "),
        ("TimeExitMixin: policy from class attribute time_exit_policy: "
         "TimeExitPolicy(max_holding_hours=72, "),
        "MFEMAEMixin: policy from defaults: MFEMAETracker(",
    ]  # fmt: skip
    for start in expected:
        assert len([line for line in lines if "INFO" in line and start in line]) == 1, start
