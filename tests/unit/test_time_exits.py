import dataclasses
import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freqtrade_posmgmt.time_exits import (
    EXIT_END_OF_DAY,
    EXIT_MAX_HOLDING,
    EXIT_SESSION_CLOSED,
    EXIT_WEEKEND,
    MarketSessionDef,
    TimeExitPolicy,
    TimeRestrictions,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SECOND = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)

US_EQUITIES = MarketSessionDef(
    "US equities", "America/New_York", time(9, 30), time(16, 0), (1, 2, 3, 4, 5)
)
NYSE = MarketSessionDef("NYSE", calendar="XNYS")
# CME-style futures: Sunday 18:00 to Friday 17:00 New York, with a daily 17:00-18:00 break.
GLOBEX = MarketSessionDef(
    "Globex", "America/New_York", "18:00", "17:00", [1, 2, 3, 4, 5], crosses_midnight=True
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ny(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK, fold=fold)


def exits(policy: TimeExitPolicy, entry: datetime, now: datetime) -> str | None:
    fired, reason = policy.check_time_exit_conditions(entry, now)
    assert fired == (reason is not None)
    return reason


# --- construction, validation, JSON-shaped config --------------------------------------------


def test_defaults_restrict_nothing():
    policy = TimeExitPolicy()
    assert policy.time_restrictions == TimeRestrictions(False, False, False)
    entry = utc(2025, 3, 8, 12)  # a Saturday
    assert exits(policy, entry, entry + timedelta(days=400)) is None
    assert policy.entry_refusal(entry) is None
    assert policy.get_next_exit_time(entry, entry) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_holding_hours": 0}, "max_holding_hours=0: must be a number of hours above 0"),
        ({"max_holding_hours": -1}, "max_holding_hours=-1"),
        ({"max_holding_hours": float("nan")}, "max_holding_hours=nan"),
        ({"max_holding_hours": True}, "max_holding_hours=True"),
        ({"max_holding_hours": "24"}, "max_holding_hours='24'"),
        ({"exit_minutes_before_close": -5}, "exit_minutes_before_close=-5: must be a number"),
        ({"end_of_day_flat": "false"}, "end_of_day_flat='false': must be true or false"),
        ({"weekend_flat": 1}, "weekend_flat=1: must be true or false"),
        ({"market_timezone": "Mars/Olympus"}, "market_timezone='Mars/Olympus': unknown time zone"),
        ({"market_timezone": ""}, "market_timezone='': unknown time zone"),
        ({"end_of_day_flat": True}, "end_of_day_flat=True: needs a market_session"),
        (
            {"time_restrictions": {"no_overnight": True}},
            "time_restrictions.no_overnight=True: needs a market_session",
        ),
        (
            {"time_restrictions": {"trading_hours_only": True}},
            "time_restrictions.trading_hours_only=True: needs a market_session",
        ),
        ({"exit_minutes_before_close": 30}, "exit_minutes_before_close=30: needs a market_session"),
        (
            {"time_restrictions": {"no_weekends": True}},
            "time_restrictions: unknown key(s) ['no_weekends']",
        ),
        ({"time_restrictions": [True]}, "time_restrictions=[True]: must be a TimeRestrictions"),
        ({"time_restrictions": {"no_weekend": "yes"}}, "no_weekend='yes': must be true or false"),
        ({"market_session": "XNYS"}, "market_session='XNYS': must be a MarketSessionDef"),
        ({"market_session": {"opens": "09:30"}}, "market_session: unknown key(s) ['opens']"),
    ],
)
def test_policy_rejects_bad_values_naming_field_and_rule(kwargs, message):
    with pytest.raises(ValueError) as error:
        TimeExitPolicy(**kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "America/NewYork"}, "timezone='America/NewYork': unknown time zone"),
        ({"calendar": "XNYZ"}, "calendar='XNYZ': unknown exchange calendar"),
        (
            {"open_time": "16:00", "close_time": "09:30"},
            "close_time=09:30:00 is not after open_time=16:00:00: set crosses_midnight=True",
        ),
        ({"open_time": "09:30", "close_time": "09:30"}, "close_time=09:30:00 is not after"),
        (
            {"open_time": "09:30", "close_time": "16:00", "crosses_midnight": True},
            "close_time=16:00:00 is after open_time=09:30:00 with crosses_midnight=True",
        ),
        ({"open_time": "09:30"}, "open_time=09:30:00, close_time=None: a session needs both"),
        ({}, "open_time=None, close_time=None: a session needs both"),
        (
            {"open_time": "9h30", "close_time": "16:00"},
            "open_time='9h30': must be a wall-clock time",
        ),
        ({"open_time": 930, "close_time": "16:00"}, "open_time=930: must be a wall-clock time"),
        ({"open_time": "09:30+01:00", "close_time": "16:00"}, "open_time='09:30+01:00'"),
        ({"is_24h": True, "open_time": "09:30"}, "is_24h=True: leave open_time, close_time"),
        ({"is_24h": "yes"}, "is_24h='yes': must be true or false"),
        ({"is_24h": True, "days_of_week": [0, 1]}, "days_of_week=[0, 1]: must list ISO weekdays"),
        ({"is_24h": True, "days_of_week": [1, 8]}, "days_of_week=[1, 8]"),
        ({"is_24h": True, "days_of_week": []}, "days_of_week=[]"),
        ({"is_24h": True, "days_of_week": [1, 1]}, "days_of_week=[1, 1]"),
        ({"is_24h": True, "days_of_week": [True]}, "days_of_week=[True]"),
        ({"is_24h": True, "days_of_week": "12345"}, "days_of_week='12345'"),
        ({"is_24h": True, "holidays": ["2025-13-01"]}, "holidays: '2025-13-01': must be a date"),
        ({"is_24h": True, "holidays": "2025-12-25"}, "holidays='2025-12-25': must be a list"),
        ({"name": ""}, "name='': must be a non-empty string"),
        ({"calendar": "XNYS", "open_time": "10:00"}, "close_time=None: a session needs both"),
        ({"calendar": "XNYS", "crosses_midnight": True}, "crosses_midnight=True: needs open_time"),
    ],
)
def test_session_rejects_bad_values_naming_field_and_rule(kwargs, message):
    with pytest.raises(ValueError) as error:
        MarketSessionDef(**kwargs)
    assert message in str(error.value)


