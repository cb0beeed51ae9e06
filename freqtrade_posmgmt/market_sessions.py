"""
Market sessions: when a market is open, in its time zone, with DST and holidays (optionally
from an exchange calendar), as a timeline of opens, closes and weekends that answers each query
by bisection. Framework-free; the time-exit rules (:mod:`freqtrade_posmgmt.time_exits`) use it
through :meth:`MarketSessionDef.timeline`.

Conventions:
- A session belongs to the trading day on which it closes, as exchanges label them: a session
  that crosses midnight (e.g. 18:00-17:00) opens on the evening before its trading day.
- Sessions are half-open: at the exact close the market is closed.
- Wall-clock times follow zoneinfo (PEP 495): a time skipped by a DST gap is read with the
  offset before the gap (02:30 on 9 March 2025 in New York is 03:30 EDT), and a time that
  occurs twice means its first occurrence.
- Instants are integer microseconds since the epoch, so every boundary comparison is exact.
"""

import math
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from freqtrade_posmgmt.validation import fail, flag, validated_policy

ALL_WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
NEVER = math.inf
# A generated timeline is extended this far beyond the queried day, and answers only queries
# this far inside its span, so that the sessions around any query are always present.
_GENERATE_DAYS = 400
_INNER_MARGIN_DAYS = 21
_CALENDAR_START = "2000-01-01"


def to_epoch_us(field: str, value: Any) -> int:
    """Microseconds since the epoch: integers keep every boundary comparison exact."""
    match value:
        case datetime() if value.utcoffset() is not None:
            return (value - _EPOCH) // MICROSECOND
        case _:
            raise fail(
                field,
                value,
                "must be a timezone-aware datetime (a naive one is not guessed; Freqtrade "
                "passes UTC)",
            )


def datetime_utc(epoch_us: int) -> datetime:
    """The UTC datetime of an instant in epoch microseconds."""
    return _EPOCH + timedelta(microseconds=epoch_us)


def format_utc(epoch_us: float) -> str:
    """An instant for messages; NEVER reads as beyond the known sessions."""
    if epoch_us == NEVER:
        return "further than the session tables reach"
    return datetime_utc(int(epoch_us)).strftime("%Y-%m-%d %H:%M:%S UTC")


def _wall_us(day: date, wall: time, zone: ZoneInfo) -> int:
    return (datetime.combine(day, wall, tzinfo=zone) - _EPOCH) // MICROSECOND


def as_zone(field: str, value: Any) -> ZoneInfo:
    """The IANA time zone named ``value``, or a one-line error naming ``field``."""
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise fail(
            field, value, "unknown time zone (expected an IANA name like 'Europe/Berlin')"
        ) from None


def _as_time(field: str, value: Any) -> time | None:
    match value:
        case None:
            return None
        case time() if value.tzinfo is None:
            return value
        case str():
            try:
                return _as_time(field, time.fromisoformat(value))
            except ValueError:
                pass
    raise fail(field, value, "must be a wall-clock time like '09:30' (no time zone)")


def _as_weekdays(value: Any) -> tuple[int, ...]:
    days = tuple(value) if isinstance(value, list | tuple | set | frozenset) else ()
    valid = all(type(day) is int and 1 <= day <= 7 for day in days)
    if not days or not valid or len(set(days)) != len(days):
        raise fail(
            "days_of_week", value, "must list ISO weekdays, 1 (Monday) to 7 (Sunday), each once"
        )
    return tuple(sorted(days))


def _as_date(value: Any) -> date:
    match value:
        case datetime():
            pass
        case date():
            return value
        case str():
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
    raise fail(f"holidays: {value!r}", rule="must be a date like '2025-12-25'")


def _as_dates(value: Any) -> tuple[date, ...]:
    match value:
        case list() | tuple() | set() | frozenset():
            return tuple(sorted({_as_date(item) for item in value}))
    raise fail("holidays", value, "must be a list of dates like '2025-12-25'")


@cache
def _exchange_calendar(name: str) -> Any:
    # Imported here: exchange_calendars costs ~0.5 s to import and only calendar users pay it.
    import exchange_calendars

    if name not in exchange_calendars.get_calendar_names():
        raise fail(
            "calendar",
            name,
            "unknown exchange calendar (see exchange_calendars.get_calendar_names(), e.g. 'XNYS')",
        )
    # The library's default span starts 20 years before today; backtests may reach further back.
    # It ends a year after today, as far as it projects holidays.
    try:
        return exchange_calendars.get_calendar(name, start=_CALENDAR_START)
    except ValueError:  # this calendar's holidays are recorded only from a later year
        return exchange_calendars.get_calendar(name)


