"""
What position management did, end to end: Freqtrade's own ``backtesting`` command (through
``offline``, which patches only the markets) writes the decisions beside its result, and
``analyze --json`` counts every capability's exits, fills and decisions from them and from the
result, each count checked here against Freqtrade's exported trades and the decisions file.
"""

import json
from pathlib import Path

import pandas as pd
import pytest
from freqtrade.data.btanalysis import load_backtest_stats

from freqtrade_posmgmt.report.effects import exit_profits
from tests.support.backtest_harness import copy_user_data
from tests.support.helpers import run_cli

# Whole-module: every test runs long backtests or subprocesses (make test-fast leaves them out).
pytestmark = pytest.mark.slow

MANAGED, PLAIN = "ExampleManagedStrategy", "ExampleStrategy"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict, dict, str]:
    """The backtest directory, Freqtrade's result, the decisions file, the analysis JSON and
    the terminal report at 100 columns."""
    workdir = tmp_path_factory.mktemp("effects")
    userdir = copy_user_data(workdir)
    proc = run_cli(
        "offline", "backtesting", "-c", "user_data/config.json", "--userdir", "user_data",
        "--strategy-list", PLAIN, MANAGED, "--export", "trades",
        "--timerange", "20250101-20250601", cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = userdir / "backtest_results"
    (archive,) = results.glob("backtest-result-*.zip")
    result = load_backtest_stats(archive)
    # Named by Freqtrade's run id, as stored in the result's metadata; none for the plain one.
    (sidecar,) = (results / "posmgmt").glob("*.json")
    assert sidecar.name == f"{MANAGED}-{result['metadata'][MANAGED]['run_id']}.json"
    decisions = json.loads(sidecar.read_text())
    proc = run_cli(
        "analyze", "--userdir", "user_data", "--json", "effects.json", cwd=workdir, columns=100
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    analysis = json.loads((workdir / "effects.json").read_text())
    return results, result, decisions, analysis, proc.stdout


def test_the_strategies_side_by_side_are_freqtrades_numbers(exported):
    _, result, _, analysis, _ = exported
    comparison = analysis["comparison"]
    assert comparison["baseline"] == PLAIN
    for name in (PLAIN, MANAGED):
        stats = result["strategy"][name]
        row = comparison["strategies"][name]
        assert row["trades"] == stats["total_trades"]
        assert row["profit_total_abs"] == pytest.approx(stats["profit_total_abs"])
        assert row["max_drawdown_account"] == pytest.approx(stats["max_drawdown_account"])
    assert comparison["strategies"][MANAGED]["managed"] is True
    assert comparison["strategies"][PLAIN]["managed"] is False


def test_each_capabilitys_exits_and_fills_are_counted_from_the_trades(exported):
    _, result, _, analysis, _ = exported
    trades = result["strategy"][MANAGED]["trades"]
    effects = analysis["position_management"][MANAGED]["capabilities"]
    trailing = [t for t in trades if t["exit_reason"] == "trailing_stop_loss"]
    timed = [t for t in trades if t["exit_reason"].startswith("time_")]
    assert trailing and effects["trailing_stop"]["exits"] == len(trailing)
    assert effects["trailing_stop"]["exit_profit_abs"] == pytest.approx(
        sum(t["profit_abs"] for t in trailing)
    )
    assert effects["time_exits"]["exits"] == len(timed)
    # A partial fill: a filled exit order of ours that is not the trade's last order.
    partial = [
        order
        for t in trades
        for order in [o for o in t["orders"] if o.get("order_filled_timestamp")][:-1]
        if not order["ft_is_entry"] and order["ft_order_tag"].startswith("pm_tp")
    ]
    assert partial and effects["partial_exits"]["partial_fills"] == len(partial)
    assert effects["partial_exits"]["partial_stake"] == pytest.approx(
        sum(o["cost"] for o in partial)
    )


def test_refusals_and_cuts_are_the_decisions_written_beside_the_result(exported):
    _, _, decisions, analysis, _ = exported
    assert all(decisions["capabilities"].values()) and len(decisions["capabilities"]) == 6
    effects = analysis["position_management"][MANAGED]["capabilities"]
    resized = [d for d in decisions["decisions"] if d["capability"] == "dynamic_risk"]
    assert resized, "dynamic risk resizes stakes on this span"
    assert effects["dynamic_risk"]["cut"] == sum(d["stake_not_deployed"] > 0 for d in resized)
    assert effects["dynamic_risk"]["stake_not_deployed"] == pytest.approx(
        sum(d["stake_not_deployed"] for d in resized)
    )
    for capability in ("correlation", "time_exits"):
        mine = [d for d in decisions["decisions"] if d["capability"] == capability]
        assert effects[capability]["refused"] == sum(d["kind"] == "refused" for d in mine)
    listed = analysis["position_management"][MANAGED]["decisions"]
    assert sum(row["count"] for row in listed) == len(decisions["decisions"])


def test_partial_exits_profit_is_freqtrades_booking(exported):
    _, result, _, analysis, _ = exported
    expected, laddered = 0.0, 0
    for trade in result["strategy"][MANAGED]["trades"]:
        filled = [o for o in trade["orders"] if o.get("order_filled_timestamp")]
        profits = exit_profits(pd.Series(trade), filled)
        if len(profits) < 2:
            continue
        laddered += 1
        # Every exit's profit, partial or last, adds up to what Freqtrade booked for the trade.
        assert sum(profits.values()) == pytest.approx(trade["profit_abs"], rel=1e-6, abs=1e-6)
        expected += sum(
            profit
            for index, profit in profits.items()
            if index < len(filled) - 1 and filled[index]["ft_order_tag"].startswith("pm_")
        )
    assert laddered
    effects = analysis["position_management"][MANAGED]["capabilities"]["partial_exits"]
    assert effects["partial_profit_abs"] == pytest.approx(expected)


def test_the_terminal_report_at_100_columns_reads_plainly(exported):
    _, _, decisions, _, out = exported
    words = " ".join(out.split())
    # Names whole, never "ExampleS…".
    assert out.count(MANAGED) >= 3 and "…" not in out
    # Freqtrade's win rate and the excursions' before-fee one are named apart.
    assert "Win rate after fees" in words and "Won before fees" in words
    assert "Win %" not in out
    # The held-back stake says what it is, with thousands separators.
    held = sum(d["stake_not_deployed"] for d in decisions["decisions"])
    assert held > 10_000 and f"{held:,.2f}" in out
    assert f"each of the {len(decisions['decisions']):,} decisions" in words