def test_json_shaped_config_is_coerced_to_the_same_policy():
    section = json.loads(
        """{
            "max_holding_hours": 48,
            "end_of_day_flat": true,
            "time_restrictions": {"no_weekend": true},
            "market_session": {
                "name": "US equities",
                "timezone": "America/New_York",
                "open_time": "09:30",
                "close_time": "16:00:00",
                "days_of_week": [5, 4, 3, 2, 1],
                "holidays": ["2025-07-04", "2025-01-20"]
            },
            "exit_minutes_before_close": 15
        }"""
    )
    from_json = TimeExitPolicy(**section)
    typed = TimeExitPolicy(
        max_holding_hours=48,
        end_of_day_flat=True,
        time_restrictions=TimeRestrictions(no_weekend=True),
        market_session=dataclasses.replace(
            US_EQUITIES, holidays=(date(2025, 1, 20), date(2025, 7, 4))
        ),
        exit_minutes_before_close=15,
    )
    assert from_json == typed
    assert from_json.market_session.days_of_week == (1, 2, 3, 4, 5)


def test_replace_with_config_overrides_revalidates():
    base = TimeExitPolicy(end_of_day_flat=True, market_session=US_EQUITIES)
    later = dataclasses.replace(base, market_session={"name": "x", "is_24h": True})
    assert later.market_session == MarketSessionDef("x", is_24h=True)
    assert dataclasses.replace(base, time_restrictions=None).time_restrictions == TimeRestrictions()
    with pytest.raises(ValueError, match="end_of_day_flat=True: needs a market_session"):
        dataclasses.replace(base, market_session=None)


def test_calendar_session_takes_the_calendars_time_zone():
    assert NYSE.timezone == "America/New_York"
    assert MarketSessionDef("x", is_24h=True).timezone == "UTC"


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.check_time_exit_conditions(datetime(2025, 1, 2), utc(2025, 1, 2)),
        lambda p: p.check_time_exit_conditions(utc(2025, 1, 2), datetime(2025, 1, 2)),
        lambda p: p.get_next_exit_time(utc(2025, 1, 2), datetime(2025, 1, 2)),
        lambda p: p.entry_refusal(datetime(2025, 1, 2, 15)),
        lambda p: p.market_session.is_open_at(datetime(2025, 1, 2, 15)),
        lambda p: p.market_session.next_close_after(datetime(2025, 1, 2, 15)),
    ],
)
def test_naive_datetimes_are_rejected_not_guessed(call):
    policy = TimeExitPolicy(max_holding_hours=1, end_of_day_flat=True, market_session=US_EQUITIES)
    with pytest.raises(ValueError, match="must be a timezone-aware datetime"):
        call(policy)