@validated_policy
@dataclass(frozen=True)
class MarketSessionDef:
    """
    When a market is open: daily hours in a time zone on some weekdays, optionally taken from
    an exchange calendar with its holidays and early closes.

    :param name: Label used in log messages.
    :param timezone: IANA time zone of `open_time`, `close_time` and the trading days.
        Defaults to the calendar's time zone, or "UTC" without a calendar.
    :param open_time: Daily open, a `datetime.time` or "HH:MM".
    :param close_time: Daily close, a `datetime.time` or "HH:MM".
    :param days_of_week: ISO weekdays (1 = Monday) of the trading days.
    :param is_24h: Open for the whole of each trading day, midnight to midnight.
    :param crosses_midnight: The session opens at `open_time` on the evening before its trading
        day and closes at `close_time` on it (e.g. 18:00-17:00); equal times mean 24 hours.
    :param calendar: Name of an `exchange_calendars` calendar (e.g. "XNYS"). Its sessions,
        holidays and early closes apply; `open_time`/`close_time`, when given, narrow them.
    :param holidays: Trading days (dates, or "YYYY-MM-DD") without a session.
    """

    name: str = "market"
    timezone: str | None = None
    open_time: time | None = None
    close_time: time | None = None
    days_of_week: tuple[int, ...] = ALL_WEEKDAYS
    is_24h: bool = False
    crosses_midnight: bool = False
    calendar: str | None = None
    holidays: tuple[date, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise fail("name", self.name, "must be a non-empty string")
        flag("is_24h", self.is_24h)
        flag("crosses_midnight", self.crosses_midnight)
        if self.calendar is not None and not isinstance(self.calendar, str):
            raise fail("calendar", self.calendar, "must be a calendar name like 'XNYS'")
        timezone_name = self.timezone
        if timezone_name is None:
            timezone_name = str(_exchange_calendar(self.calendar).tz) if self.calendar else "UTC"
        as_zone("timezone", timezone_name)
        open_time = _as_time("open_time", self.open_time)
        close_time = _as_time("close_time", self.close_time)
        object.__setattr__(self, "timezone", timezone_name)
        object.__setattr__(self, "open_time", open_time)
        object.__setattr__(self, "close_time", close_time)
        object.__setattr__(self, "days_of_week", _as_weekdays(self.days_of_week))
        object.__setattr__(self, "holidays", _as_dates(self.holidays))
        self._validate_hours(open_time, close_time)
        if self.calendar is not None:
            _exchange_calendar(self.calendar)

    def _validate_hours(self, open_time: time | None, close_time: time | None) -> None:
        if self.is_24h:
            if open_time is not None or close_time is not None or self.crosses_midnight:
                raise fail("is_24h", True, "leave open_time, close_time and crosses_midnight unset")
            return
        if open_time is None and close_time is None and self.calendar is not None:
            if self.crosses_midnight:
                raise fail("crosses_midnight", True, "needs open_time and close_time")
            return
        if open_time is None or close_time is None:
            raise fail(
                f"open_time={open_time}, close_time={close_time}",
                rule="a session needs both (or is_24h=True, or a calendar that defines them)",
            )
        if self.crosses_midnight and close_time > open_time:
            raise fail(
                f"close_time={close_time} is after open_time={open_time} with "
                "crosses_midnight=True",
                rule="a session lasts at most 24 hours",
            )
        if not self.crosses_midnight and close_time <= open_time:
            raise fail(
                f"close_time={close_time} is not after open_time={open_time}",
                rule="set crosses_midnight=True for a session that closes on the next day",
            )

    def is_open_at(self, when: datetime) -> bool:
        """
        :param when: A timezone-aware datetime.
        :return: True if a session is open at `when` (open <= when < close).
        """
        now = to_epoch_us("when", when)
        return self.timeline().open_session_close(now) > now

    def next_close_after(self, when: datetime) -> datetime:
        """
        :param when: A timezone-aware datetime.
        :return: The first session close strictly after `when`, as a UTC datetime.
        """
        return datetime_utc(self.timeline().first_close_after(to_epoch_us("when", when)))

    def timeline(self) -> "SessionTimeline":
        """This session's opens, closes and weekends (shared by equal session definitions)."""
        return _timeline(self)

    def day_window(self, day: date) -> tuple[int, int]:
        """Open and close (epoch microseconds) of this session's trading day `day`, from its
        own hours (not the calendar's)."""
        zone = ZoneInfo(self.timezone)  # ZoneInfo caches its instances
        if self.is_24h:
            return _wall_us(day, time(0), zone), _wall_us(day + timedelta(days=1), time(0), zone)
        open_day = day - timedelta(days=1) if self.crosses_midnight else day
        return _wall_us(open_day, self.open_time, zone), _wall_us(day, self.close_time, zone)


class SessionTimeline:
    """
    A session's opens and closes as sorted epoch microseconds, plus its weekends (the gap from
    a week's last close to the next week's first open), so every lookup is a bisection.
    """

    def __init__(self, session: MarketSessionDef) -> None:
        self._session = session
        self._first_day: date | None = None
        self._last_day: date | None = None
        self.opens: list[int] = []
        self.closes: list[int] = []
        self.weekend_last_session: list[int] = []
        self.weekend_ends: list[int] = []
        self._valid_from = 0
        self._valid_until = -1
        if session.calendar is not None:
            self._build_from_calendar()

    def _build_from_calendar(self) -> None:
        calendar = _exchange_calendar(self._session.calendar)
        schedule = calendar.schedule
        narrow = self._session.open_time is not None
        sessions = []
        for label, opens_at, closes_at in zip(
            schedule.index, schedule["open"], schedule["close"], strict=True
        ):
            day = label.date()
            if not self._is_trading_day(day):
                continue
            open_us, close_us = opens_at.value // 1000, closes_at.value // 1000
            if narrow:
                own_open, own_close = self._session.day_window(day)
                open_us, close_us = max(open_us, own_open), min(close_us, own_close)
            if open_us < close_us:
                sessions.append((day, open_us, close_us))
        self._index(sessions)
        self._valid_from = self.opens[0] if self.opens else 0
        self._valid_until = self.closes[-1] if self.closes else -1

    def _is_trading_day(self, day: date) -> bool:
        return day.isoweekday() in self._session.days_of_week and day not in self._session.holidays

    def _generate(self, first_day: date, last_day: date) -> None:
        sessions = []
        day = first_day
        while day <= last_day:
            if self._is_trading_day(day):
                open_us, close_us = self._session.day_window(day)
                if open_us < close_us:
                    sessions.append((day, open_us, close_us))
            day += timedelta(days=1)
        self._index(sessions)
        self._first_day, self._last_day = first_day, last_day
        margin = timedelta(days=_INNER_MARGIN_DAYS)
        self._valid_from = _wall_us(first_day + margin, time(0), UTC)
        self._valid_until = _wall_us(last_day - margin, time(0), UTC)

    def _index(self, sessions: list[tuple[date, int, int]]) -> None:
        self.opens = [open_us for _, open_us, _ in sessions]
        self.closes = [close_us for _, _, close_us in sessions]
        # ISO weeks start on Monday and date.toordinal() is 1 on Monday, 1 January of year 1.
        weeks = [(day.toordinal() - 1) // 7 for day, _, _ in sessions]
        self.weekend_last_session = [
            i
            for i in range(len(sessions) - 1)
            if weeks[i] != weeks[i + 1] and self.closes[i] < self.opens[i + 1]
        ]
        self.weekend_ends = [self.opens[i + 1] for i in self.weekend_last_session]

    def ensure(self, epoch_us: int) -> None:
        """Make sure the sessions around `epoch_us` are known, or say why they cannot be."""
        if self._valid_from <= epoch_us <= self._valid_until:
            return
        if self._session.calendar is not None:
            raise fail(
                format_utc(epoch_us),
                rule=f"outside the {self._session.calendar!r} calendar, which covers "
                f"{format_utc(self._valid_from)} to {format_utc(self._valid_until)}",
            )
        day = datetime_utc(epoch_us).date()
        reach = timedelta(days=_GENERATE_DAYS)
        first_day, last_day = day - reach, day + reach
        if self._first_day is not None:
            first_day, last_day = (
                min(first_day, self._first_day),
                max(last_day, self._last_day),
            )
        self._generate(first_day, last_day)

    def session_index_at(self, epoch_us: int) -> int:
        """Index of the last session opened at or before `epoch_us` (-1 if none)."""
        self.ensure(epoch_us)
        return bisect_right(self.opens, epoch_us) - 1

    def open_session_close(self, epoch_us: int) -> float:
        """Close of the session open at `epoch_us`, or -inf when the market is closed."""
        index = self.session_index_at(epoch_us)
        if index >= 0 and epoch_us < self.closes[index]:
            return self.closes[index]
        return -NEVER

    def first_close_after(self, epoch_us: int) -> float:
        """First close strictly after `epoch_us`; inf if the known sessions hold none."""
        self.ensure(epoch_us)
        index = bisect_right(self.closes, epoch_us)
        return self.closes[index] if index < len(self.closes) else NEVER

    def next_open_after(self, epoch_us: int) -> float:
        self.ensure(epoch_us)
        index = bisect_right(self.opens, epoch_us)
        return self.opens[index] if index < len(self.opens) else NEVER

    def weekend_after(self, epoch_us: int) -> tuple[float, float]:
        """Start (the last session's close) and end of the first weekend ending after `epoch_us`."""
        self.ensure(epoch_us)
        index = bisect_right(self.weekend_ends, epoch_us)
        if index == len(self.weekend_ends):
            return NEVER, NEVER
        return self.closes[self.weekend_last_session[index]], self.weekend_ends[index]


@lru_cache(maxsize=64)
def _timeline(session: MarketSessionDef) -> SessionTimeline:
    # Cached per session definition, so policies rebuilt each hyperopt epoch share the tables.
    return SessionTimeline(session)
