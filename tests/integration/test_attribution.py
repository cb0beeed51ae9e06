"""
``freqtrade-posmgmt attribution``: each capability off in turn, every run equal to a separate
Freqtrade backtest of that config, trade for trade.
"""

import argparse
import json

import pytest
from example_managed_strategy import ExampleManagedStrategy
from freqtrade.commands import Arguments
from freqtrade.commands.optimize_commands import setup_optimize_configuration
from freqtrade.enums import RunMode

from freqtrade_posmgmt.attribution import METRICS, attribution_path
from freqtrade_posmgmt.attribution.runs import AttributionError, backtest_runs, summarise
from freqtrade_posmgmt.cli.attribution import freqtrade_args
from freqtrade_posmgmt.cli.offline import use_static_markets
from tests.support.backtest_harness import (
    MARKETS,
    copy_user_data,
    run_backtest,
    write_strategy_stub,
)
from tests.support.helpers import run_cli

# Seven backtests of three pairs over three months, and a command-line process.
pytestmark = pytest.mark.slow

# Three pairs over three months in which dynamic risk cuts stakes and partial exits fill.
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
TIMERANGE = "20250101-20250401"
# Columns that make a trade: Freqtrade's trade ids count on across runs and are left out.
TRADE_COLUMNS = [
    "pair",
    "open_date",
    "close_date",
    "open_rate",
    "close_rate",
    "amount",
    "stake_amount",
    "profit_abs",
    "profit_ratio",
    "exit_reason",
    "enter_tag",
]
STATS = ("total_trades", "profit_total_abs", "profit_total", "max_drawdown_account", "calmar")


class NoTimeNoCorrelation(ExampleManagedStrategy):
    """The demo's managed strategy with two capabilities off in the strategy itself."""

    time_exit_policy = None
    correlation_policy = None


class PlainOnly(NoTimeNoCorrelation):
    """The whole stack, every capability that acts in backtests off."""

    partial_exit_policy = None
    trailing_stop_policy = None
    dynamic_risk_policy = None