def test_a_date_is_not_a_datetime():
    with pytest.raises(ValueError, match=r"now_time=datetime.date\(2025, 1, 2\): must be"):
        TimeExitPolicy().entry_refusal(date(2025, 1, 2))


def test_aware_datetimes_in_any_zone_mean_the_same_instant():
    policy = TimeExitPolicy(end_of_day_flat=True, market_session=US_EQUITIES)
    assert exits(policy, ny(2025, 1, 6, 10), ny(2025, 1, 6, 16)) == EXIT_END_OF_DAY
    assert exits(policy, utc(2025, 1, 6, 15), utc(2025, 1, 6, 21)) == EXIT_END_OF_DAY
    assert exits(policy, ny(2025, 1, 6, 10), utc(2025, 1, 6, 20, 59, 59)) is None


# --- max holding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "reason"),
    [
        (timedelta(hours=24) - SECOND, None),
        (timedelta(hours=24) - MICROSECOND, None),
        (timedelta(hours=24), EXIT_MAX_HOLDING),
        (timedelta(hours=24) + SECOND, EXIT_MAX_HOLDING),
        (timedelta(days=30), EXIT_MAX_HOLDING),
    ],
)
def test_max_holding_exits_at_first_check_at_or_after_the_deadline(after, reason):
    policy = TimeExitPolicy(max_holding_hours=24)
    entry = utc(2025, 3, 8, 13, 17, 3)
    assert exits(policy, entry, entry + after) == reason


def test_fractional_max_holding_is_exact():
    policy = TimeExitPolicy(max_holding_hours=1 / 3)
    entry = utc(2025, 3, 8, 13, 0, 0, 123457)
    assert exits(policy, entry, entry + timedelta(minutes=20)) == EXIT_MAX_HOLDING
    assert exits(policy, entry, entry + timedelta(minutes=20) - MICROSECOND) is None
    assert policy.get_next_exit_time(entry, entry) == entry + timedelta(minutes=20)


def test_max_holding_wins_over_other_rules():
    policy = TimeExitPolicy(max_holding_hours=1, weekend_flat=True)
    assert exits(policy, utc(2025, 3, 7, 23), utc(2025, 3, 8, 0)) == EXIT_MAX_HOLDING


# --- sessions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "is_open"),
    [
        (ny(2025, 1, 6, 9, 30) - SECOND, False),
        (ny(2025, 1, 6, 9, 30), True),
        (ny(2025, 1, 6, 16) - SECOND, True),
        (ny(2025, 1, 6, 16), False),
        (ny(2025, 1, 6, 16) + SECOND, False),
        (ny(2025, 1, 4, 12), False),  # Saturday
        (ny(2025, 3, 10, 9, 30), True),  # first session after spring forward: 13:30 UTC
        (utc(2025, 3, 10, 13, 30) - SECOND, False),
        (utc(2025, 3, 7, 14, 30), True),  # last session before it: 14:30 UTC
        (utc(2025, 3, 7, 21) - SECOND, True),
        (utc(2025, 3, 7, 21), False),
    ],
)
def test_session_is_half_open_in_its_time_zone(when, is_open):
    assert US_EQUITIES.is_open_at(when) is is_open


@pytest.mark.parametrize(
    ("when", "close"),
    [
        (utc(2025, 3, 7, 15), utc(2025, 3, 7, 21)),  # EST
        (utc(2025, 3, 7, 21), utc(2025, 3, 10, 20)),  # at the close: the next one, in EDT
        (utc(2025, 10, 31, 19, 59, 59), utc(2025, 10, 31, 20)),  # EDT
        (utc(2025, 10, 31, 20), utc(2025, 11, 3, 21)),  # EST
    ],
)
def test_next_close_is_exact_across_dst(when, close):
    assert US_EQUITIES.next_close_after(when) == close


def test_midnight_crossing_session_opens_the_evening_before_its_trading_day():
    assert not GLOBEX.is_open_at(ny(2025, 3, 2, 18) - SECOND)  # Sunday
    assert GLOBEX.is_open_at(ny(2025, 3, 2, 18))
    assert GLOBEX.is_open_at(ny(2025, 3, 3, 0))  # midnight inside the session
    assert GLOBEX.is_open_at(ny(2025, 3, 3, 17) - SECOND)
    assert not GLOBEX.is_open_at(ny(2025, 3, 3, 17))  # daily break
    assert GLOBEX.is_open_at(ny(2025, 3, 3, 18))
    assert not GLOBEX.is_open_at(ny(2025, 3, 7, 18))  # Friday evening: weekend
    assert not GLOBEX.is_open_at(ny(2025, 3, 8, 12))
    # Sunday 2 November 2025, 18:00 EST, is 23:00 UTC; Friday 31 October, 17:00 EDT, 21:00 UTC.
    assert GLOBEX.next_close_after(utc(2025, 10, 31, 12)) == utc(2025, 10, 31, 21)
    assert not GLOBEX.is_open_at(utc(2025, 11, 2, 23) - SECOND)
    assert GLOBEX.is_open_at(utc(2025, 11, 2, 23))


