"""``freqtrade-posmgmt offline``: Freqtrade's own commands with no network, and clear bad input."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from freqtrade_posmgmt.attribution import attribution_path
from tests.support.backtest_harness import REPO, copy_user_data
from tests.support.helpers import CLI, run_cli

# Whole-module: every test starts the command line in a fresh process that imports Freqtrade
# (seconds each), so make test-fast leaves them out.
pytestmark = pytest.mark.slow


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    copy_user_data(tmp_path)
    return tmp_path


def write_config(workdir: Path, name: str, change) -> str:
    config = json.loads((workdir / "user_data" / "config.json").read_text())
    change(config)
    (workdir / name).write_text(json.dumps(config))
    return name


def assert_one_line_error(proc: subprocess.CompletedProcess, *names: str) -> None:
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("freqtrade-posmgmt: error: ")
    for name in names:
        assert name in lines[0]


def test_offline_backtesting_prints_freqtrade_report(workdir):
    proc = run_cli(
        "offline", "backtesting", "-c", "user_data/config.json", "--userdir", "user_data",
        "--strategy", "ExampleStrategy", "--timerange", "20250101-20250201",
        "--export", "trades", cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "STRATEGY SUMMARY" in proc.stdout
    assert "ExampleStrategy" in proc.stdout
    assert list((workdir / "user_data" / "backtest_results").glob("*.zip"))


def test_demo_backtests_and_analyses_the_shipped_data(workdir):
    proc = run_cli("demo", cwd=workdir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Freqtrade's own reports and log go to a file; the comparison and the effects are printed.
    assert "STRATEGY SUMMARY" not in proc.stdout and " - INFO - " not in proc.stdout + proc.stderr
    output = workdir / "user_data" / "backtest_results" / "demo-freqtrade-output.txt"
    assert "STRATEGY SUMMARY" in output.read_text()
    assert "Strategies side by side (baseline: ExampleStrategy)" in proc.stdout
    assert "What position management did in ExampleManagedStrategy" in proc.stdout
    for capability in ("time_exits", "correlation", "dynamic_risk", "partial_exits"):
        assert capability in proc.stdout
    assert "MFE/MAE analysis of backtest-result-" in proc.stdout
    assert proc.stdout.count("ExampleManagedStrategy") >= 3  # its backtest, summary, analysis
    assert "partial" in proc.stdout.lower()
    (html,) = (workdir / "user_data" / "backtest_results").glob("*_mfe_mae.html")
    assert "plotly" in html.read_text()
    # What each capability contributed comes second in the story, its JSON beside the result:
    # mostly dynamic risk.
    contributed = proc.stdout.index("What each capability contributed")
    assert proc.stdout.index("Strategies side by side") < contributed
    assert contributed < proc.stdout.index("What position management did")
    (result,) = (workdir / "user_data" / "backtest_results").glob("backtest-result-*.zip")
    capabilities = json.loads(attribution_path(result).read_text())["capabilities"]
    assert max(capabilities, key=lambda c: c["delta_profit_abs"])["name"] == "dynamic_risk"


def test_analyze_without_a_result_says_so_in_one_line(workdir):
    proc = run_cli("analyze", "nothing-here.zip", "--userdir", "user_data", cwd=workdir)
    assert proc.returncode == 2
    assert "nothing-here.zip" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_offline_hyperopt_runs_twenty_epochs_on_two_workers(workdir):
    proc = run_cli(
        "offline", "hyperopt", "-c", "user_data/config.json", "--userdir", "user_data",
        "--strategy", "ExampleStrategy", "--hyperopt-loss", "SharpeHyperOptLossDaily",
        "--spaces", "buy", "-e", "20", "-j", "2", "--timerange", "20250101-20250201",
        "-p", "BTC/USDT", "ETH/USDT", "SOL/USDT", cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    (results,) = (workdir / "user_data" / "hyperopt_results").glob("*.fthypt")
    epochs = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(epochs) == 20
    assert len({json.dumps(e["params_dict"], sort_keys=True) for e in epochs}) > 1
    assert any(epoch["results_metrics"]["total_trades"] > 0 for epoch in epochs)
    assert "Best result" in proc.stdout


@pytest.mark.parametrize(
    ("subcommand", "extra", "evidence"),
    [
        ("recursive-analysis", ["-p", "BTC/USDT", "--timerange", "20250101-20250301"],
         "Recursive Analysis"),
        ("lookahead-analysis", ["--timerange", "20250101-20250701",
         "--minimum-trade-amount", "10", "--targeted-trade-amount", "20"], "has_bias"),
    ],
)  # fmt: skip
def test_analysis_and_plot_commands_run_offline(workdir, subcommand, extra, evidence):
    proc = run_cli(
        "offline", subcommand, "-c", "user_data/config.json", "--userdir", "user_data",
        "--strategy", "ExampleStrategy", *extra, cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert evidence in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_plot_dataframe_runs_offline(workdir):
    proc = run_cli(
        "offline", "plot-dataframe", "-c", "user_data/config.json", "--userdir", "user_data",
        "--strategy", "ExampleStrategy", "-p", "BTC/USDT", "--timerange", "20250101-20250201",
        "--no-trades", cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    plot = workdir / "user_data" / "plot" / "freqtrade-plot-BTC_USDT-1h.html"
    html = plot.read_text()
    assert '"name":"Price"' in html and '"name":"enter_long"' in html


def test_missing_markets_file(workdir):
    proc = run_cli(
        "offline", "--markets", "nowhere.json", "backtesting", "-c", "user_data/config.json",
        cwd=workdir,
    )  # fmt: skip
    assert_one_line_error(proc, "nowhere.json", "--markets")


def test_pair_missing_from_the_snapshot(workdir):
    config = write_config(
        workdir, "extra_pair.json", lambda c: c["exchange"]["pair_whitelist"].append("FOO/USDT")
    )
    proc = run_cli("offline", "backtesting", "-c", config, "--userdir", "user_data", cwd=workdir)
    assert_one_line_error(proc, "FOO/USDT", "pair_whitelist")


def test_pair_without_candles(workdir):
    datadir = workdir / "partial_data"
    datadir.mkdir()
    for candles in (REPO / "user_data" / "data" / "binance").glob("*-1h.feather"):
        if not candles.name.startswith("SOL_"):
            (datadir / candles.name).symlink_to(candles)
    proc = run_cli(
        "offline", "backtesting", "-c", "user_data/config.json", "--userdir", "user_data",
        "--datadir", str(datadir), cwd=workdir,
    )  # fmt: skip
    assert_one_line_error(proc, "SOL/USDT", "SOL_USDT-1h.feather")


def truncated(config: dict) -> str:
    return json.dumps(config)[:40]


def schema_violation(config: dict) -> str:
    return json.dumps({**config, "max_open_trades": "five"})


@pytest.mark.parametrize("broken_text", [truncated, schema_violation])
def test_malformed_config(workdir, broken_text):
    config = json.loads((workdir / "user_data" / "config.json").read_text())
    (workdir / "broken.json").write_text(broken_text(config))
    proc = run_cli("offline", "backtesting", "-c", "broken.json", cwd=workdir)
    assert_one_line_error(proc, "broken.json")


@pytest.mark.parametrize("subcommand", [[], ["offline"], ["demo"], ["analyze"]])
def test_every_subcommand_has_help(tmp_path, subcommand):
    proc = run_cli(*subcommand, "--help", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith("usage: freqtrade-posmgmt")
    if subcommand in (["offline"], ["demo"]):
        # argparse wraps the help text: compare it without line breaks.
        assert "--markets PATH ccxt markets snapshot" in " ".join(proc.stdout.split())
    if subcommand == ["analyze"]:
        for option in ("--userdir", "--html", "--json", "--config", "--datadir"):
            assert option in proc.stdout


def test_analyze_takes_its_options_before_the_result(workdir):
    proc = run_cli(
        "offline", "backtesting", "-c", "user_data/config.json", "--userdir", "user_data",
        "--strategy", "ExampleStrategy", "--timerange", "20250101-20250301", "-p", "BTC/USDT",
        "ETH/USDT", "--export", "trades", cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    (result,) = (workdir / "user_data" / "backtest_results").glob("*.zip")
    proc = run_cli(
        "analyze", "--userdir", "user_data", "-c", "user_data/config.json", "--html", "x.html",
        "--json", "x.json", str(result), cwd=workdir,
    )  # fmt: skip
    assert (proc.returncode, proc.stderr) == (0, "")
    assert f"MFE/MAE analysis of {result.name}" in proc.stdout
    assert (workdir / "x.html").is_file() and (workdir / "x.json").is_file()


def test_mistyped_subcommand_from_another_folder_says_so(workdir):
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    proc = run_cli("offline", "backtestin", "-c", "../user_data/config.json", cwd=elsewhere)
    assert proc.returncode == 2
    assert "invalid choice: 'backtestin'" in proc.stderr
    assert "markets file" not in proc.stderr


def test_offline_from_another_folder_uses_the_userdir_markets(workdir):
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    proc = run_cli(
        "offline", "backtesting", "-c", "../user_data/config.json", "--userdir", "../user_data",
        "--strategy", "ExampleStrategy", "--timerange", "20250101-20250201", "-p", "BTC/USDT",
        cwd=elsewhere,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "STRATEGY SUMMARY" in proc.stdout


INFORMATIVE_STRATEGY = """
from example_strategy import ExampleStrategy


