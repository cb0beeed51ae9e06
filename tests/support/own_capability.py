"""
A capability written by a user, on the hooks the package's own mixins use: docs/internals.md
shows this file, and tests/integration/test_own_capability.py backtests it.
"""

from dataclasses import dataclass
from datetime import datetime

from freqtrade.strategy import IntParameter

from freqtrade_posmgmt.mixins._base import PARAMETERS, PolicyMixin
from freqtrade_posmgmt.mixins._hooks import CapabilityHooks, EntryRequest
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


class WeekdayGateHooks(CapabilityHooks):
    """What the gate answers: a refusal on a closed weekday. Built while the gate is on."""

    capability = "weekday_gate"
    policy: WeekdayGatePolicy

    def entry_refusal(self, request: EntryRequest) -> str | None:
        # An entry needs every consent: ours is missing, so no one after us is asked.
        if self.policy.refuses(request.current_time):
            return f"closed on weekday {request.current_time.weekday()}"
        return None


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
        if self.pm_weekday_gate is not None:  # off: no hooks, Freqtrade never asks us
            self.pm_add_hooks(WeekdayGateHooks(self, self.pm_weekday_gate))

    def _pm_weekday_from_parameters(self) -> WeekdayGatePolicy:
        return WeekdayGatePolicy(closed_weekdays=(self.pm_weekday_closed.value,))