def test_24h_session_runs_midnight_to_midnight_on_its_days():
    weekdays = MarketSessionDef(
        "weekdays", "Europe/Berlin", days_of_week=[1, 2, 3, 4, 5], is_24h=True
    )
    friday_midnight = datetime(2025, 3, 29, tzinfo=BERLIN)
    assert weekdays.is_open_at(friday_midnight - SECOND)
    assert not weekdays.is_open_at(friday_midnight)
    assert weekdays.next_close_after(datetime(2025, 3, 27, 12, tzinfo=BERLIN)) == datetime(
        2025, 3, 28, tzinfo=BERLIN
    )
    always = MarketSessionDef("crypto", is_24h=True)
    assert all(always.is_open_at(utc(2025, 3, 1) + timedelta(hours=h)) for h in range(24 * 14))


def test_24h_session_day_boundary_in_a_dst_gap_at_midnight():
    # Chile springs forward at midnight: 7 September 2025 starts at 01:00 (-03), 04:00 UTC.
    chile = MarketSessionDef("cl", "America/Santiago", is_24h=True)
    assert chile.next_close_after(utc(2025, 9, 6, 12)) == utc(2025, 9, 7, 4)
    assert chile.next_close_after(utc(2025, 9, 7, 4)) == utc(2025, 9, 8, 3)  # a 23-hour day
    assert chile.is_open_at(utc(2025, 9, 7, 4))


def test_wall_time_in_a_dst_gap_reads_with_the_offset_before_it():
    # 02:30 on 9 March 2025 does not exist in New York; zoneinfo makes it 03:30 EDT (07:30 UTC).
    session = MarketSessionDef("gap", "America/New_York", "02:30", "12:00")
    assert not session.is_open_at(utc(2025, 3, 9, 7, 30) - SECOND)
    assert session.is_open_at(utc(2025, 3, 9, 7, 30))
    assert session.is_open_at(utc(2025, 3, 10, 6, 30))  # 02:30 EDT the next day


def test_ambiguous_close_in_a_dst_fold_is_its_first_occurrence():
    # 01:30 on 2 November 2025 happens twice in New York: 05:30 UTC (EDT), then 06:30 UTC (EST).
    session = MarketSessionDef("fold", "America/New_York", "20:00", "01:30", crosses_midnight=True)
    # (Python never equates a time inside a fold with one in another zone: compare in UTC.)
    first = ny(2025, 11, 2, 1, 30).astimezone(UTC)
    second = ny(2025, 11, 2, 1, 30, fold=1).astimezone(UTC)
    assert first == utc(2025, 11, 2, 5, 30)
    assert second == utc(2025, 11, 2, 6, 30)
    assert session.is_open_at(first - SECOND)
    assert not session.is_open_at(first)
    assert not session.is_open_at(second - SECOND)
    assert session.next_close_after(utc(2025, 11, 2)) == first
    policy = TimeExitPolicy(end_of_day_flat=True, market_session=session)
    assert exits(policy, utc(2025, 11, 2, 1), first) == EXIT_END_OF_DAY
    assert exits(policy, utc(2025, 11, 2, 1), first - SECOND) is None