class InformativeFutures(ExampleStrategy):
    # As TrendRider does: a futures pair in spot mode, whose empty frame the strategy handles.
    def informative_pairs(self):
        return [("BTC/USDT:USDT", "1h")]

    def populate_indicators(self, dataframe, metadata):
        dataframe = super().populate_indicators(dataframe, metadata)
        btc = self.dp.get_pair_dataframe("BTC/USDT:USDT", "1h")
        dataframe["btc_close"] = float("nan") if btc.empty else btc["close"].iloc[-1]
        return dataframe
"""


def test_an_informative_pair_without_candles_is_one_warning_and_the_backtest_runs(workdir):
    strategy = workdir / "user_data" / "strategies" / "informative_futures.py"
    strategy.write_text(INFORMATIVE_STRATEGY)
    # Freqtrade keeps its log quiet under pytest (PYTEST_CURRENT_TEST): run it as a user would.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    proc = subprocess.run(
        [str(CLI), "offline", "backtesting", "-c", "user_data/config.json",
         "--userdir", "user_data", "--strategy", "InformativeFutures",
         "--timerange", "20250101-20250201", "-p", "ETH/USDT", "SOL/USDT"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "STRATEGY SUMMARY" in proc.stdout
    output = (proc.stdout + proc.stderr).splitlines()
    assert [line for line in output if "BTC/USDT:USDT" in line and "WARNING" in line] == []
    warning = (
        "freqtrade-posmgmt: warning: strategy InformativeFutures asks for BTC/USDT:USDT 1h "
        "(spot) as an informative pair, but user_data/data/binance has no "
        "BTC_USDT_USDT-1h.feather: the strategy gets an empty frame for it; download the "
        "candles with `freqtrade download-data -c user_data/config.json --userdir user_data "
        "--pairs BTC/USDT:USDT --timeframes 1h`"
    )
    assert [line for line in output if "BTC/USDT:USDT" in line and "warning" in line] == [warning]


def test_pair_from_the_command_line_without_candles(workdir):
    datadir = workdir / "partial_data"
    datadir.mkdir()
    (datadir / "BTC_USDT-1h.feather").symlink_to(
        REPO / "user_data" / "data" / "binance" / "BTC_USDT-1h.feather"
    )
    proc = run_cli(
        "offline", "backtesting", "-c", "user_data/config.json", "--userdir", "user_data",
        "--datadir", str(datadir), "-p", "BTC/USDT", "SOL/USDT", cwd=workdir,
    )  # fmt: skip
    assert_one_line_error(proc, "SOL_USDT-1h.feather", "remove SOL/USDT from -p/--pairs")
    assert "pair_whitelist" not in proc.stderr
