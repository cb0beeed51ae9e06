"""
Time exits in real offline backtests on the shipped 1h candles.

The strategies here are "always in": an entry signal on every candle and no exit signal, so the
time rules alone decide when trades start and end, and every session close, weekend and holiday
in the range is exercised. Expected times come from independent oracles (zoneinfo wall clocks,
the exchange_calendars schedule), not from the policy under test.
"""

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import exchange_calendars
import pytest
from example_strategy import ExampleStrategy
from freqtrade.enums import TradingMode
from freqtrade.persistence import LocalTrade
from freqtrade.strategy import IStrategy
from pandas import DataFrame

from freqtrade_posmgmt.mixins._base import PolicyConfigError
from freqtrade_posmgmt.mixins.time_exits import TimeExitMixin
from freqtrade_posmgmt.time_exits import MarketSessionDef, TimeExitPolicy, TimeRestrictions
from tests.support.backtest_harness import run_backtest

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
PAIRS = ["BTC/USDT", "ETH/USDT"]
HOUR = timedelta(hours=1)


class AlwaysIn(TimeExitMixin, ExampleStrategy):
    """Enter on every candle (short when it can), never exit on a signal."""

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_short" if self.can_short else "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe


US_EQUITIES = MarketSessionDef("US equities", "America/New_York", "09:30", "16:00", [1, 2, 3, 4, 5])


class UsEquities(AlwaysIn):
    time_exit_policy = TimeExitPolicy(end_of_day_flat=True, market_session=US_EQUITIES)


class Nyse(AlwaysIn):
    time_exit_policy = TimeExitPolicy(
        end_of_day_flat=True, market_session=MarketSessionDef("NYSE", calendar="XNYS")
    )


class Globex(AlwaysIn):
    """CME-style hours, Sunday 18:00 to Friday 17:00 New York with a daily break at 17:00."""

    time_exit_policy = TimeExitPolicy(
        max_holding_hours=20.5,
        end_of_day_flat=True,
        market_session=MarketSessionDef(
            "Globex", "America/New_York", "18:00", "17:00", [1, 2, 3, 4, 5], crosses_midnight=True
        ),
    )


class GlobexShort(Globex):
    can_short = True


def first_candle_at_or_after(moment: datetime) -> datetime:
    floor = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + HOUR


def ny_wall(day: date, wall: time) -> datetime:
    return datetime.combine(day, wall, tzinfo=NEW_YORK).astimezone(UTC)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def closed_trades(result) -> list[LocalTrade]:
    assert result.trades, "the backtest made no trades: the evidence would be vacuous"
    assert all(not t.is_open for t in result.trades)
    return result.trades


def exits_by(trades: list[LocalTrade], reason: str) -> set[datetime]:
    return {t.close_date_utc for t in trades if t.exit_reason == reason}


# --- US equities session, end of day flat ---------------------------------------------------


@pytest.fixture(scope="module")
def us_equities_run():
    return closed_trades(run_backtest(UsEquities, pairs=PAIRS, timerange="20250113-20250320"))


@pytest.fixture(scope="module")
def nyse_run():
    return closed_trades(run_backtest(Nyse, pairs=PAIRS, timerange="20250113-20251201"))


def test_us_session_trades_are_flat_at_each_close_across_spring_dst(us_equities_run):
    trades = us_equities_run
    weekdays = [d for d in days(date(2025, 1, 13), date(2025, 3, 19)) if d.isoweekday() <= 5]
    closes = [ny_wall(d, time(16)) for d in weekdays]
    for trade in trades:
        opened = trade.open_date_utc
        next_close = min(c for c in closes if c > opened)
        local = opened.astimezone(NEW_YORK)
        assert local.isoweekday() <= 5 and time(9, 30) <= local.time() < time(16), trade
        assert trade.close_date_utc <= first_candle_at_or_after(next_close), trade
    assert exits_by(trades, "time_end_of_day") == {first_candle_at_or_after(c) for c in closes}
    # 16:00 New York is 21:00 UTC before 9 March 2025 and 20:00 UTC after.
    assert datetime(2025, 3, 7, 21, tzinfo=UTC) in exits_by(trades, "time_end_of_day")
    assert datetime(2025, 3, 10, 20, tzinfo=UTC) in exits_by(trades, "time_end_of_day")
    # Without a calendar, Martin Luther King Day (20 January) is an ordinary session.
    assert any(t.open_date_utc.date() == date(2025, 1, 20) for t in trades)