# --- end of day ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "now", "reason"),
    [
        (utc(2025, 1, 6, 15), utc(2025, 1, 6, 21) - SECOND, None),
        (utc(2025, 1, 6, 15), utc(2025, 1, 6, 21), EXIT_END_OF_DAY),
        (utc(2025, 1, 6, 15), utc(2025, 1, 6, 21) + SECOND, EXIT_END_OF_DAY),
        # The seed only fired in the second before the close; any later check must exit.
        (utc(2025, 1, 6, 15), utc(2025, 1, 6, 21, 5), EXIT_END_OF_DAY),
        (utc(2025, 1, 6, 15), utc(2025, 1, 7, 15), EXIT_END_OF_DAY),
        (utc(2025, 1, 6, 15), utc(2025, 1, 9, 3), EXIT_END_OF_DAY),
        # Entered after the close: the day ends at the next close.
        (utc(2025, 1, 6, 22), utc(2025, 1, 7, 15), None),
        (utc(2025, 1, 6, 22), utc(2025, 1, 7, 21), EXIT_END_OF_DAY),
        # Spring forward: Monday 10 March closes 16:00 EDT, 20:00 UTC.
        (utc(2025, 3, 10, 14), utc(2025, 3, 10, 20) - SECOND, None),
        (utc(2025, 3, 10, 14), utc(2025, 3, 10, 20), EXIT_END_OF_DAY),
        # Fall back: Friday 31 October closes 20:00 UTC, Monday 3 November 21:00 UTC.
        (utc(2025, 10, 31, 14), utc(2025, 10, 31, 20), EXIT_END_OF_DAY),
        (utc(2025, 11, 3, 15), utc(2025, 11, 3, 20), None),
        (utc(2025, 11, 3, 15), utc(2025, 11, 3, 21), EXIT_END_OF_DAY),
    ],
)
def test_end_of_day_exits_at_first_check_at_or_after_a_close_since_entry(entry, now, reason):
    policy = TimeExitPolicy(end_of_day_flat=True, market_session=US_EQUITIES)
    assert exits(policy, entry, now) == reason


def test_exit_minutes_before_close_moves_every_session_rule_earlier():
    policy = TimeExitPolicy(
        end_of_day_flat=True,
        weekend_flat=True,
        market_session=US_EQUITIES,
        exit_minutes_before_close=30,
    )
    monday, friday = utc(2025, 1, 6, 15), utc(2025, 1, 10, 15)
    assert exits(policy, monday, utc(2025, 1, 6, 20, 30) - SECOND) is None
    assert exits(policy, monday, utc(2025, 1, 6, 20, 30)) == EXIT_END_OF_DAY
    assert exits(policy, friday, utc(2025, 1, 10, 20, 30)) == EXIT_WEEKEND
    assert policy.get_next_exit_time(monday, monday) == utc(2025, 1, 6, 20, 30)
    assert policy.entry_refusal(utc(2025, 1, 6, 20, 30) - SECOND) is None
    refusal = policy.entry_refusal(utc(2025, 1, 6, 20, 30))
    assert refusal == (
        "time_end_of_day: session 'US equities' closes at 2025-01-06 21:00:00 UTC, "
        "within exit_minutes_before_close=30"
    )
    # Entered inside the last minutes by hand: the trade still closes at once, not tomorrow.
    assert exits(policy, utc(2025, 1, 6, 20, 45), utc(2025, 1, 6, 20, 45)) == EXIT_END_OF_DAY


def test_end_of_day_gates_entries_to_open_sessions():
    policy = TimeExitPolicy(end_of_day_flat=True, market_session=US_EQUITIES)
    assert policy.entry_refusal(utc(2025, 1, 6, 14, 30)) is None
    assert policy.entry_refusal(utc(2025, 1, 6, 21) - SECOND) is None
    closed = "time_end_of_day: session 'US equities' is closed until 2025-01-07 14:30:00 UTC"
    assert policy.entry_refusal(utc(2025, 1, 6, 21)) == closed
    assert policy.entry_refusal(utc(2025, 1, 7, 14, 29)) == closed
    assert policy.entry_refusal(utc(2025, 1, 6, 14, 30) - SECOND) is not None


# --- weekend ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "now", "reason"),
    [
        (utc(2025, 3, 7, 12), utc(2025, 3, 8) - SECOND, None),
        (utc(2025, 3, 7, 12), utc(2025, 3, 8), EXIT_WEEKEND),
        (utc(2025, 3, 7, 12), utc(2025, 3, 8) + SECOND, EXIT_WEEKEND),
        # No check happened during the weekend: the first one after it still exits.
        (utc(2025, 3, 7, 12), utc(2025, 3, 10, 1), EXIT_WEEKEND),
        (utc(2025, 3, 10), utc(2025, 3, 14, 23, 59, 59), None),
        (utc(2025, 3, 9, 23), utc(2025, 3, 9, 23), EXIT_WEEKEND),  # entered inside by hand
    ],
)
def test_weekend_without_session_is_saturday_to_monday_in_utc(entry, now, reason):
    assert exits(TimeExitPolicy(weekend_flat=True), entry, now) == reason


