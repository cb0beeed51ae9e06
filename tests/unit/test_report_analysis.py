"""The report's analysis object: section order, recommendation order, renderers' coverage."""

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from freqtrade_posmgmt.excursions import PairCandles
from freqtrade_posmgmt.mfe_mae_analyzer import ExitRecommendation
from freqtrade_posmgmt.report import html, json_report, text
from freqtrade_posmgmt.report.analysis import (
    RECOMMENDATION_ORDER,
    SECTION_TYPES,
    EdgeRatios,
    ExitSuggestions,
    MetricsTable,
    Returns,
    TradeExcursions,
    analyse,
    order_recommendations,
)
from freqtrade_posmgmt.report.formatting import duration
from freqtrade_posmgmt.report.loading import LoadedResult

START = pd.Timestamp("2025-01-06 00:00", tz="UTC")


def rec(name: str, kind: str) -> ExitRecommendation:
    return ExitRecommendation(name, kind, 0.01, 0.0)


def test_recommendations_are_ordered_stop_trailing_targets_and_stable_within_a_kind():
    found = [
        rec("target 75", "target"),
        rec("trailing", "trailing"),
        rec("target 50", "target"),
        rec("stop", "stop"),
        rec("target 25", "target"),
    ]
    ordered = order_recommendations(found)
    assert [item.name for item in ordered] == [
        "stop",
        "trailing",
        "target 75",
        "target 50",
        "target 25",
    ]


def test_a_recommendation_kind_without_a_place_is_an_error():
    with pytest.raises(ValueError, match=r"\['scale'\]: must be in"):
        order_recommendations([rec("stop", "stop"), rec("add at -2%", "scale")])


def test_every_renderer_renders_every_section_type():
    for renderer in (text, json_report, html):
        assert set(renderer.RENDERERS) == set(SECTION_TYPES), renderer.__name__


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (pd.Timedelta(0), "0:00"),
        (pd.Timedelta(minutes=45), "0:45"),  # three 15m candles, which once read "1 h"
        (pd.Timedelta(minutes=15), "0:15"),
        (pd.Timedelta(hours=71, minutes=59), "71:59"),
        (pd.Timedelta(hours=72), "3.0 d"),
        (pd.NaT, "-"),
    ],
)
def test_time_to_mfe_reads_in_hours_and_minutes(value, shown):
    assert duration(value) == shown


def synthetic_result(
    trade_count: int = 40, seed: int = 3, names: tuple[str, str] = ("A", "B"), managed: bool = False
) -> LoadedResult:
    """Two strategies' single-entry trades on a random walk, half with a tagged
    partial exit, as loading.load_result returns them; ``managed``: the second strategy has
    position management (decisions and Freqtrade's statistics, as a real result has)."""
    rng = np.random.default_rng(seed)
    hours = 400
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, hours)))
    open_ = np.r_[100.0, close[:-1]]
    frame = pd.DataFrame(
        {
            "date": START + pd.to_timedelta(np.arange(hours), unit="h"),
            "open": open_,
            "high": np.maximum(open_, close) * 1.004,
            "low": np.minimum(open_, close) * 0.996,
            "close": close,
            "volume": 1.0,
        }
    )
    candles = {"BTC/USDT": PairCandles(frame)}
    rows, fills = [], []
    for trade_id in range(trade_count):
        start = int(rng.integers(20, hours - 30))
        end = start + int(rng.integers(1, 24))
        partial = trade_id % 4 in (0, 1)
        middle = (start + end) // 2

        def order(candle: int, is_entry: bool, amount: float, tag: str | None = None) -> dict:
            return {
                "order_filled_timestamp": 1,
                "ft_is_entry": is_entry,
                "ft_order_tag": tag,
                "amount": amount,
                "safe_price": open_[candle],
                "cost": amount * open_[candle],
            }

        rows.append(
            {
                "strategy": names[trade_id % 2],
                "pair": "BTC/USDT",
                "open_date": frame["date"][start],
                "close_date": frame["date"][end],
                "exit_reason": "roi" if close[end] > open_[start] else "exit_signal",
                "enter_tag": None,
                "is_short": False,
                "fee_open": 0.0,
                "fee_close": 0.0,
                "profit_ratio": open_[end] / open_[start] - 1,
                "profit_abs": 100 * (open_[end] / open_[start] - 1),
                "leverage": 1.0,
                "orders": [order(start, True, 1.0)]
                + ([order(middle, False, 0.5, "pm_tp1")] if partial else [])
                + [order(end, False, 0.5 if partial else 1.0)],
            }
        )
        steps = [(start, True, 1.0)] + ([(middle, False, 0.5)] if partial else [])
        steps.append((end, False, 0.5 if partial else 1.0))
        for candle, is_entry, amount in steps:
            fills.append(
                (
                    trade_id,
                    "BTC/USDT",
                    False,
                    frame["date"][candle],
                    is_entry,
                    amount,
                    open_[candle],
                )
            )
    fills = pd.DataFrame(
        fills, columns=["trade_id", "pair", "is_short", "date", "is_entry", "amount", "price"]
    )
    trades = pd.DataFrame(rows)
    stats, decisions = {}, {}
    if managed:
        stats = {name: STATS for name in names}
        decisions = {
            names[0]: None,
            names[1]: {
                "capabilities": {"dynamic_risk": True},
                "decisions": [
                    {
                        "capability": "dynamic_risk",
                        "kind": "resize",
                        "reason": "drawdown 12%",
                        "stake_not_deployed": 123_456.5,
                        "pair": "BTC/USDT",
                        "candle": START.isoformat(),
                    }
                ],
            },
        }
    return LoadedResult(
        Path("synthetic.zip"), "1h", trades, fills, candles, candles, stats, decisions
    )


