import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freqtrade_posmgmt.mfe_mae_analyzer import MFEMAEAnalyzer, TradeMFERecord

T0 = pd.Timestamp("2025-02-03 00:00", tz="UTC")


def hours(n):
    return T0 + pd.Timedelta(hours=n)


def frame(mfe, mae, pnl, mfe_hour=None, mae_hour=None, strategy="S", exit_reason="roi"):
    size = len(mfe)
    return pd.DataFrame(
        {
            "strategy": strategy if isinstance(strategy, list) else [strategy] * size,
            "exit_reason": exit_reason if isinstance(exit_reason, list) else [exit_reason] * size,
            "open_date": [T0] * size,
            "mfe": mfe,
            "mae": mae,
            "pnl": pnl,
            "mfe_time": [hours(h) for h in (mfe_hour or [2] * size)],
            "mae_time": [hours(h) for h in (mae_hour or [1] * size)],
        }
    )


def test_optimal_exit_points_find_the_known_answer_and_beat_the_own_exits():
    # Six winners dip 1% then run to +6% but the strategy only kept +2%; four losers barely
    # rise (+0.5%) and fall to -8% where they are closed.
    trades = frame(
        mfe=[0.06] * 6 + [0.005] * 4,
        mae=[-0.01] * 6 + [-0.08] * 4,
        pnl=[0.02] * 6 + [-0.08] * 4,
        mfe_hour=[5] * 6 + [1] * 4,
        mae_hour=[1] * 6 + [6] * 4,
    )
    best = MFEMAEAnalyzer(trades).identify_optimal_exit_points()
    # A stop just beyond the winners' dip and a target at their peak:
    # (6 * 0.06 - 4 * 0.01) / 10 = 0.032, against the own exits' (0.12 - 0.32) / 10 = -0.02.
    assert best.stop == pytest.approx(0.01)
    assert best.target == pytest.approx(0.06)
    assert best.expectancy == pytest.approx(0.032)
    assert best.baseline_expectancy == pytest.approx(-0.02)
    assert best.trades == 10


def test_evaluate_exits_takes_the_stop_when_both_lie_within_the_excursions():
    trades = frame(mfe=[0.05, 0.05, 0.01], mae=[-0.04, -0.01, -0.04], pnl=[0.0, 0.02, -0.03])
    analyzer = MFEMAEAnalyzer(trades)
    # First trade: both levels within its excursions -> stop; second: target only; third: stop.
    assert analyzer.evaluate_exits(stop=0.03, target=0.05) == pytest.approx(-0.01 / 3)
    # A stop the dip stays within never fires; a target above the peak is never reached.
    assert analyzer.evaluate_exits(stop=0.04, target=0.051) == pytest.approx(-0.01 / 3)
    assert analyzer.evaluate_exits() == pytest.approx(-0.01 / 3)
    assert analyzer.evaluate_exits(stop=0.02, target=0.05) == pytest.approx(0.01 / 3)
    with pytest.raises(ValueError, match="stop=0: must be > 0"):
        analyzer.evaluate_exits(stop=0)


amounts = st.floats(0, 0.2, allow_nan=False).map(lambda value: round(value, 3))


@st.composite
def trade_sets(draw):
    size = draw(st.integers(1, 12))
    rows = []
    for _ in range(size):
        mfe, mae = draw(amounts), -draw(amounts)
        pnl = mae + (mfe - mae) * draw(st.floats(0, 1))
        rows.append((mfe, mae, pnl, draw(st.integers(0, 5)), draw(st.integers(0, 5))))
    mfe, mae, pnl, mfe_hour, mae_hour = map(list, zip(*rows, strict=True))
    return frame(mfe, mae, pnl, mfe_hour, mae_hour)


@settings(max_examples=80, deadline=None)
@given(trade_sets())
def test_optimal_exit_points_are_the_best_of_every_candidate(trades):
    analyzer = MFEMAEAnalyzer(trades)
    best = analyzer.identify_optimal_exit_points()
    stops = [None, *sorted(set(-trades["mae"]) - {0.0})]
    targets = [None, *sorted(set(trades["mfe"]) - {0.0})]
    brute = max(
        analyzer.evaluate_exits(stop, target) for stop, target in itertools.product(stops, targets)
    )
    assert best.expectancy == pytest.approx(brute, abs=1e-12)
    assert best.expectancy == pytest.approx(analyzer.evaluate_exits(best.stop, best.target))
    assert best.expectancy >= best.baseline_expectancy - 1e-12


@settings(max_examples=60, deadline=None)
@given(trade_sets())
def test_efficiencies_add_up_and_stay_in_range(trades):
    per_trade = MFEMAEAnalyzer(trades).trades.dropna(subset=["total_efficiency"])
    total = per_trade["entry_efficiency"] + per_trade["exit_efficiency"] - 1
    np.testing.assert_allclose(per_trade["total_efficiency"], total, atol=1e-12)
    assert per_trade["entry_efficiency"].between(0, 1).all()
    assert per_trade["exit_efficiency"].between(-1e-12, 1 + 1e-12).all()
    assert (MFEMAEAnalyzer(trades).trades["end_trade_drawdown"] >= -1e-12).all()