def test_weekend_follows_market_timezone_across_dst():
    policy = TimeExitPolicy(weekend_flat=True, market_timezone="Europe/Berlin")
    # 29-30 March 2025: Saturday 00:00 CET is Friday 23:00 UTC; Monday 00:00 CEST is 22:00 UTC.
    friday = utc(2025, 3, 28, 12)
    assert exits(policy, friday, utc(2025, 3, 28, 23) - SECOND) is None
    assert exits(policy, friday, utc(2025, 3, 28, 23)) == EXIT_WEEKEND
    assert policy.entry_refusal(utc(2025, 3, 28, 23) - SECOND) is None
    weekend = "time_weekend: inside the weekend until 2025-03-30 22:00:00 UTC"
    assert policy.entry_refusal(utc(2025, 3, 28, 23)) == weekend
    assert policy.entry_refusal(utc(2025, 3, 30, 22) - SECOND) is not None
    assert policy.entry_refusal(utc(2025, 3, 30, 22)) is None
    # Autumn: Saturday 25 October 00:00 CEST is Friday 22:00 UTC; Monday 00:00 CET, Sunday 23:00.
    assert exits(policy, utc(2025, 10, 24, 12), utc(2025, 10, 24, 22)) == EXIT_WEEKEND
    assert policy.entry_refusal(utc(2025, 10, 26, 23) - SECOND) is not None
    assert policy.entry_refusal(utc(2025, 10, 26, 23)) is None


def test_weekend_with_a_session_runs_from_last_close_to_first_open():
    policy = TimeExitPolicy(weekend_flat=True, market_session=US_EQUITIES)
    friday = utc(2025, 3, 7, 15)
    assert exits(policy, friday, utc(2025, 3, 7, 21) - SECOND) is None
    assert exits(policy, friday, utc(2025, 3, 7, 21)) == EXIT_WEEKEND
    assert policy.entry_refusal(utc(2025, 3, 7, 21)).startswith(EXIT_WEEKEND)
    # Monday opens 09:30 EDT, 13:30 UTC, after the spring-forward weekend.
    assert policy.entry_refusal(utc(2025, 3, 10, 13, 30) - SECOND) is not None
    assert policy.entry_refusal(utc(2025, 3, 10, 13, 30)) is None
    # A weekday night is not a weekend.
    assert exits(policy, utc(2025, 3, 4, 15), utc(2025, 3, 5, 3)) is None


def test_weekend_of_a_midnight_crossing_session_is_friday_close_to_sunday_open():
    policy = TimeExitPolicy(weekend_flat=True, market_session=GLOBEX)
    assert exits(policy, ny(2025, 3, 7, 10), ny(2025, 3, 7, 17) - SECOND) is None
    assert exits(policy, ny(2025, 3, 7, 10), ny(2025, 3, 7, 17)) == EXIT_WEEKEND
    assert policy.entry_refusal(ny(2025, 3, 9, 18) - SECOND) is not None
    assert policy.entry_refusal(ny(2025, 3, 9, 18)) is None  # Sunday evening, EDT already
    assert exits(policy, ny(2025, 3, 3, 10), ny(2025, 3, 3, 17, 30)) is None  # daily break


def test_a_session_open_every_day_has_no_weekend():
    policy = TimeExitPolicy(weekend_flat=True, market_session=MarketSessionDef("c", is_24h=True))
    entry = utc(2025, 3, 7)
    assert exits(policy, entry, entry + timedelta(days=30)) is None
    assert policy.get_next_exit_time(entry, entry) is None


def test_no_weekend_restriction_is_the_weekend_rule():
    by_flag = TimeExitPolicy(weekend_flat=True, market_timezone="Europe/Berlin")
    by_restriction = TimeExitPolicy(
        market_timezone="Europe/Berlin", time_restrictions=TimeRestrictions(no_weekend=True)
    )
    for hours in range(0, 24 * 9, 5):
        now = utc(2025, 3, 27) + timedelta(hours=hours)
        assert by_flag.check_time_exit_conditions(utc(2025, 3, 27), now) == (
            by_restriction.check_time_exit_conditions(utc(2025, 3, 27), now)
        )
        assert by_flag.entry_refusal(now) == by_restriction.entry_refusal(now)


# --- restrictions ----------------------------------------------------------------------------


