"""
Re-run a backtest with a recorder on Freqtrade's stop check, for the stop each trade held.

Freqtrade moves a trade's stop only in ``IStrategy.ft_stoploss_adjust`` (the strategy's
``custom_stoploss``, its built-in trailing stop), at each candle's stop check and after each
fill, and tests the candle against the stop it leaves. Wrapping that method on the strategy
object reads ``trade.stop_loss`` right after: the stop Freqtrade held, exactly. The rule that set it is the mixins' record of the
tightest stop they asked for (``strategy.pm_stop_source``), when the stop in force is that one.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from freqtrade.exchange.exchange_utils import ROUND_DOWN, ROUND_UP, price_to_precision
from freqtrade.persistence import LocalTrade

from freqtrade_posmgmt.stop_sources import STOP_SOURCES

logger = logging.getLogger(__name__)

STOP_INITIAL = "initial"
"""The strategy's ``stoploss`` from the entry (or Freqtrade's, before anyone moved it)."""
STOP_USER = "user"
"""Moved by the strategy's own ``custom_stoploss``, not by a position-management rule."""
STOP_FREQTRADE_TRAIL = "trail"
"""Freqtrade's built-in trailing stop (the trailing policy compiles to it when it can)."""
STOP_EXCHANGE = "exchange"
"""A stop order on the exchange (a trade database's record of where the stop was)."""
STOP_ROLES = (STOP_INITIAL, *STOP_SOURCES, STOP_USER, STOP_EXCHANGE)


@dataclass(frozen=True)
class StopPoint:
    time: datetime
    stop: float
    source: str


@dataclass
class Recording:
    """What the re-run backtest held, per trade (``(pair, open date)``)."""

    stops: dict[tuple[str, datetime], list[StopPoint]] = field(
        default_factory=lambda: defaultdict(list)
    )
    trades: list[LocalTrade] = field(default_factory=list)
    decisions: list[Any] = field(default_factory=list)
    """The mixins' decisions (refusals, resizes): ``strategy.pm_decisions``."""
    policies: dict[str, Any] = field(default_factory=dict)
    """The strategy's resolved position-management policies, by ``posmgmt`` section."""


def stop_rule(strategy: Any, trade: LocalTrade) -> str:
    """Which rule set the stop ``trade`` holds now (:data:`STOP_ROLES`)."""
    recorded = strategy.pm_stop_source(trade) if hasattr(strategy, "pm_stop_source") else None
    if recorded is not None and recorded[0] == trade.open_date:
        placed = price_to_precision(
            recorded[1],
            trade.price_precision,
            trade.precision_mode_price,
            rounding_mode=ROUND_DOWN if trade.is_short else ROUND_UP,
        )
        if placed == trade.stop_loss and recorded[2] in STOP_SOURCES:
            return recorded[2]
    if trade.stop_loss == trade.initial_stop_loss:
        return STOP_INITIAL
    return STOP_FREQTRADE_TRAIL if getattr(strategy, "trailing_stop", False) else STOP_USER


def attach(strategy: Any, recording: Recording) -> None:
    """Record the stop after each time Freqtrade adjusts the stop of ``strategy``'s trades."""
    adjust = strategy.ft_stoploss_adjust

    def ft_stoploss_adjust(current_rate: float, trade: LocalTrade, current_time: datetime,
                           *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        result = adjust(current_rate, trade, current_time, *args, **kwargs)
        key = (trade.pair, trade.open_date_utc)
        path = recording.stops[key]
        if not path:
            path.append(StopPoint(trade.open_date_utc, trade.initial_stop_loss, STOP_INITIAL))
        point = StopPoint(current_time, trade.stop_loss, stop_rule(strategy, trade))
        if len(path) > 1 and path[-1].time == current_time:
            path[-1] = point  # asked again for the same candle: the last answer holds
        elif (path[-1].stop, path[-1].source) != (point.stop, point.source):
            path.append(point)
        return result

    # An attribute of this object only: Freqtrade calls self.ft_stoploss_adjust.
    strategy.ft_stoploss_adjust = ft_stoploss_adjust


def run_backtest(config: dict[str, Any]) -> Recording:
    """
    Backtest the configured strategy (Freqtrade's ``Backtesting``, nothing exported) with the
    recorder attached.
    :param config: Freqtrade's configuration for a backtest (``RunMode.BACKTEST``)
    """
    from freqtrade.optimize.backtesting import Backtesting

    recording = Recording()
    backtesting = Backtesting(config)
    try:
        data, timerange = backtesting.load_bt_data()
        strategy = backtesting.strategylist[0]
        attach(strategy, recording)
        backtesting.backtest_one_strategy(strategy, data, timerange)
        recording.trades = sorted(
            LocalTrade.bt_trades + LocalTrade.bt_trades_open, key=lambda t: t.open_date
        )
        recording.decisions = list(strategy.__dict__.get("pm_decisions", []))
        recording.policies = {
            section: resolution.policy
            for section, resolution in getattr(strategy, "pm_resolved_policies", dict)().items()
            if resolution.policy is not None
        }
    finally:
        backtesting.exchange.close()
        Backtesting.cleanup()
    return recording


STOP_AT_EXIT = "at_exit"
"""A trade database's last stop: when it moved there is not stored (no stop on the exchange)."""


def from_database(db_url: str, strategy: str) -> Recording:
    """
    The trades of ``strategy`` in a Freqtrade trade database (a dry-run, live or replay bot's).
    Freqtrade stores each trade's initial and last stop, and every stop order placed on the
    exchange: the stop path is those, and the last stop at the exit when it moved otherwise.
    The mixins' decisions are not stored in the database: none are drawn.
    """
    from freqtrade.persistence import Trade, init_db

    init_db(db_url)
    trades = sorted(Trade.get_trades([Trade.strategy == strategy]).all(), key=lambda t: t.open_date)
    if not trades:
        found = sorted({trade.strategy or "(none)" for trade in Trade.get_trades().all()})
        raise LookupError(
            f"no trades of strategy {strategy} in it; its strategies: {', '.join(found) or 'none'}"
        )
    recording = Recording(trades=trades)
    for trade in trades:
        path = [StopPoint(trade.open_date_utc, trade.initial_stop_loss, STOP_INITIAL)]
        for order in trade.orders:
            if order.ft_order_side == "stoploss" and order.stop_price and order.order_date:
                path.append(StopPoint(order.order_date_utc, order.stop_price, STOP_EXCHANGE))
        if trade.stop_loss and trade.stop_loss != path[-1].stop:
            end = trade.close_date_utc or path[-1].time
            path.append(StopPoint(end, trade.stop_loss, STOP_AT_EXIT))
        recording.stops[(trade.pair, trade.open_date_utc)] = path
    return recording
