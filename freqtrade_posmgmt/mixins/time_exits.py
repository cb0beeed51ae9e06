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
from datetime import datetime

from freqtrade.persistence import Trade
from freqtrade.strategy import IntParameter

from freqtrade_posmgmt.mixins._account import decision_candle
from freqtrade_posmgmt.mixins._base import PARAMETERS, PolicyConfigError, PolicyMixin, guarded
from freqtrade_posmgmt.mixins._decisions import Decision, decision_log_level, record_decision
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
        self._pm_time_logged_refusals: dict[str, str] = {}
        if self.pm_time_exit_policy is None:
            return
        if not self.use_exit_signal:
            raise PolicyConfigError(
                "use_exit_signal=False: time exits need it True, as Freqtrade only calls "
                "custom_exit then (leave exit columns empty to have no signal exits)"
            )
        self.pm_enable("use_exit_signal", True)
        self.pm_use_callbacks(TimeExitMixin)
        self.pm_watch_exits()

    def _pm_time_from_parameters(self) -> TimeExitPolicy:
        return TimeExitPolicy(max_holding_hours=self.pm_time_max_holding_hours.value)

    def custom_exit(
        self,
        pair: str,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        **kwargs,
    ) -> str | bool | None:
        reason = self._pm_time_exit_reason(trade, current_time)
        if reason is not None:
            return reason
        return super().custom_exit(
            pair=pair,
            trade=trade,
            current_time=current_time,
            current_rate=current_rate,
            current_profit=current_profit,
            **kwargs,
        )

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
        refusal = self._pm_time_entry_refusal(current_time)
        if refusal is not None:
            # A refusal's text is the same for its whole closed period: log it once per pair.
            if self._pm_time_logged_refusals.get(pair) != refusal:
                self._pm_time_logged_refusals[pair] = refusal
                logger.log(
                    decision_log_level(self),
                    "%s %s entry at %s refused: %s",
                    pair,
                    side,
                    current_time,
                    refusal,
                )
            candle = decision_candle(self.timeframe, current_time)
            decision = Decision(
                CAPABILITY, DecisionKind.REFUSED, refusal, amount * rate, pair, candle
            )
            record_decision(self, decision, log=False)
            return False
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

    @guarded(None)
    def _pm_time_exit_reason(self, trade: Trade, current_time: datetime) -> str | None:
        policy = self.pm_time_exit_policy
        if policy is None:
            return None
        return policy.check_time_exit_conditions(trade.open_date_utc, current_time)[1]

    @guarded(None)
    def _pm_time_entry_refusal(self, current_time: datetime) -> str | None:
        policy = self.pm_time_exit_policy
        return None if policy is None else policy.entry_refusal(current_time)