@pytest.mark.slow
def test_nyse_calendar_closes_every_session_and_skips_holidays(nyse_run):
    trades = nyse_run
    schedule = exchange_calendars.get_calendar("XNYS").schedule.loc["2025-01-13":"2025-11-30"]
    sessions = [
        (o.to_pydatetime(), c.to_pydatetime())
        for o, c in zip(schedule["open"], schedule["close"], strict=True)
    ]
    for trade in trades:
        opened = trade.open_date_utc
        assert any(o <= opened < c for o, c in sessions), f"entry outside a session: {trade}"
        next_close = min(c for _, c in sessions if c > opened)
        assert trade.close_date_utc <= first_candle_at_or_after(next_close), trade
    eod = exits_by(trades, "time_end_of_day")
    assert eod == {first_candle_at_or_after(c) for _, c in sessions}
    # Both 2025 DST changes: 16:00 New York moves 21:00 -> 20:00 UTC and back.
    assert {
        datetime(2025, 3, 7, 21, tzinfo=UTC),
        datetime(2025, 3, 10, 20, tzinfo=UTC),
        datetime(2025, 10, 31, 20, tzinfo=UTC),
        datetime(2025, 11, 3, 21, tzinfo=UTC),
    } <= eod
    assert not any(t.open_date_utc.date() == date(2025, 1, 20) for t in trades)
    # 28 November 2025 closes early, 13:00 New York = 18:00 UTC.
    black_friday = [t for t in trades if t.open_date_utc.date() == date(2025, 11, 28)]
    assert black_friday
    assert all(t.close_date_utc <= datetime(2025, 11, 28, 18, tzinfo=UTC) for t in black_friday)
    assert datetime(2025, 11, 28, 18, tzinfo=UTC) in eod


# --- weekend flat on crypto, no session -----------------------------------------------------


def weekend_run(zone: str, timerange: str) -> list[LocalTrade]:
    # Configured through config.json only: the class keeps its Parameters default.
    section = {"weekend_flat": True, "market_timezone": zone, "max_holding_hours": None}
    return closed_trades(
        run_backtest(
            AlwaysIn, pairs=PAIRS, timerange=timerange, config={"posmgmt": {"time_exits": section}}
        )
    )


def saturdays_and_mondays(zone: ZoneInfo, first: date, last: date) -> tuple[list, list]:
    starts = [datetime.combine(d, time(0), zone) for d in days(first, last) if d.isoweekday() == 6]
    ends = [datetime.combine(d, time(0), zone) for d in days(first, last) if d.isoweekday() == 1]
    return [s.astimezone(UTC) for s in starts], [e.astimezone(UTC) for e in ends]


@pytest.mark.parametrize(
    ("zone", "timerange", "first", "last"),
    [
        ("UTC", "20250303-20250325", date(2025, 3, 3), date(2025, 3, 24)),
        # Spans the 30 March 2025 change: Saturday starts at 23:00 UTC, Monday at 22:00 UTC.
        ("Europe/Berlin", "20250317-20250405", date(2025, 3, 17), date(2025, 4, 5)),
    ],
)
def test_weekend_flat_holds_nothing_over_the_weekend_in_market_time(zone, timerange, first, last):
    trades = weekend_run(zone, timerange)
    starts, ends = saturdays_and_mondays(ZoneInfo(zone), first, last)
    for trade in trades:
        opened, closed = trade.open_date_utc, trade.close_date_utc
        assert opened.astimezone(ZoneInfo(zone)).isoweekday() <= 5, f"weekend entry: {trade}"
        assert not any(opened < s < closed for s in starts), f"held over a weekend: {trade}"
    assert exits_by(trades, "time_weekend") == set(starts)
    # Entries resume at the first candle after each weekend (the range's first Monday aside).
    assert set(ends[1:]) <= {t.open_date_utc for t in trades}
    if zone == "Europe/Berlin":
        assert datetime(2025, 3, 28, 23, tzinfo=UTC) in starts
        assert datetime(2025, 3, 30, 22, tzinfo=UTC) in ends


# --- midnight-crossing session and max holding, long and short ------------------------------


@pytest.fixture(scope="module", params=["long", "short"])
def globex_run(request):
    if request.param == "long":
        result = run_backtest(Globex, pairs=PAIRS, timerange="20251024-20251108")
    else:
        result = run_backtest(
            GlobexShort,
            pairs=PAIRS,
            timerange="20251024-20251108",
            trading_mode="futures",
            leverage=2,
        )
    return request.param, closed_trades(result)