def test_no_overnight_exits_whenever_the_session_is_closed():
    policy = TimeExitPolicy(
        market_session=US_EQUITIES, time_restrictions=TimeRestrictions(no_overnight=True)
    )
    entry = utc(2025, 1, 6, 15)
    assert exits(policy, entry, utc(2025, 1, 6, 21) - SECOND) is None
    assert exits(policy, entry, utc(2025, 1, 6, 21)) == EXIT_SESSION_CLOSED
    # Entered while closed (by hand): out at the first check, not at the next close.
    assert exits(policy, utc(2025, 1, 6, 23), utc(2025, 1, 6, 23)) == EXIT_SESSION_CLOSED
    assert policy.get_next_exit_time(entry, entry) == utc(2025, 1, 6, 21)
    assert policy.get_next_exit_time(entry, utc(2025, 1, 7, 3)) == utc(2025, 1, 7, 3)
    assert policy.entry_refusal(utc(2025, 1, 6, 21)).startswith(EXIT_SESSION_CLOSED)


def test_trading_hours_only_gates_entries_and_exits_nothing():
    policy = TimeExitPolicy(
        market_session=US_EQUITIES, time_restrictions=TimeRestrictions(trading_hours_only=True)
    )
    assert policy.entry_refusal(utc(2025, 1, 6, 15)) is None
    assert policy.entry_refusal(utc(2025, 1, 6, 22)).startswith(EXIT_SESSION_CLOSED)
    assert policy.entry_refusal(utc(2025, 1, 4, 15)) is not None  # Saturday
    assert exits(policy, utc(2025, 1, 6, 15), utc(2025, 1, 11)) is None


def test_rules_report_in_order_max_holding_weekend_end_of_day_session():
    session_rules = {
        "end_of_day_flat": True,
        "weekend_flat": True,
        "market_session": US_EQUITIES,
        "time_restrictions": TimeRestrictions(no_overnight=True),
    }
    friday = utc(2025, 3, 7, 15)
    assert exits(TimeExitPolicy(**session_rules), friday, utc(2025, 3, 7, 21)) == EXIT_WEEKEND
    thursday = utc(2025, 3, 6, 15)
    assert exits(TimeExitPolicy(**session_rules), thursday, utc(2025, 3, 6, 21)) == EXIT_END_OF_DAY
    late = TimeExitPolicy(**session_rules, max_holding_hours=6)
    assert exits(late, thursday, utc(2025, 3, 6, 21)) == EXIT_MAX_HOLDING


# --- holidays and early closes ---------------------------------------------------------------


def test_calendar_holiday_has_no_session_and_refuses_entries_all_day():
    policy = TimeExitPolicy(end_of_day_flat=True, weekend_flat=True, market_session=NYSE)
    mlk_day = [utc(2025, 1, 20) + timedelta(hours=h) for h in range(24)]
    assert not any(NYSE.is_open_at(t) for t in mlk_day)
    assert all(policy.entry_refusal(t) for t in mlk_day)
    # The weekend runs from Friday's close to Tuesday's open around the Monday holiday.
    assert exits(policy, utc(2025, 1, 17, 15), utc(2025, 1, 17, 21)) == EXIT_WEEKEND
    assert policy.entry_refusal(utc(2025, 1, 21, 14, 30) - SECOND).startswith(EXIT_WEEKEND)
    assert policy.entry_refusal(utc(2025, 1, 21, 14, 30)) is None


def test_calendar_early_close_is_honoured():
    # Friday 28 November 2025 closes at 13:00 New York, 18:00 UTC.
    policy = TimeExitPolicy(end_of_day_flat=True, market_session=NYSE)
    entry = utc(2025, 11, 28, 15)
    assert NYSE.next_close_after(entry) == utc(2025, 11, 28, 18)
    assert exits(policy, entry, utc(2025, 11, 28, 18) - SECOND) is None
    assert exits(policy, entry, utc(2025, 11, 28, 18)) == EXIT_END_OF_DAY
    assert policy.entry_refusal(utc(2025, 11, 28, 18)) is not None
    # Own hours narrow the calendar's, the early close still cuts them.
    narrow = MarketSessionDef("x", open_time="10:00", close_time="15:00", calendar="XNYS")
    assert not narrow.is_open_at(utc(2025, 11, 26, 15) - SECOND)
    assert narrow.is_open_at(utc(2025, 11, 26, 15))
    assert narrow.next_close_after(utc(2025, 11, 26, 15)) == utc(2025, 11, 26, 20)
    assert narrow.next_close_after(utc(2025, 11, 28, 15)) == utc(2025, 11, 28, 18)


def test_calendar_lookups_outside_its_range_fail_clearly():
    with pytest.raises(ValueError, match="outside the 'XNYS' calendar"):
        NYSE.is_open_at(utc(1999, 1, 4, 15))


