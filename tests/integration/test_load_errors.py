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
from freqtrade.exceptions import OperationalException
from freqtrade.resolvers import StrategyResolver

from tests.support.backtest_harness import USER_DATA, copy_user_data

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

BAD_POLICY = """
from example_strategy import ExampleStrategy

from freqtrade_posmgmt import PositionManagementMixin
from freqtrade_posmgmt.correlation_engine import CorrelationConfig
from freqtrade_posmgmt.dynamic_risk import DynamicRiskConfig


class MyStrategy(PositionManagementMixin, ExampleStrategy):
    {attribute}
"""
# The class attribute -> the one line a strategy load gives (after "MyStrategy.").
BAD_CORRELATION_AND_RISK = {
    "cap 0": (
        "correlation_policy = CorrelationConfig(max_correlated_exposure=0)",
        "correlation_policy: max_correlated_exposure=0: must be > 0 and <= 1",
    ),
    "threshold 1.5": (
        "correlation_policy = CorrelationConfig(correlation_threshold=1.5)",
        "correlation_policy: correlation_threshold=1.5: must be > 0 and <= 1",
    ),
    "window 0": (
        "correlation_policy = CorrelationConfig(correlation_window_days=0)",
        "correlation_policy: correlation_window_days=0: must be > 0",
    ),
    "a string for a number": (
        "correlation_policy = CorrelationConfig(correlation_threshold='0.7')",
        "correlation_policy: correlation_threshold='0.7': must be a finite number",
    ),
    "an unknown keyword": (
        "correlation_policy = CorrelationConfig(max_exposure=0.3)",
        (
            "correlation_policy: max_exposure=0.3: unknown field; known fields: "
            "correlation_window_days, correlation_threshold, max_correlated_exposure, "
            "sample_min_size, basis"
        ),
    ),
    "a fractional window": (
        "correlation_policy = CorrelationConfig(correlation_window_days=0.5)",
        (
            "correlation_policy: correlation_window_days=0.5: holds 12 candles of 3600 s, "
            "fewer than sample_min_size=20"
        ),
    ),
    "unsorted thresholds": (
        (
            "dynamic_risk_policy = DynamicRiskConfig(drawdown_thresholds=[0.1, 0.05], "
            "risk_reduction_factors=[0.8, 0.6])"
        ),
        "dynamic_risk_policy: drawdown_thresholds=[0.1, 0.05]: must be strictly ascending",
    ),
    "length mismatch": (
        "dynamic_risk_policy = DynamicRiskConfig(risk_reduction_factors=[0.8, 0.6])",
        (
            "dynamic_risk_policy: risk_reduction_factors=[0.8, 0.6]: must have as many items "
            "as drawdown_thresholds (3)"
        ),
    ),
    "factor 1.4": (
        "dynamic_risk_policy = DynamicRiskConfig(risk_reduction_factors=[1.4, 0.6, 0.4])",
        "dynamic_risk_policy: risk_reduction_factors=[1.4, 0.6, 0.4]: must each be > 0 and <= 1",
    ),
}


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


@pytest.mark.parametrize("case", BAD_CORRELATION_AND_RISK)
def test_bad_correlation_and_risk_class_attributes_fail_at_load_in_one_line(tmp_path, case):
    attribute, error = BAD_CORRELATION_AND_RISK[case]
    (tmp_path / "my_strategy.py").write_text(BAD_POLICY.format(attribute=attribute))
    config = json.loads((USER_DATA / "config.json").read_text()) | {
        "strategy": "MyStrategy",
        "strategy_path": str(tmp_path),
        "user_data_dir": tmp_path,
    }
    # Freqtrade prints an OperationalException as its message, in one line (freqtrade.main).
    with pytest.raises(OperationalException) as raised:
        StrategyResolver.load_strategy(config)
    assert str(raised.value) == f"MyStrategy.{error}"


def test_a_bad_correlation_class_attribute_stops_freqtrade_in_one_line(workdir):
    attribute, error = BAD_CORRELATION_AND_RISK["cap 0"]
    strategy = BAD_POLICY.format(attribute=attribute)
    (workdir / "user_data" / "strategies" / "my_strategy.py").write_text(strategy)
    proc = run_cli(*BACKTEST, "--strategy", "MyStrategy", cwd=workdir)
    assert the_one_error(proc).endswith(f"MyStrategy.{error}")