def globex_is_open(moment: datetime) -> bool:
    local = moment.astimezone(NEW_YORK)
    weekday, wall = local.isoweekday(), local.time()
    if weekday == 6 or (weekday == 5 and wall >= time(17)) or (weekday == 7 and wall < time(18)):
        return False
    return not time(17) <= wall < time(18)


def test_midnight_crossing_session_and_max_holding(globex_run):
    side, trades = globex_run
    assert all(t.is_short is (side == "short") for t in trades)
    closes = [ny_wall(d, time(17)) for d in days(date(2025, 10, 24), date(2025, 11, 8))]
    closes = [c for c in closes if c.astimezone(NEW_YORK).isoweekday() <= 5]
    for trade in trades:
        opened, closed = trade.open_date_utc, trade.close_date_utc
        assert globex_is_open(opened), f"entry while closed: {trade}"
        day_end = first_candle_at_or_after(min(c for c in closes if c > opened))
        deadline = first_candle_at_or_after(opened + timedelta(hours=20.5))
        assert closed <= min(day_end, deadline), trade
        if trade.exit_reason == "time_max_holding":
            assert closed == deadline
        if trade.exit_reason == "time_end_of_day":
            assert closed == day_end
    # Every close in the range ends a trade; the Sunday-evening entries reach 20.5 hours first.
    eod = exits_by(trades, "time_end_of_day")
    assert eod == {
        first_candle_at_or_after(c) for c in closes if c < datetime(2025, 11, 8, tzinfo=UTC)
    }
    assert datetime(2025, 10, 27, 19, tzinfo=UTC) in exits_by(trades, "time_max_holding")
    # 17:00 New York: 21:00 UTC before 2 November 2025, 22:00 UTC after; the Sunday session
    # reopens at 18:00 EST = 23:00 UTC.
    assert {datetime(2025, 10, 31, 21, tzinfo=UTC), datetime(2025, 11, 3, 22, tzinfo=UTC)} <= eod
    entries = {t.open_date_utc for t in trades}
    assert datetime(2025, 11, 2, 23, tzinfo=UTC) in entries
    weekend = [o for o in entries if datetime(2025, 10, 31, 21, tzinfo=UTC) <= o]
    assert min(weekend) == datetime(2025, 11, 2, 23, tzinfo=UTC)


# --- wiring: configuration, chaining, gating log ---------------------------------------------


def trade_opened_at(opened: datetime) -> LocalTrade:
    return LocalTrade(
        pair="BTC/USDT",
        open_rate=100.0,
        amount=1.0,
        stake_amount=100.0,
        fee_open=0.001,
        fee_close=0.001,
        open_date=opened,
        is_short=False,
        leverage=1.0,
        trading_mode=TradingMode.SPOT,
        exchange="binance",
    )


def custom_exit(strategy: IStrategy, opened: datetime, now: datetime) -> str | bool | None:
    return strategy.custom_exit(
        pair="BTC/USDT",
        trade=trade_opened_at(opened),
        current_time=now,
        current_rate=100.0,
        current_profit=0.0,
    )


def confirm_entry(strategy: IStrategy, now: datetime, pair: str = "BTC/USDT") -> bool:
    return strategy.confirm_trade_entry(
        pair=pair,
        order_type="market",
        amount=1.0,
        rate=100.0,
        time_in_force="GTC",
        current_time=now,
        entry_tag=None,
        side="long",
    )


