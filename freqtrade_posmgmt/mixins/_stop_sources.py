"""
Which mixin rule set a trade's stop, carried to the exit order's tag when the stop fills.

Every stop a mixin asks for goes through :meth:`StopSourceMixin.pm_record_stop`, which keeps the
tightest one per trade and the rule that gave it. Freqtrade applies the tightest stop of all
answers, rounded to the tick, and only ever tightens it, so when the stop in force is the
tightest recorded one rounded as Freqtrade rounds it, a mixin rule set it; any other stop was set
by someone else (the strategy's own stop, or the initial ``stoploss``) and keeps Freqtrade's tag.
"""

from datetime import UTC, datetime

from freqtrade.enums import ExitType, RunMode
from freqtrade.exchange.exchange_utils import ROUND_DOWN, ROUND_UP, price_to_precision
from freqtrade.persistence import Order, Trade

from freqtrade_posmgmt.mixins._account import decision_candle
from freqtrade_posmgmt.mixins._base import PolicyMixin, guarded
from freqtrade_posmgmt.notifications import STOP_MOVED, Notice, notify
from freqtrade_posmgmt.registry import Capability
from freqtrade_posmgmt.stop_sources import (
    STOP_BREAKEVEN,
    STOP_BREAKEVEN_AFTER_TP,
    STOP_EXIT_REASONS,
    STOP_LOCK,
    STOP_TRAIL,
    stop_exit_tag,
)

# The trade's custom data key of the tightest stop recorded and its rule (dry-run and live).
STOP_SOURCE_KEY = "pm_stop_source"

# The capability each stop rule belongs to.
SOURCE_CAPABILITIES = {
    STOP_TRAIL: Capability.TRAILING_STOP,
    STOP_BREAKEVEN: Capability.TRAILING_STOP,
    STOP_LOCK: Capability.TRAILING_STOP,
    STOP_BREAKEVEN_AFTER_TP: Capability.PARTIAL_EXITS,
}


class StopSourceMixin(PolicyMixin):
    """
    Shared by the mixins that set stops: records who set the stop and tags the stop exit with
    it (``trailing_stop_loss (pm_stop=breakeven)``). A capability that records stops switches
    the tagging on with ``self.pm_use_callbacks(StopSourceMixin)``.
    """

    def pm_refresh(self) -> None:
        super().pm_refresh()
        # trade id -> (its open date, tightest recorded stop, rule); ids restart per epoch.
        self._pm_stop_sources: dict[int, tuple[datetime, float, str]] = {}
        # Dry-run and live keep the record in the trade's custom data too, so that a restart
        # keeps it (backtests keep custom data in a list searched on every read: memory only).
        self._pm_stop_sources_saved = self.config.get("runmode") in (RunMode.DRY_RUN, RunMode.LIVE)

    def pm_record_stop(self, trade: Trade, stop: float, source: str) -> None:
        """Remember ``stop`` (a price) asked for by rule ``source``, if tighter than before."""
        recorded = self._pm_recorded_stop(trade)
        if recorded is not None:
            tighter = stop < recorded[1] if trade.is_short else stop > recorded[1]
            if not tighter:
                return
        self._pm_stop_sources[trade.id] = (trade.open_date, stop, source)
        if self._pm_stop_sources_saved:
            trade.set_custom_data(STOP_SOURCE_KEY, {"stop": stop, "source": source})
            if recorded is None or recorded[2] != source:
                # The rule in force changed: a live user hears of breakeven and locks.
                candle = decision_candle(self.timeframe, datetime.now(UTC))
                notice = Notice(SOURCE_CAPABILITIES[source], STOP_MOVED, trade.pair, candle,
                                source, price=stop)  # fmt: skip
                notify(self, notice)

    def _pm_recorded_stop(self, trade: Trade) -> tuple[datetime, float, str] | None:
        """The tightest stop recorded for ``trade`` and its rule, from memory or, after a
        restart, from the trade's custom data; None if none."""
        recorded = self._pm_stop_sources.get(trade.id)
        if recorded is not None and recorded[0] == trade.open_date:
            return recorded
        if not self._pm_stop_sources_saved:
            return None
        saved = trade.get_custom_data(STOP_SOURCE_KEY)
        if not isinstance(saved, dict) or saved.get("source") not in SOURCE_CAPABILITIES:
            return None
        recorded = (trade.open_date, float(saved["stop"]), saved["source"])
        self._pm_stop_sources[trade.id] = recorded
        return recorded

    def pm_exit_capability(self, trade: Trade, exit_reason: str) -> str | None:
        if exit_reason in STOP_EXIT_REASONS:
            source = self._pm_stop_in_force(trade)
            if source is not None:
                return SOURCE_CAPABILITIES[source]
        return super().pm_exit_capability(trade, exit_reason)

    def _pm_stop_in_force(self, trade: Trade, stop_in_force: float | None = None) -> str | None:
        """
        The rule of ours that set the stop in force on ``trade`` (or ``stop_in_force``, the
        stop price of an exchange's stop order), None if none of ours did.
        """
        stop_in_force = stop_in_force or trade.stop_loss
        recorded = self._pm_recorded_stop(trade)
        if recorded is None or not stop_in_force:
            return None
        _, stop, source = recorded
        # As Trade.adjust_stop_loss rounds a stop: to the tick, towards the price.
        placed = price_to_precision(
            stop,
            trade.price_precision,
            trade.precision_mode_price,
            rounding_mode=ROUND_DOWN if trade.is_short else ROUND_UP,
        )
        return source if placed == stop_in_force else None

    def order_filled(
        self, pair: str, trade: Trade, order: Order, current_time: datetime, **kwargs
    ) -> None:
        self._pm_tag_stop_exit(trade, order)
        if not trade.is_open:
            self._pm_stop_sources.pop(trade.id, None)  # a long-running bot keeps open trades'
        super().order_filled(
            pair=pair, trade=trade, order=order, current_time=current_time, **kwargs
        )

    @guarded(None)
    def _pm_tag_stop_exit(self, trade: Trade, order: Order) -> None:
        if order.ft_order_side == "stoploss":
            # The exchange's stop order filled: it carries no tag, and its stop price is the
            # stop that was in force when it was placed.
            reason, stop_in_force = ExitType.STOPLOSS_ON_EXCHANGE.value, order.stop_price
        elif order.ft_order_side == trade.exit_side and order.ft_order_tag in STOP_EXIT_REASONS:
            reason, stop_in_force = order.ft_order_tag, None
        else:
            return
        source = self._pm_stop_in_force(trade, stop_in_force)
        self._pm_stop_sources.pop(trade.id, None)
        if source is not None:
            # The order is Freqtrade's own object (only the trade is copied for user code).
            order.ft_order_tag = stop_exit_tag(reason, source)
