"""
Time exits and session gating: a framework-free policy.

From a trade's entry time and the current time, `TimeExitPolicy` decides whether a time rule
closes the trade (maximum holding time, end of day, weekend, session closed), when that will
happen, and why an entry now would be refused. Times are timezone-aware datetimes; naive ones
are rejected, never guessed.

Sessions (hours, time zones, DST, holidays) are :mod:`freqtrade_posmgmt.market_sessions`;
``MarketSessionDef`` is re-exported here, the seed's import path.
"""

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from freqtrade_posmgmt.market_sessions import (
    MICROSECOND,
    NEVER,
    MarketSessionDef,
    SessionTimeline,
    as_zone,
    datetime_utc,
    format_utc,
    to_epoch_us,
)
from freqtrade_posmgmt.validation import (
    coerce,
    fail,
    flag,
    number,
    optional_number,
    validated_policy,
)

__all__ = [
    "EXIT_END_OF_DAY",
    "EXIT_MAX_HOLDING",
    "EXIT_SESSION_CLOSED",
    "EXIT_WEEKEND",
    "MarketSessionDef",
    "TimeExitPolicy",
    "TimeRestrictions",
]

EXIT_MAX_HOLDING = "time_max_holding"
EXIT_WEEKEND = "time_weekend"
EXIT_END_OF_DAY = "time_end_of_day"
EXIT_SESSION_CLOSED = "time_session_closed"

_US_PER_MINUTE = 60_000_000


def _as_nested(field: str, cls: type, value: Any) -> Any:
    """Build a nested dataclass from its JSON shape (a dict), naming unknown keys clearly."""
    match value:
        case cls():
            return value
        case dict():
            known = [f.name for f in fields(cls)]
            unknown = sorted(set(value) - set(known))
            if unknown:
                raise fail(field, rule=f"unknown key(s) {unknown}; expected some of {known}")
            return cls(**value)
    raise fail(field, value, f"must be a {cls.__name__} or a dict of its fields")


@validated_policy
@dataclass(frozen=True)
class TimeRestrictions:
    """
    Session restrictions. All off by default: omitting them restricts nothing.

    :param no_overnight: Hold no position while the session is closed: exit
        (`time_session_closed`) at the first check when it is, and take no entries then.
    :param no_weekend: The weekend rule, exactly as `TimeExitPolicy.weekend_flat`.
    :param trading_hours_only: Take entries only while the session is open (exits unaffected).
    """

    no_overnight: bool = False
    no_weekend: bool = False
    trading_hours_only: bool = False

    def __post_init__(self) -> None:
        for name in ("no_overnight", "no_weekend", "trading_hours_only"):
            flag(name, getattr(self, name))