class ProfitExit(ExampleStrategy):
    """A strategy's own custom_exit, below the mixin in the MRO."""

    def custom_exit(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        return "profit_exit" if current_profit > 0.05 else None


class TimeThenProfit(TimeExitMixin, ProfitExit):
    time_exit_policy = TimeExitPolicy(max_holding_hours=2)


def test_time_reason_wins_and_other_exits_are_chained():
    strategy = TimeThenProfit({})
    opened = datetime(2025, 1, 6, 15, tzinfo=UTC)

    def exit_at(now: datetime, profit: float) -> str | bool | None:
        return strategy.custom_exit(
            pair="BTC/USDT",
            trade=trade_opened_at(opened),
            current_time=now,
            current_rate=100.0,
            current_profit=profit,
        )

    assert exit_at(opened + 2 * HOUR, profit=0.10) == "time_max_holding"
    assert exit_at(opened + HOUR, profit=0.10) == "profit_exit"
    assert exit_at(opened + HOUR, profit=0.0) is None


def test_parameters_configure_the_default_policy_each_refresh():
    strategy = AlwaysIn({})
    assert strategy.pm_time_exit_policy == TimeExitPolicy(max_holding_hours=336)
    assert strategy.pm_time_max_holding_hours.space == "pm_time"
    strategy.pm_time_max_holding_hours.value = 12
    strategy.pm_refresh_all()
    assert strategy.pm_time_exit_policy.max_holding_hours == 12
    opened = datetime(2025, 1, 6, tzinfo=UTC)
    assert custom_exit(strategy, opened, opened + 12 * HOUR) == "time_max_holding"


def test_config_section_overrides_and_switches_off():
    config = {
        "posmgmt": {
            "time_exits": {
                "end_of_day_flat": True,
                "market_session": {"name": "NYSE", "calendar": "XNYS"},
                "time_restrictions": {"trading_hours_only": True},
                "exit_minutes_before_close": 30,
            }
        }
    }
    strategy = Nyse(config)
    assert strategy.pm_time_exit_policy.exit_minutes_before_close == 30
    assert strategy.pm_time_exit_policy.time_restrictions == TimeRestrictions(
        trading_hours_only=True
    )
    off = Nyse({"posmgmt": {"time_exits": {"enabled": False}}})
    assert off.pm_time_exit_policy is None
    # Switched off, the callbacks are bypassed, not merely passed through.
    assert off.custom_exit.function is IStrategy.custom_exit


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"use_exit_signal": False}, "use_exit_signal=False: time exits need it True"),
        (
            {"posmgmt": {"time_exits": {"market_timezone": "Mars/Olympus"}}},
            "posmgmt.time_exits: market_timezone='Mars/Olympus': unknown time zone",
        ),
        (
            {"posmgmt": {"time_exits": {"market_session": {"calendar": "XNYZ"}}}},
            "calendar='XNYZ': unknown exchange calendar",
        ),
        (
            {
                "posmgmt": {
                    "time_exits": {"market_session": {"open_time": "16:00", "close_time": "09:30"}}
                }
            },
            "close_time=09:30:00 is not after open_time=16:00:00",
        ),
        (
            {"posmgmt": {"time_exits": {"market_session": {"is_24h": True, "days_of_week": [0]}}}},
            "days_of_week=[0]: must list ISO weekdays",
        ),
        (
            {"posmgmt": {"time_exits": {"end_of_day_flat": True}}},
            "end_of_day_flat=True: needs a market_session",
        ),
    ],
)
def test_bad_configuration_fails_at_load_with_one_clear_line(config, message):
    with pytest.raises(PolicyConfigError) as error:
        AlwaysIn(config)
    assert message in str(error.value)


def test_exit_signal_off_is_fine_when_time_exits_are_off():
    strategy = AlwaysIn({"use_exit_signal": False, "posmgmt": {"time_exits": None}})
    assert strategy.use_exit_signal is False


def test_refused_entries_are_logged_once_per_closed_period(caplog):
    strategy = Nyse({})
    caplog.set_level(logging.INFO, logger="freqtrade_posmgmt.mixins.time_exits")
    holiday = datetime(2025, 1, 20, 15, tzinfo=UTC)
    assert not confirm_entry(strategy, holiday)
    assert not confirm_entry(strategy, holiday + HOUR)
    assert not confirm_entry(strategy, holiday, pair="ETH/USDT")
    assert confirm_entry(strategy, datetime(2025, 1, 21, 15, tzinfo=UTC))
    lines = [r.getMessage() for r in caplog.records]
    why = "time_end_of_day: session 'NYSE' is closed until 2025-01-21 14:30:00 UTC"
    assert lines == [
        f"BTC/USDT long entry at 2025-01-20 15:00:00+00:00 refused: {why}",
        f"ETH/USDT long entry at 2025-01-20 15:00:00+00:00 refused: {why}",
    ]


def test_a_failing_rule_logs_and_changes_nothing(caplog):
    strategy = Nyse({})
    before_calendar = datetime(1990, 1, 2, 15, tzinfo=UTC)
    assert custom_exit(strategy, before_calendar, before_calendar + HOUR) is None
    assert confirm_entry(strategy, before_calendar)
    assert "outside the 'XNYS' calendar" in caplog.text
