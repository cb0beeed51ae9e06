"""
The full stack reads no future: a backtest cut at any date, or right after an event of each
capability that reads candles, trades, fills and decides exactly as the full run up to the cut, and Freqtrade's lookahead-analysis and recursive-analysis find nothing on
the full-stack example.
"""

import re
from datetime import timedelta

import pandas as pd
import pytest
from example_managed_strategy import ExampleManagedStrategy

from tests.support.backtest_harness import copy_user_data, run_backtest
from tests.support.helpers import run_cli

# Whole-module: every test runs long backtests or subprocesses (make test-fast leaves them out).
pytestmark = pytest.mark.slow

HOUR = timedelta(hours=1)
STRATEGIES: dict[str, object] = {}


class Remembered(ExampleManagedStrategy):
    def bot_start(self, **kwargs) -> None:
        STRATEGIES["last"] = self
        super().bot_start(**kwargs)


def run(timerange: str | None = None) -> tuple[list, list]:
    result = run_backtest(Remembered, timerange=timerange)
    return result.trades, list(STRATEGIES["last"].__dict__.get("pm_decisions", []))


def closed_before(trades: list, last: pd.Timestamp) -> list:
    return [
        (
            t.pair,
            t.open_date_utc,
            t.close_date_utc,
            t.exit_reason,
            t.stake_amount,
            t.close_profit_abs,
            [(o.ft_order_side, o.order_filled_utc, o.safe_amount, o.safe_price) for o in t.orders],
        )
        for t in trades
        if t.close_date_utc is not None and t.close_date_utc < last
    ]


def opened_before(trades: list, last: pd.Timestamp) -> list:
    return sorted(
        (t.open_date_utc, t.pair, t.orders[0].safe_amount) for t in trades if t.open_date_utc < last
    )


def decided_before(decisions: list, last: pd.Timestamp) -> list:
    return [d for d in decisions if d.candle < last]


@pytest.fixture(scope="module")
def full_run() -> tuple[list, list]:
    return run()


@pytest.mark.parametrize("end", ["20250301", "20250801", "20260101"])
def test_a_full_stack_backtest_cut_at_any_date_matches_the_full_run_up_to_the_cut(full_run, end):
    full_trades, full_decisions = full_run
    cut_trades, cut_decisions = run(f"-{end}")
    last = pd.Timestamp(end, tz="UTC") - HOUR
    compared = closed_before(full_trades, last)
    assert len(compared) > 50
    assert closed_before(cut_trades, last) == compared
    assert opened_before(cut_trades, last) == opened_before(full_trades, last)
    # Refusals, cuts and resizes too, not only what reached the trades.
    assert decided_before(full_decisions, last)
    assert decided_before(cut_decisions, last) == decided_before(full_decisions, last)


def event_candle(trades: list, decisions: list, capability: str) -> pd.Timestamp:
    """The candle of the capability's last event that depends on candles."""
    if capability == "trailing_stop":
        times = [t.close_date_utc for t in trades if t.exit_reason == "trailing_stop_loss"]
    else:
        times = [d.candle for d in decisions if d.capability == capability]
    return pd.Timestamp(max(times))


def closed_until(trades: list, last: pd.Timestamp) -> list:
    """Trades closed by the end of candle ``last``, less a cut run's forced exits there."""
    return closed_before(
        [t for t in trades if t.exit_reason != "force_exit"], last + timedelta(microseconds=1)
    )


# A cut shows a look ahead only where an event falls within the look's reach of it, which fixed
# dates rarely meet: these cuts fall right after an event of each capability that reads candles,
# so that event would differ had it read even the next candle.
@pytest.mark.parametrize("capability", ["trailing_stop", "dynamic_risk", "correlation"])
def test_a_backtest_cut_right_after_an_event_matches_the_full_run_up_to_it(full_run, capability):
    full_trades, full_decisions = full_run
    last = event_candle(full_trades, full_decisions, capability)
    cut_trades, cut_decisions = run(f"-{(last + HOUR).strftime('%Y%m%dT%H%M')}")
    compared = closed_until(full_trades, last)
    assert compared and closed_until(cut_trades, last) == compared
    after = last + timedelta(microseconds=1)
    assert opened_before(cut_trades, after) == opened_before(full_trades, after)
    assert decided_before(full_decisions, after)
    assert decided_before(cut_decisions, after) == decided_before(full_decisions, after)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("full-stack-analysis")
    copy_user_data(directory)
    return directory


def analysis(workdir, subcommand: str, *extra: str) -> str:
    proc = run_cli(
        "offline", subcommand, "-c", "user_data/config.json", "--userdir", "user_data",
        "--strategy", "ExampleManagedStrategy", *extra, cwd=workdir, columns=200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_lookahead_analysis_finds_no_bias_in_the_full_stack(workdir):
    out = analysis(
        workdir, "lookahead-analysis", "--timerange", "20250101-20250701",
        "--minimum-trade-amount", "10", "--targeted-trade-amount", "20",
    )  # fmt: skip
    (row,) = [line for line in out.splitlines() if re.match(r"│.*│ ExampleManagedStrategy │", line)]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    # filename, strategy, has_bias, total_signals, biased entries, biased exits, indicators
    assert cells[2] == "No" and int(cells[3]) >= 20
    assert cells[4:6] == ["0", "0"] and cells[6] == ""


def test_recursive_analysis_shows_no_variance_at_the_startup_candle_count(workdir):
    out = analysis(
        workdir, "recursive-analysis", "-p", "BTC/USDT", "--timerange", "20250101-20250301"
    )
    header = next(line for line in out.splitlines() if "(from strategy)" in line)
    assert re.search(r"\d+ \(from strategy\)", header)
    rows = [line for line in out.splitlines() if re.match(r"│\s+\w+ │", line)]
    indicators = {
        cells[0]: cells[1]
        for cells in ([cell.strip() for cell in row.split("│")[1:-1]] for row in rows)
    }
    # Ours (the trailing stop's ATR) and the example's own; one that never varies is not listed.
    assert "pm_atr" in indicators and "adx" in indicators
    # "-": no change from the column before.
    assert set(indicators.values()) <= {"0.000%", "-0.000%", "-"}, indicators