@validated_policy
@dataclass(frozen=True)
class TimeExitPolicy:
    """
    Time-based exits and the entry gating that goes with them.

    :param max_holding_hours: Exit (`time_max_holding`) at the first check at or after
        entry + this many hours. None: no limit.
    :param end_of_day_flat: Exit (`time_end_of_day`) at the first check at or after the first
        session close since entry, and take entries only while the session is open.
        Needs `market_session`.
    :param weekend_flat: Exit (`time_weekend`) at the first check in or after the weekend that
        follows entry, and take no entries inside it. With a `market_session` the weekend runs
        from a week's last close to the next week's first open; without one, from Saturday 00:00
        to Monday 00:00 in `market_timezone`.
    :param market_timezone: IANA time zone of the weekend when there is no `market_session`.
    :param time_restrictions: `TimeRestrictions` (or a dict of its fields).
    :param market_session: `MarketSessionDef` (or a dict of its fields), needed by the session
        rules.
    :param exit_minutes_before_close: Treat every session as closing this many minutes early,
        so checks on coarse candles are flat before the real close. Needs `market_session`.
    """

    max_holding_hours: float | None = None
    end_of_day_flat: bool = False
    weekend_flat: bool = False
    market_timezone: str = "UTC"
    time_restrictions: TimeRestrictions = TimeRestrictions()
    market_session: MarketSessionDef | None = None
    exit_minutes_before_close: float = 0.0

    # Derived from the fields above in __post_init__, so that a check is a few integer
    # comparisons: not arguments, not compared, not shown.
    _hold_us: int | None = field(init=False, repr=False, compare=False)
    _early_us: int = field(init=False, repr=False, compare=False)
    _sessions: SessionTimeline | None = field(init=False, repr=False, compare=False)
    _weekend: SessionTimeline | None = field(init=False, repr=False, compare=False)
    _exit_when_closed: bool = field(init=False, repr=False, compare=False)
    _gate_on_session: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        optional_number(
            "max_holding_hours",
            self.max_holding_hours,
            above=0,
            rule="must be a number of hours above 0",
        )
        minutes = self.exit_minutes_before_close
        number(
            "exit_minutes_before_close",
            minutes,
            at_least=0,
            rule="must be a number of minutes, 0 or more",
        )
        flag("end_of_day_flat", self.end_of_day_flat)
        flag("weekend_flat", self.weekend_flat)
        as_zone("market_timezone", self.market_timezone)
        restrictions = self.time_restrictions
        restrictions = TimeRestrictions() if restrictions is None else restrictions
        restrictions = _as_nested("time_restrictions", TimeRestrictions, restrictions)
        coerce(self, time_restrictions=restrictions)
        session = self.market_session
        if session is not None:
            session = _as_nested("market_session", MarketSessionDef, session)
            coerce(self, market_session=session)
        else:
            for name, value in (
                ("end_of_day_flat", self.end_of_day_flat),
                ("time_restrictions.no_overnight", restrictions.no_overnight),
                (
                    "time_restrictions.trading_hours_only",
                    restrictions.trading_hours_only,
                ),
                ("exit_minutes_before_close", minutes),
            ):
                if value:
                    raise fail(name, value, "needs a market_session")
        self._prepare(session, restrictions)

    def _prepare(self, session: MarketSessionDef | None, restrictions: TimeRestrictions) -> None:
        """Set the derived fields (the dataclass is frozen, hence object.__setattr__)."""
        setattr_ = object.__setattr__
        hold = self.max_holding_hours
        setattr_(
            self,
            "_hold_us",
            None if hold is None else timedelta(hours=hold) // MICROSECOND,
        )
        setattr_(self, "_early_us", round(self.exit_minutes_before_close * _US_PER_MINUTE))
        setattr_(self, "_sessions", None if session is None else session.timeline())
        weekend = None
        if self.weekend_flat or restrictions.no_weekend:
            weekend = (
                self._sessions
                or MarketSessionDef(
                    "weekdays",
                    timezone=self.market_timezone,
                    is_24h=True,
                    days_of_week=(1, 2, 3, 4, 5),
                ).timeline()
            )
        setattr_(self, "_weekend", weekend)
        setattr_(self, "_exit_when_closed", restrictions.no_overnight)
        setattr_(
            self,
            "_gate_on_session",
            self.end_of_day_flat or restrictions.no_overnight or restrictions.trading_hours_only,
        )

    def _weekend_start(self, entry_us: int) -> float:
        start, _ = self._weekend.weekend_after(entry_us)
        return start - self._early_us

    def _day_end(self, entry_us: int) -> float:
        return self._sessions.first_close_after(entry_us) - self._early_us

    def _open_until(self, now_us: int) -> float:
        """Effective close of the session open at `now_us`; -inf when closed."""
        return self._sessions.open_session_close(now_us) - self._early_us

    def _exit_reason(self, entry_us: int, now_us: int) -> str | None:
        if self._hold_us is not None and now_us - entry_us >= self._hold_us:
            return EXIT_MAX_HOLDING
        if self._weekend is not None and now_us >= self._weekend_start(entry_us):
            return EXIT_WEEKEND
        if self.end_of_day_flat and now_us >= self._day_end(entry_us):
            return EXIT_END_OF_DAY
        if self._exit_when_closed and now_us >= self._open_until(now_us):
            return EXIT_SESSION_CLOSED
        return None

    def check_time_exit_conditions(
        self, entry_time: datetime, now_time: datetime
    ) -> tuple[bool, str | None]:
        """
        Decide whether a time rule closes a trade now. Rules are checked in the order
        max holding, weekend, end of day, session closed; the first that fires is reported.

        :param entry_time: When the trade was opened (timezone-aware).
        :param now_time: The time of this check (timezone-aware).
        :return: (True, reason) to exit, with reason one of `time_max_holding`,
            `time_weekend`, `time_end_of_day`, `time_session_closed`; else (False, None).
        """
        reason = self._exit_reason(
            to_epoch_us("entry_time", entry_time), to_epoch_us("now_time", now_time)
        )
        return reason is not None, reason

    def get_next_exit_time(self, entry_time: datetime, now_time: datetime) -> datetime | None:
        """
        :param entry_time: When the trade was opened (timezone-aware).
        :param now_time: The time of this check (timezone-aware).
        :return: The earliest time at or after `now_time` at which a time rule closes the
            trade (`now_time` itself when one already does), in UTC; None if none ever will.
        """
        entry_us = to_epoch_us("entry_time", entry_time)
        now_us = to_epoch_us("now_time", now_time)
        due: list[float] = []
        if self._hold_us is not None:
            due.append(entry_us + self._hold_us)
        if self._weekend is not None:
            due.append(self._weekend_start(entry_us))
        if self.end_of_day_flat:
            due.append(self._day_end(entry_us))
        if self._exit_when_closed:
            due.append(max(self._open_until(now_us), now_us))
        due = [max(at, now_us) for at in due if at != NEVER]
        return datetime_utc(int(min(due))) if due else None

    def entry_refusal(self, now_time: datetime) -> str | None:
        """
        Decide whether an entry now would break a time rule: inside a weekend, or, when a
        session rule is on, while the session is closed (outside its hours, on a holiday) or
        within `exit_minutes_before_close` of its close.

        :param now_time: The time of the proposed entry (timezone-aware).
        :return: Why the entry is refused, starting with the rule's exit reason and naming
            when the refusal ends (the same text for a whole closed period); None to allow.
        """
        now_us = to_epoch_us("now_time", now_time)
        if self._weekend is not None:
            start, end = self._weekend.weekend_after(now_us)
            if now_us >= start - self._early_us:
                return f"{EXIT_WEEKEND}: inside the weekend until {format_utc(end)}"
        if self._gate_on_session and now_us >= self._open_until(now_us):
            rule = EXIT_END_OF_DAY if self.end_of_day_flat else EXIT_SESSION_CLOSED
            session = f"session {self.market_session.name!r}"
            close = self._sessions.open_session_close(now_us)
            if close > now_us:
                return (
                    f"{rule}: {session} closes at {format_utc(close)}, within "
                    f"exit_minutes_before_close={self.exit_minutes_before_close}"
                )
            next_open = self._sessions.next_open_after(now_us)
            return f"{rule}: {session} is closed until {format_utc(next_open)}"
        return None
