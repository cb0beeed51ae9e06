"""
Time exits and session gating on Freqtrade's ``custom_exit`` and ``confirm_trade_entry``.

Usage::

    class MyStrategy(TimeExitMixin, IStrategy):
        time_exit_policy = TimeExitPolicy(
            end_of_day_flat=True,
            market_session=MarketSessionDef("NYSE", calendar="XNYS"),
            exit_minutes_before_close=30,
        )

or ``"posmgmt": {"time_exits": {"weekend_flat": true, "market_timezone": "Europe/Berlin"}}``
in config.json.
"""

import logging

from freqtrade.strategy import IntParameter, IStrategy

from freqtrade_posmgmt.mixins._account import decision_candle
from freqtrade_posmgmt.mixins._base import PARAMETERS, PolicyConfigError, PolicyMixin
from freqtrade_posmgmt.mixins._decisions import Decision, decision_log_level, record_decision
from freqtrade_posmgmt.mixins._hooks import CapabilityHooks, EntryRequest, ExitRequest
from freqtrade_posmgmt.registry import Capability, DecisionKind
from freqtrade_posmgmt.time_exits import TimeExitPolicy

logger = logging.getLogger(__name__)

CAPABILITY = Capability.TIME_EXITS


class TimeExitMixin(PolicyMixin):
    """
    Close trades by time and refuse entries a time rule would close at once.

    Configure with the class attribute ``time_exit_policy`` (a ``TimeExitPolicy``, or None to
    switch off), ``"posmgmt": {"time_exits": {...}}`` in config.json, or, by default, the
    hyperoptable Parameter ``pm_time_max_holding_hours`` in space ``pm_time``.
    Exits are tagged ``time_max_holding``, ``time_weekend``, ``time_end_of_day`` or
    ``time_session_closed``. Freqtrade evaluates ``custom_exit`` only with
    ``use_exit_signal = True``; a strategy that sets it to False fails at load.
    """

    pm_section = Capability.TIME_EXITS
    time_exit_policy: TimeExitPolicy | None = PARAMETERS

    pm_time_max_holding_hours = IntParameter(6, 336, default=336, space="pm_time")

    def pm_refresh(self) -> None:
        super().pm_refresh()
        self.pm_time_exit_policy = self.pm_policy(
            "time_exits", self.time_exit_policy, self._pm_time_from_parameters
        )
        if self.pm_time_exit_policy is None:
            return
        if not self.use_exit_signal:
            raise PolicyConfigError(
                "use_exit_signal=False: time exits need it True, as Freqtrade only calls "
                "custom_exit then (leave exit columns empty to have no signal exits)"
            )
        self.pm_enable("use_exit_signal", True)
        self.pm_add_hooks(TimeExitHooks(self, self.pm_time_exit_policy))

    def _pm_time_from_parameters(self) -> TimeExitPolicy:
        return TimeExitPolicy(max_holding_hours=self.pm_time_max_holding_hours.value)


class TimeExitHooks(CapabilityHooks):
    """Time exits' answers: an exit reason, an entry refusal; the refusals logged per pair."""

    capability = CAPABILITY
    policy: TimeExitPolicy

    def __init__(self, strategy: IStrategy, policy: TimeExitPolicy) -> None:
        super().__init__(strategy, policy)
        # pair -> the refusal last logged: its text is the same for its whole closed period.
        self.logged_refusals: dict[str, str] = {}

    def callbacks(self) -> set[str]:
        # Freqtrade confirms time exits: one the strategy refuses is counted.
        return super().callbacks() | {"confirm_trade_exit"}

    def exit_reason(self, request: ExitRequest) -> str | None:
        return self.policy.check_time_exit_conditions(
            request.trade.open_date_utc, request.current_time
        )[1]

    def entry_refusal(self, request: EntryRequest) -> str | None:
        refusal = self.policy.entry_refusal(request.current_time)
        if refusal is None:
            return None
        strategy, pair = self.strategy, request.pair
        if self.logged_refusals.get(pair) != refusal:
            self.logged_refusals[pair] = refusal
            logger.log(
                decision_log_level(strategy),
                "%s %s entry at %s refused: %s",
                pair,
                request.side,
                request.current_time,
                refusal,
            )
        candle = decision_candle(strategy.timeframe, request.current_time)
        stake = request.amount * request.rate
        decision = Decision(CAPABILITY, DecisionKind.REFUSED, refusal, stake, pair, candle)
        record_decision(strategy, decision, log=False)
        return refusal