def test_explicit_holidays_remove_sessions():
    session = dataclasses.replace(US_EQUITIES, holidays=["2025-07-04"])
    assert not session.is_open_at(utc(2025, 7, 4, 15))
    assert session.is_open_at(utc(2025, 7, 3, 15))
    assert session.next_close_after(utc(2025, 7, 3, 21)) == utc(2025, 7, 7, 20)
    policy = TimeExitPolicy(end_of_day_flat=True, market_session=session)
    assert policy.entry_refusal(utc(2025, 7, 4, 15)) is not None


def test_sessions_far_apart_in_time_are_generated_on_demand():
    assert US_EQUITIES.next_close_after(utc(2031, 6, 2, 15)) == utc(2031, 6, 2, 20)
    assert US_EQUITIES.next_close_after(utc(2019, 1, 7, 15)) == utc(2019, 1, 7, 21)
    assert US_EQUITIES.next_close_after(utc(2031, 12, 1, 15)) == utc(2031, 12, 1, 21)


# --- properties ------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
holds = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10))

POLICIES = [
    TimeExitPolicy(max_holding_hours=30, weekend_flat=True),
    TimeExitPolicy(weekend_flat=True, market_timezone="Europe/Berlin"),
    TimeExitPolicy(end_of_day_flat=True, weekend_flat=True, market_session=US_EQUITIES),
    TimeExitPolicy(
        max_holding_hours=7.5,
        end_of_day_flat=True,
        market_session=GLOBEX,
        exit_minutes_before_close=20,
    ),
    TimeExitPolicy(
        weekend_flat=True,
        market_session=NYSE,
        time_restrictions=TimeRestrictions(no_overnight=True),
    ),
    TimeExitPolicy(end_of_day_flat=True, market_session=NYSE, exit_minutes_before_close=45),
]


@given(policy=st.sampled_from(POLICIES), entry=instants, held=holds)
def test_next_exit_time_is_when_the_check_first_fires(policy, entry, held):
    now = entry + held
    next_exit = policy.get_next_exit_time(entry, now)
    fired, _ = policy.check_time_exit_conditions(entry, now)
    if next_exit is None:
        assert not fired
        return
    assert next_exit >= now
    assert policy.check_time_exit_conditions(entry, next_exit)[0]
    if next_exit > now:
        assert not fired
        assert not policy.check_time_exit_conditions(entry, next_exit - MICROSECOND)[0]


@given(policy=st.sampled_from(POLICIES), now=instants)
def test_an_accepted_entry_is_not_closed_at_once(policy, now):
    if policy.entry_refusal(now) is None:
        assert policy.check_time_exit_conditions(now, now) == (False, None)


def _new_york_closes_between(start: datetime, end: datetime) -> list[datetime]:
    """Independent oracle: every 16:00 New York weekday close in (start, end]."""
    day = start.astimezone(NEW_YORK).date() - timedelta(days=1)
    closes = []
    while day <= end.astimezone(NEW_YORK).date():
        close = datetime.combine(day, time(16), tzinfo=NEW_YORK)
        if day.isoweekday() <= 5 and start < close <= end:
            closes.append(close)
        day += timedelta(days=1)
    return closes


@given(entry=instants, held=holds)
def test_end_of_day_matches_an_independent_close_oracle(entry, held):
    policy = TimeExitPolicy(end_of_day_flat=True, market_session=US_EQUITIES)
    now = entry + held
    crossed_a_close = bool(_new_york_closes_between(entry, now))
    assert policy.check_time_exit_conditions(entry, now)[0] is crossed_a_close


@given(entry=instants, held=holds, zone=st.sampled_from(["UTC", "Europe/Berlin", "Asia/Tokyo"]))
@settings(max_examples=200)
def test_weekend_matches_an_independent_calendar_oracle(entry, held, zone):
    policy = TimeExitPolicy(weekend_flat=True, market_timezone=zone)
    local = entry.astimezone(ZoneInfo(zone))
    days_to_saturday = 5 - local.weekday()
    saturday = datetime.combine(
        local.date() + timedelta(days=days_to_saturday), time(0), ZoneInfo(zone)
    )
    expected = days_to_saturday <= 0 or entry + held >= saturday
    assert policy.check_time_exit_conditions(entry, entry + held)[0] is expected


@given(when=instants)
def test_new_york_session_is_always_open_from_0930_to_1600_local(when):
    local = when.astimezone(NEW_YORK)
    expected = local.isoweekday() <= 5 and time(9, 30) <= local.time() < time(16)
    assert US_EQUITIES.is_open_at(when) is expected
    assert US_EQUITIES.next_close_after(when).astimezone(NEW_YORK).time() == time(16)
