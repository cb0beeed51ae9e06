"""
A capability written by a user, on the mechanisms the package's own mixins use: docs/internals.md
shows this file, and tests/integration/test_own_capability.py backtests it.
"""

from dataclasses import dataclass
from datetime import datetime

from freqtrade.strategy import IntParameter

from freqtrade_posmgmt.mixins._base import PARAMETERS, PolicyMixin, guarded
from freqtrade_posmgmt.validation import coerce, fail, validated_policy, whole


@validated_policy
@dataclass(frozen=True)
class WeekdayGatePolicy:
    """
    Refuse new entries on some days of the week (UTC). Framework-free: values in, decision out.
    :param closed_weekdays: days without entries, Monday = 0 ... Sunday = 6
    """

    closed_weekdays: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        if isinstance(self.closed_weekdays, str | int):
            raise fail("closed_weekdays", self.closed_weekdays, "must be a list of weekdays")
        days = tuple(whole("closed_weekdays", day) for day in self.closed_weekdays)
        if any(day > 6 for day in days):
            raise fail("closed_weekdays", self.closed_weekdays, "weekdays run from 0 to 6")
        coerce(self, closed_weekdays=days)

    def refuses(self, current_time: datetime) -> bool:
        return current_time.weekday() in self.closed_weekdays


class WeekdayGateMixin(PolicyMixin):
    """
    No entries on closed weekdays. Configure with the class attribute ``weekday_gate_policy``
    (a ``WeekdayGatePolicy``, or None to switch off), ``"posmgmt": {"weekday_gate": {...}}`` in
    config.json, or, by default, the hyperoptable Parameter ``pm_weekday_closed`` (one day).
    """

    pm_section = "weekday_gate"
    weekday_gate_policy: WeekdayGatePolicy | None = PARAMETERS

    pm_weekday_closed = IntParameter(0, 6, default=0, space="pm_weekday")

    def pm_refresh(self) -> None:
        super().pm_refresh()
        self.pm_weekday_gate = self.pm_policy(
            self.pm_section, self.weekday_gate_policy, self._pm_weekday_from_parameters
        )
        if self.pm_weekday_gate is not None:
            self.pm_use_callbacks(WeekdayGateMixin)  # off: Freqtrade never reaches our callback

    def _pm_weekday_from_parameters(self) -> WeekdayGatePolicy:
        return WeekdayGatePolicy(closed_weekdays=(self.pm_weekday_closed.value,))

    def confirm_trade_entry(
        self,
        pair: str,
        order_type: str,
        amount: float,
        rate: float,
        time_in_force: str,
        current_time: datetime,
        entry_tag: str | None,
        side: str,
        **kwargs,
    ) -> bool:
        if self._pm_weekday_refuses(current_time):
            return False  # an entry needs every consent: ours is missing, no need to ask on
        return super().confirm_trade_entry(
            pair=pair,
            order_type=order_type,
            amount=amount,
            rate=rate,
            time_in_force=time_in_force,
            current_time=current_time,
            entry_tag=entry_tag,
            side=side,
            **kwargs,
        )

    @guarded(False)
    def _pm_weekday_refuses(self, current_time: datetime) -> bool:
        return self.pm_weekday_gate is not None and self.pm_weekday_gate.refuses(current_time)
