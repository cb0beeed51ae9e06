"""
The five snippets of the seed package's README, with ``src.position_management`` read as
``freqtrade_posmgmt``, run as written and give correct answers.
"""

import importlib
import re
from datetime import UTC, datetime
from functools import reduce
from pathlib import Path

import pytest

from freqtrade_posmgmt import SEED_COMPATIBLE

SNIPPETS = {
    "dynamic_risk": """
from src.position_management.dynamic_risk import DynamicRiskManager, DynamicRiskConfig

config = DynamicRiskConfig(
    enabled=True,
    drawdown_thresholds=[0.05, 0.10, 0.15],
    risk_reduction_factors=[0.8, 0.6, 0.4]
)
risk_mgr = DynamicRiskManager(config, database_manager)
adjustment = risk_mgr.calculate_risk_adjustment(current_balance, peak_balance)
""",
    "correlation": """
from src.position_management.correlation_engine import CorrelationEngine

corr_engine = CorrelationEngine()
is_allowed, adjusted_size = corr_engine.check_entry_allowed(
    candidate_symbol='ETHUSDT',
    candidate_size=0.05,
    active_positions={'BTCUSDT': 0.10}
)
""",
    "partial": """
from src.position_management.partial_manager import PartialExitPolicy

policy = PartialExitPolicy(
    exit_targets=[0.03, 0.06, 0.10],
    exit_sizes=[0.25, 0.25, 0.50],
    scale_in_thresholds=[0.02, 0.05],
    scale_in_sizes=[0.25, 0.25]
)
exits = policy.check_partial_exits(position, current_price)
scale_in = policy.check_scale_in_opportunity(position, current_price, market_data)
""",
    "time": """
from datetime import time
from src.position_management.time_exits import TimeExitPolicy, MarketSessionDef, TimeRestrictions

session = MarketSessionDef(
    name='US_EQUITIES',
    timezone='America/New_York',
    open_time=time(9, 30),
    close_time=time(16, 0),
    days_of_week=[1,2,3,4,5]
)

policy = TimeExitPolicy(
    max_holding_hours=24,
    end_of_day_flat=True,
    weekend_flat=True,
    market_session=session
)
""",
    "trailing": """
from src.position_management.trailing_stops import TrailingStopPolicy

policy = TrailingStopPolicy(
    activation_threshold=0.015,  # Start trailing at 1.5% profit
    trailing_distance_pct=0.02,  # Trail 2% behind
    breakeven_threshold=0.03,    # Move to breakeven at 3% profit
    breakeven_buffer=0.001       # 0.1% buffer at breakeven
)
""",
}


def run(name: str, **names) -> dict:
    code = SNIPPETS[name].replace("src.position_management", "freqtrade_posmgmt")
    exec(compile(code, f"seed README: {name}", "exec"), names)  # noqa: S102
    return names


def test_dynamic_risk_snippet_gives_the_second_tier_at_a_ten_percent_drawdown():
    names = run("dynamic_risk", database_manager=None, current_balance=9000, peak_balance=10000)
    assert names["adjustment"].position_size_factor == pytest.approx(0.6)


def test_correlation_snippet_allows_the_full_size_without_correlations():
    names = run("correlation")
    assert (names["is_allowed"], names["adjusted_size"]) == (True, 0.05)


def test_partial_snippet_lists_the_exits_due_and_finds_the_scale_in():
    from freqtrade_posmgmt.partial_manager import PositionState

    position = PositionState(entry_price=100.0, side="long", original_size=1.0)
    names = run("partial", position=position, current_price=100.5, market_data={})
    assert names["exits"] == [] and len(names["exits"]) == 0
    assert names["scale_in"] is None  # +0.5%: below the first add at +2%
    names = run("partial", position=position, current_price=106.5, market_data={})
    (exit_,) = names["exits"]  # the 3% and 6% targets, crossed together: one order
    assert exit_.levels == (1, 2) and exit_.amount == pytest.approx(0.5)
    assert [e.amount for e in names["exits"]] == [pytest.approx(0.5)]


def test_partial_snippet_scales_in_at_each_listed_level():
    from freqtrade_posmgmt.partial_manager import PositionState

    position = PositionState(entry_price=100.0, side="long", original_size=1.0)
    names = run("partial", position=position, current_price=102.5, market_data={})
    assert names["scale_in"].levels == (1,)  # +2.5%: the add listed at +2%
    assert names["scale_in"].stake == pytest.approx(25.0)
    added = PositionState(
        entry_price=100.0, side="long", original_size=1.0, scale_ins_taken=frozenset({1})
    )
    names = run("partial", position=added, current_price=105.5, market_data={})
    assert names["scale_in"].levels == (2,)  # +5.5%: the second listed add


def test_time_snippet_exits_after_the_close_and_at_the_maximum_holding_time():
    names = run("time")
    policy = names["policy"]
    entry = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)  # Tuesday 10:00 in New York
    assert not policy.check_time_exit_conditions(entry, datetime(2025, 3, 4, 18, tzinfo=UTC))[0]
    should_exit, reason = policy.check_time_exit_conditions(
        entry, datetime(2025, 3, 4, 21, 30, tzinfo=UTC)
    )  # 16:30 in New York: the session closed since entry
    assert should_exit and reason
    assert policy.check_time_exit_conditions(entry, datetime(2025, 3, 5, 15, 0, tzinfo=UTC))[0]


def test_trailing_snippet_builds_the_policy_it_describes():
    policy = run("trailing")["policy"]
    assert (policy.activation_threshold, policy.trailing_distance_pct) == (0.015, 0.02)
    assert (policy.breakeven_threshold, policy.breakeven_buffer) == (0.03, 0.001)


SEED_README = Path("/work/shared/seed/position_management_README.md")


@pytest.mark.parametrize("entry", SEED_COMPATIBLE)
def test_each_seed_compatible_entry_point_resolves(entry):
    module, _, attribute = entry.partition(":")
    found = reduce(getattr, filter(None, attribute.split(".")), importlib.import_module(module))
    assert found is not None


def test_the_seed_modules_and_the_snippets_imports_are_all_listed():
    modules = {entry.partition(":")[0] for entry in SEED_COMPATIBLE}
    names = {entry.partition(":")[2].split(".")[0] for entry in SEED_COMPATIBLE}
    for code in SNIPPETS.values():
        for module, imported in re.findall(
            r"from src\.position_management\.(\w+) import (.+)", code
        ):
            assert f"freqtrade_posmgmt.{module}" in modules
            assert {n.strip() for n in imported.split(",")} <= names
    if SEED_README.is_file():  # the seed's own module list
        listed = re.findall(r"^- `(\w+)\.py`", SEED_README.read_text(), flags=re.MULTILINE)
        assert {f"freqtrade_posmgmt.{m}" for m in listed} <= modules