STATS = {
    "total_trades": 20,
    "profit_total_abs": 12.5,
    "profit_total": 0.00125,
    "max_drawdown_account": 0.02,
    "calmar": 1.5,
    "winrate": 0.4,
    "profit_factor": 1.1,
    "starting_balance": 10_000,
    "backtest_start": "2025-01-06 00:00:00",
    "stake_currency": "USDT",
}
PLAIN, MANAGED = "ExampleStrategy", "ExampleManagedStrategy"
ATTRIBUTION = {
    "capabilities": [
        {
            "name": "dynamic_risk",
            "off": {
                "trades": 25,
                "profit_abs": -40.0,
                "profit_ratio": -0.004,
                "max_drawdown": 0.05,
                "calmar": -0.8,
            },
            "delta_profit_abs": 52.5,
        },
        {
            "name": "trailing_stop",
            "off": {
                "trades": 19,
                "profit_abs": 20.0,
                "profit_ratio": 0.002,
                "max_drawdown": 0.03,
                "calmar": 0.7,
            },
        },
    ],
    "all_on": {
        "trades": 20,
        "profit_abs": 12.5,
        "profit_ratio": 0.00125,
        "max_drawdown": 0.02,
        "calmar": 1.5,
    },
}


@pytest.fixture(scope="module")
def analysis():
    return analyse(synthetic_result())


def test_sections_come_in_the_order_the_report_shows_them(analysis):
    kinds = [type(section) for section in analysis.sections]
    assert kinds[:2] == [Returns, TradeExcursions]  # no statistics, no decisions: no comparison
    tables = [(s.key, s.strategy) for s in analysis.sections_of(MetricsTable)]
    assert tables == [
        ("per_strategy", None),
        ("by_exit_reason", "A"),
        ("by_partial_exit_tag", "A"),
        ("by_exit_reason", "B"),
        ("by_partial_exit_tag", "B"),
    ]
    assert kinds.index(EdgeRatios) > max(i for i, k in enumerate(kinds) if k is MetricsTable)
    assert [s.strategy for s in analysis.sections_of(ExitSuggestions)] == ["A", "B"]
    assert kinds[-2:] == [ExitSuggestions, ExitSuggestions]


def test_each_strategy_recommendations_are_in_order(analysis):
    for exits in analysis.sections_of(ExitSuggestions):
        ranks = [RECOMMENDATION_ORDER.index(item.kind) for item in exits.recommendations]
        assert ranks == sorted(ranks) and "trailing" in {i.kind for i in exits.recommendations}


def test_price_and_position_excursions_have_distinct_names(analysis):
    trades = analysis.trades
    assert {"price_mfe", "price_mae", "position_mfe", "position_mae"} <= set(trades.columns)
    assert "mfe" not in trades.columns and "mae" not in trades.columns
    laddered = trades["fills"] > 2
    # A partial exit halves the position: its excursion differs from the price's.
    assert (trades.loc[laddered, "position_mfe"] != trades.loc[laddered, "price_mfe"]).any()
    single = trades.loc[~laddered]
    assert np.allclose(single["position_mfe"], single["price_mfe"])


def test_renderers_read_the_same_numbers(analysis):
    document = json.loads(json.dumps(json_report.json_document(analysis)))
    per_strategy = analysis.sections_of(MetricsTable)[0].table
    for name in ("A", "B"):
        strategy = document["summary"]["strategies"][name]
        assert list(strategy) == [
            "metrics",
            "by_exit_reason",
            "by_partial_exit_tag",
            "edge_ratio",
            "recommendations",
            "optimal_exit",
        ]
        assert strategy["metrics"]["trades"] == per_strategy.loc[name, "trades"] == 20
        assert set(strategy["by_partial_exit_tag"]) == {"pm_tp1"}
    # JSON keeps the documented names: mfe is the price excursion.
    first = document["trades"][0]
    assert first["mfe"] == pytest.approx(analysis.trades["price_mfe"].iloc[0])
    out = io.StringIO()
    text.print_report(analysis, Console(file=out, width=200))
    printed = out.getvalue()
    assert printed.index("stop keeping 90% of winners") < printed.index("trailing stop")
    assert printed.index("trailing stop") < printed.index("target reached by 75%")
    page = html.html_page(analysis)
    assert page.count("A: per exit reason") == 1 and "trades per partial-exit tag" in page