def test_trades_without_adverse_excursion_count_in_the_ratio():
    ratios = MFEMAEAnalyzer(
        frame(mfe=[0.02, 0.04], mae=[0.0, -0.02], pnl=[0.01, 0.0])
    ).calculate_mfe_mae_ratios(by=None)
    # mean MFE 0.03 over mean |MAE| 0.01; dropping the MAE=0 trade would give 2.
    assert ratios.loc["all", "mfe_mae_ratio"] == pytest.approx(3.0)
    assert ratios.loc["all", "zero_mae_trades"] == 1


def test_per_strategy_breakdown_keeps_strategies_apart():
    trades = frame(
        mfe=[0.04, 0.02, 0.10],
        mae=[-0.01, -0.03, -0.02],
        pnl=[0.03, -0.03, 0.05],
        strategy=["A", "A", "B"],
    )
    stats = MFEMAEAnalyzer(trades).calculate_avg_mfe_mae_by_strategy()
    assert list(stats.index) == ["A", "B"]
    assert stats.loc["A", "trades"] == 2 and stats.loc["B", "trades"] == 1
    assert stats.loc["A", "mean_mfe"] == pytest.approx(0.03)
    assert stats.loc["A", "win_rate"] == pytest.approx(0.5)
    assert stats.loc["B", "mean_mae"] == pytest.approx(-0.02)
    timing = MFEMAEAnalyzer(trades).analyze_exit_timing_efficiency()
    assert timing.loc["A", "capture_ratio"] == pytest.approx(0.0 / 0.06)
    assert timing.loc["B", "capture_ratio"] == pytest.approx(0.5)
    assert timing.loc["B", "mean_end_trade_drawdown"] == pytest.approx(0.05)
    assert timing.loc["B", "median_time_to_mfe"] == pd.Timedelta(hours=2)


def test_summary_groups_by_any_column():
    trades = frame(
        mfe=[0.04, 0.02, 0.10],
        mae=[-0.01, -0.03, -0.02],
        pnl=[0.03, -0.03, 0.05],
        exit_reason=["roi", "stop_loss", "roi"],
    )
    summary = MFEMAEAnalyzer(trades).summary("exit_reason")
    assert summary.loc["roi", "trades"] == 2
    assert summary.loc["stop_loss", "win_rate"] == 0
    assert {"mfe_mae_ratio", "capture_ratio", "total_efficiency"} <= set(summary.columns)


def test_recommendations_read_the_levels_off_the_excursions():
    # Ten winners dipping 1%..10%, two losers at -20%.
    mae = [-0.01 * n for n in range(1, 11)] + [-0.2, -0.2]
    trades = frame(mfe=[0.06] * 10 + [0.0, 0.0], mae=mae, pnl=[0.05] * 10 + [-0.2, -0.2])
    found = {item.kind: item for item in MFEMAEAnalyzer(trades).recommendations()}
    stop = found["stop"]
    # Nine of ten winners stay within 9%; the tenth and both losers are stopped at -9%.
    assert stop.level == pytest.approx(0.09)
    assert stop.expectancy == pytest.approx((9 * 0.05 - 3 * 0.09) / 12)

    levels = MFEMAEAnalyzer(
        frame(mfe=[0.01, 0.02, 0.03, 0.04], mae=[-0.01] * 4, pnl=[0.0] * 4)
    ).recommendations()
    targets = [item.level for item in levels if item.kind == "target"]
    assert targets == pytest.approx([0.02, 0.03, 0.04])


def test_from_records_and_validation():
    record = TradeMFERecord(
        strategy="S",
        pair="BTC/USDT",
        is_short=True,
        open_date=T0,
        close_date=hours(4),
        mfe=0.02,
        mae=-0.01,
        pnl=0.01,
        mfe_time=hours(3),
        mae_time=hours(1),
    )
    analyzer = MFEMAEAnalyzer.from_records([record, record])
    assert analyzer.summary().loc["S", "trades"] == 2
    assert analyzer.trades.loc[0, "time_to_mfe"] == pd.Timedelta(hours=3)
    with pytest.raises(ValueError, match=r"mfe=-0.01 \(trade row 1\): must be >= 0"):
        MFEMAEAnalyzer(frame(mfe=[0.01, -0.01], mae=[0.0, 0.0], pnl=[0.0, 0.0]))
    naive = frame(mfe=[0.01], mae=[0.0], pnl=[0.0]).assign(open_date=pd.Timestamp("2025-01-01"))
    with pytest.raises(ValueError, match="open_date: naive datetimes"):
        MFEMAEAnalyzer(naive)
    with pytest.raises(ValueError, match="missing columns"):
        MFEMAEAnalyzer(pd.DataFrame({"mfe": [0.1]}))
    empty = MFEMAEAnalyzer.from_records([])
    assert empty.identify_optimal_exit_points().trades == 0
    assert empty.recommendations() == []