def attribution_args(userdir, strategy: str, baseline: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(
        config=[str(userdir / "config.json")],
        strategy=strategy,
        baseline=baseline,
        timerange=TIMERANGE,
        user_data_dir=str(userdir),
        markets=None,
        export=None,
    )


@pytest.fixture(scope="module")
def userdir(tmp_path_factory):
    """The shipped user data with three pairs, and the test strategies loadable by name."""
    userdir = copy_user_data(tmp_path_factory.mktemp("attribution"))
    config = json.loads((userdir / "config.json").read_text())
    config["exchange"]["pair_whitelist"] = PAIRS
    (userdir / "config.json").write_text(json.dumps(config))
    for strategy in (NoTimeNoCorrelation, PlainOnly):
        write_strategy_stub(strategy, userdir / "strategies", None)
    return userdir


def backtest_config(userdir, strategy: str, baseline: str | None = None) -> dict:
    """Freqtrade's backtest config, as the command builds it."""
    args = attribution_args(userdir, strategy, baseline)
    parsed = Arguments(freqtrade_args(args)).get_parsed_arg()
    use_static_markets(MARKETS)
    return setup_optimize_configuration(parsed, RunMode.BACKTEST)


@pytest.fixture(scope="module")
def runs(userdir):
    config = backtest_config(userdir, "NoTimeNoCorrelation", "ExampleStrategy")
    runs = list(backtest_runs(config, "NoTimeNoCorrelation", "ExampleStrategy"))
    return {run.name: run for run in runs}, config


def trades(results):
    return results[TRADE_COLUMNS].reset_index(drop=True)


def assert_same_backtest(run, independent) -> None:
    assert len(run.results) > 0
    assert trades(run.results).equals(trades(independent.results))
    for got, theirs in zip(run.results["orders"], independent.results["orders"], strict=True):
        assert [(o["amount"], o["safe_price"], o["ft_order_side"]) for o in got] == [
            (o["amount"], o["safe_price"], o["ft_order_side"]) for o in theirs
        ]
    # The run's numbers are Freqtrade's statistics of the same backtest.
    assert [run.metrics[key] for key in METRICS] == [independent.stats[key] for key in STATS]


@pytest.mark.parametrize(
    ("name", "posmgmt"),
    [
        ("dynamic_risk", {"dynamic_risk": {"enabled": False}}),
        ("partial_exits", {"partial_exits": None}),
        ("all_on", {}),
    ],
)
def test_a_capability_off_is_a_separate_backtest_of_that_config_trade_for_trade(
    runs, name, posmgmt
):
    by_name, _ = runs
    independent = run_backtest(
        NoTimeNoCorrelation, pairs=PAIRS, timerange=TIMERANGE, config={"posmgmt": posmgmt}
    )
    assert_same_backtest(by_name[name], independent)


def test_the_baseline_is_a_separate_backtest_of_the_plain_strategy(runs):
    by_name, _ = runs
    from example_strategy import ExampleStrategy

    independent = run_backtest(ExampleStrategy, pairs=PAIRS, timerange=TIMERANGE)
    assert_same_backtest(by_name["baseline"], independent)


def test_contributions_are_all_on_minus_that_one_off(runs):
    by_name, config = runs
    attribution = summarise(list(by_name.values()), config)
    all_on = by_name["all_on"].metrics
    for capability in attribution["capabilities"]:
        off = by_name[capability["name"]].metrics
        assert capability["off"] == off
        assert capability["delta_profit_abs"] == all_on["profit_abs"] - off["profit_abs"]
        assert capability["delta_max_drawdown"] == all_on["max_drawdown"] - off["max_drawdown"]
    # Over this span dynamic risk and partial exits change the trades: the runs differ.
    assert by_name["dynamic_risk"].metrics != all_on
    assert by_name["partial_exits"].metrics != all_on
    assert by_name["dynamic_risk"].capabilities == ("partial_exits", "trailing_stop", "mfe_mae")


def test_only_capabilities_on_that_act_in_backtests_are_run(runs):
    by_name, config = runs
    # time_exits and correlation are off in the strategy; MFE/MAE recording does nothing here.
    assert list(by_name) == ["all_on", "dynamic_risk", "partial_exits", "trailing_stop", "baseline"]
    attribution = summarise(list(by_name.values()), config)
    assert [c["name"] for c in attribution["capabilities"]] == [
        "dynamic_risk",
        "partial_exits",
        "trailing_stop",
    ]
    assert list(attribution["not_run"]) == ["mfe_mae"]


def test_the_json_has_the_report_s_shape(runs):
    by_name, config = runs
    attribution = json.loads(json.dumps(summarise(list(by_name.values()), config)))
    assert set(attribution) == {
        "strategy",
        "timerange",
        "stake_currency",
        "all_on",
        "capabilities",
        "not_run",
        "baseline",
    }
    assert attribution["strategy"] == "NoTimeNoCorrelation"
    assert attribution["timerange"] == TIMERANGE
    assert attribution["stake_currency"] == "USDT"
    assert list(attribution["all_on"]) == list(METRICS)
    assert isinstance(attribution["all_on"]["trades"], int)
    for capability in attribution["capabilities"]:
        assert list(capability) == ["name", "off", "delta_profit_abs", "delta_max_drawdown"]
        assert list(capability["off"]) == list(METRICS)
        assert all(isinstance(v, int | float) for v in capability["off"].values())
    assert attribution["baseline"] == {"strategy": "ExampleStrategy", **by_name["baseline"].metrics}


def test_a_strategy_with_nothing_on_is_refused_in_one_line(userdir):
    config = backtest_config(userdir, "PlainOnly")
    with pytest.raises(AttributionError, match="PlainOnly has no position-management"):
        next(backtest_runs(config, "PlainOnly"))


def test_the_command_prints_the_table_and_writes_the_json(userdir, tmp_path):
    export = tmp_path / "out" / "attribution.json"
    # Freqtrade leaves its logging alone under pytest unless told otherwise.
    config = tmp_path / "logging.json"
    config.write_text(json.dumps({"ft_tests_force_logging": True}))
    proc = run_cli(
        "attribution", "-c", str(userdir / "config.json"), "--userdir", str(userdir),
        "-s", "ExampleStrategy", "--timerange", "20250101-20250115", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    (line,) = proc.stdout.strip().splitlines()
    assert line == (
        "freqtrade-posmgmt attribution: error: strategy ExampleStrategy has no "
        "position-management capability on that acts in backtests: nothing to attribute"
    )
    proc = run_cli(
        "attribution", "-c", str(userdir / "config.json"), "--userdir", str(userdir),
        "-c", str(config), "-s", "ExampleManagedStrategy", "--timerange", "20250101-20250115",
        "--export", str(export), cwd=tmp_path, columns=200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert " - INFO - " not in proc.stdout + proc.stderr
    written = json.loads(export.read_text())
    assert [c["name"] for c in written["capabilities"]] == [
        "time_exits",
        "correlation",
        "dynamic_risk",
        "partial_exits",
        "trailing_stop",
    ]
    assert "baseline" not in written
    assert "What each capability contributed to ExampleManagedStrategy" in proc.stdout
    dynamic_risk = next(line for line in proc.stdout.splitlines() if "│ dynamic_risk" in line)
    assert f"{written['capabilities'][2]['delta_profit_abs']:+,.2f}" in dynamic_risk
    assert "mfe_mae: not run" in proc.stdout
    assert "6 backtests of Freqtrade" in proc.stdout
    proc = run_cli(
        "attribution", "-c", str(userdir / "config.json"), "--userdir", str(userdir),
        "-s", "NoSuchStrategy", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    (line,) = proc.stdout.strip().splitlines()
    assert line.startswith("freqtrade-posmgmt attribution: error: ") and "NoSuchStrategy" in line


def test_the_attribution_sits_beside_its_result_where_freqtrade_does_not_list_it(tmp_path):
    result = tmp_path / "backtest-result-2025-06-01_00-00-00.zip"
    path = attribution_path(result)
    assert path == tmp_path / "posmgmt" / "backtest-result-2025-06-01_00-00-00.attribution.json"
    # Freqtrade takes any backtest-result-*-NN*.json in its results folder for a result.
    assert not path.match("backtest-result-*-[0-9][0-9]*.json") or path.parent != tmp_path
