"""
The "writing your own capability" example of docs/internals.md (tests/support/own_capability.py),
loaded by Freqtrade's resolver and backtested on the shipped data: a user's mixin on the same
hooks as the package's own (section, policy, Parameter, an entry refusal).
"""

import pytest
from example_strategy import ExampleStrategy
from freqtrade.exceptions import OperationalException

from tests.support.backtest_harness import load_strategy, run_backtest
from tests.support.own_capability import WeekdayGateMixin, WeekdayGatePolicy

PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
TIMERANGE = "20250101-20250401"
MONDAY, WEDNESDAY = 0, 2


class GatedExample(WeekdayGateMixin, ExampleStrategy):
    pass


def entry_weekdays(trades: list) -> set[int]:
    return {trade.open_date_utc.weekday() for trade in trades}


def trade_facts(trades: list) -> list[tuple]:
    return [(t.pair, t.open_date_utc, t.close_date_utc, t.close_rate) for t in trades]


@pytest.fixture(scope="module")
def plain() -> list:
    return run_backtest(ExampleStrategy, pairs=PAIRS, timerange=TIMERANGE).trades


def test_the_plain_strategy_enters_on_mondays_and_wednesdays(plain: list) -> None:
    # Without this the gate tests below would prove nothing.
    assert {MONDAY, WEDNESDAY} <= entry_weekdays(plain)


def test_no_entry_on_a_monday_by_default(plain: list) -> None:
    trades = run_backtest(GatedExample, pairs=PAIRS, timerange=TIMERANGE).trades
    assert trades
    assert MONDAY not in entry_weekdays(trades)
    assert len(trades) < len(plain)


def test_the_config_section_overrides_the_parameter() -> None:
    config = {"posmgmt": {"weekday_gate": {"closed_weekdays": [WEDNESDAY]}}}
    trades = run_backtest(GatedExample, pairs=PAIRS, timerange=TIMERANGE, config=config).trades
    weekdays = entry_weekdays(trades)
    assert WEDNESDAY not in weekdays
    assert MONDAY in weekdays


def test_switched_off_in_config_it_trades_as_the_plain_strategy(plain: list) -> None:
    config = {"posmgmt": {"weekday_gate": {"enabled": False}}}
    trades = run_backtest(GatedExample, pairs=PAIRS, timerange=TIMERANGE, config=config).trades
    assert trade_facts(trades) == trade_facts(plain)


def test_the_parameter_feeds_the_policy(tmp_path) -> None:
    strategy = load_strategy(GatedExample, tmp_path)
    assert strategy.pm_weekday_gate == WeekdayGatePolicy(closed_weekdays=(MONDAY,))
    strategy.pm_weekday_closed.value = 4  # as a hyperopt epoch sets it
    strategy.pm_refresh_all()
    assert strategy.pm_weekday_gate == WeekdayGatePolicy(closed_weekdays=(4,))


def test_a_bad_weekday_in_config_fails_at_load_in_one_line(tmp_path) -> None:
    config = {"posmgmt": {"weekday_gate": {"closed_weekdays": [7]}}}
    with pytest.raises(OperationalException) as error:
        load_strategy(GatedExample, tmp_path, config)
    assert str(error.value) == (
        "posmgmt.weekday_gate: closed_weekdays=[7]: weekdays run from 0 to 6"
    )
