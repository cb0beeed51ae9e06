"""
Which mixin rule set a trade's stop, carried to the exit order's tag when the stop fills.

Every stop a capability asks for with a rule (``StopAnswer.source``) goes through
:meth:`StopSources.record`, which keeps the tightest one per trade and the rule that gave it. Freqtrade applies the tightest stop of all
answers, rounded to the tick, and only ever tightens it, so when the stop in force is the
tightest recorded one rounded as Freqtrade rounds it, a mixin rule set it; any other stop was set
by someone else (the strategy's own stop, or the initial ``stoploss``) and keeps Freqtrade's tag.
"""

from datetime import UTC, datetime

from freqtrade.enums import ExitType, RunMode
from freqtrade.exchange.exchange_utils import ROUND_DOWN, ROUND_UP, price_to_precision
from freqtrade.persistence import Order, Trade
from freqtrade.strategy import IStrategy

from freqtrade_posmgmt.mixins._account import decision_candle
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


class StopSources:
    """
    The stop-setting capabilities' shared record of who set each trade's stop; tags the stop
    exit with it (``trailing_stop_loss (pm_stop=breakeven)``). Built by the dispatcher at each
    refresh while a capability that names its stops asks for ``custom_stoploss``.
    """

    def __init__(self, strategy: IStrategy) -> None:
        self.strategy = strategy
        # trade id -> (its open date, tightest recorded stop, rule); ids restart per epoch.
        self.recorded: dict[int, tuple[datetime, float, str]] = {}
        # Dry-run and live keep the record in the trade's custom data too, so that a restart
        # keeps it (backtests keep custom data in a list searched on every read: memory only).
        self.saved = strategy.config.get("runmode") in (RunMode.DRY_RUN, RunMode.LIVE)

    def record(self, trade: Trade, stop: float, source: str) -> None:
        """Remember ``stop`` (a price) asked for by rule ``source``, if tighter than before."""
        recorded = self.recorded_stop(trade)
        if recorded is not None:
            tighter = stop < recorded[1] if trade.is_short else stop > recorded[1]
            if not tighter:
                return
        self.recorded[trade.id] = (trade.open_date, stop, source)
        if self.saved:
            trade.set_custom_data(STOP_SOURCE_KEY, {"stop": stop, "source": source})
            if recorded is None or recorded[2] != source:
                # The rule in force changed: a live user hears of breakeven and locks.
                candle = decision_candle(self.strategy.timeframe, datetime.now(UTC))
                notice = Notice(SOURCE_CAPABILITIES[source], STOP_MOVED, trade.pair, candle,
                                source, price=stop)  # fmt: skip
                notify(self.strategy, notice)

    def recorded_stop(self, trade: Trade) -> tuple[datetime, float, str] | None:
        """The tightest stop recorded for ``trade`` and its rule, from memory or, after a
        restart, from the trade's custom data; None if none."""
        recorded = self.recorded.get(trade.id)
        if recorded is not None and recorded[0] == trade.open_date:
            return recorded
        if not self.saved:
            return None
        saved = trade.get_custom_data(STOP_SOURCE_KEY)
        if not isinstance(saved, dict) or saved.get("source") not in SOURCE_CAPABILITIES:
            return None
        recorded = (trade.open_date, float(saved["stop"]), saved["source"])
        self.recorded[trade.id] = recorded
        return recorded

    def exit_capability(self, trade: Trade, exit_reason: str) -> str | None:
        """The capability whose rule set the stop a stop exit filled at, None if none of ours."""
        if exit_reason in STOP_EXIT_REASONS:
            source = self.stop_in_force(trade)
            if source is not None:
                return SOURCE_CAPABILITIES[source]
        return None

    def stop_in_force(self, trade: Trade, stop_in_force: float | None = None) -> str | None:
        """
        The rule of ours that set the stop in force on ``trade`` (or ``stop_in_force``, the
        stop price of an exchange's stop order), None if none of ours did.
        """
        stop_in_force = stop_in_force or trade.stop_loss
        recorded = self.recorded_stop(trade)
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

    def on_fill(self, trade: Trade, order: Order) -> None:
        """Tag a filled stop exit with the rule of ours that set the stop."""
        if order.ft_order_side == "stoploss":
            # The exchange's stop order filled: it carries no tag, and its stop price is the
            # stop that was in force when it was placed.
            reason, stop_in_force = ExitType.STOPLOSS_ON_EXCHANGE.value, order.stop_price
        elif order.ft_order_side == trade.exit_side and order.ft_order_tag in STOP_EXIT_REASONS:
            reason, stop_in_force = order.ft_order_tag, None
        else:
            if not trade.is_open:
                self.recorded.pop(trade.id, None)  # a long-running bot keeps open trades'
            return
        source = self.stop_in_force(trade, stop_in_force)
        self.recorded.pop(trade.id, None)
        if source is not None:
            # The order is Freqtrade's own object (only the trade is copied for user code).
            order.ft_order_tag = stop_exit_tag(reason, source)
