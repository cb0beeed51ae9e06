"""
Live MFE/MAE recording into Freqtrade's per-trade custom data.

Usage::

    class MyStrategy(MFEMAEMixin, IStrategy):
        ...

Each open trade gets the custom data keys ``pm_mfe`` and ``pm_mae`` (floats, ratios of the first
entry price, side-aware, before fees and leverage: ``pm_mfe >= 0``, ``pm_mae <= 0``) and
``pm_mfe_time`` / ``pm_mae_time`` (ISO 8601 UTC strings), written only when an extreme changes.
Read them with ``trade.get_custom_data("pm_mfe")``. Dry-run and live only: in backtesting and
hyperopt nothing runs per candle, and ``freqtrade-posmgmt analyze`` measures the excursions from
the candles instead. Switch off with ``mfe_mae_tracker = None`` or
``"posmgmt": {"mfe_mae": {"enabled": false}}`` in config.json.
"""

import dataclasses
from datetime import datetime

from freqtrade.enums import RunMode
from freqtrade.persistence import Order, Trade
from freqtrade.strategy import IStrategy

from freqtrade_posmgmt.mfe_mae_tracker import MFEMAETracker, MFEMetrics
from freqtrade_posmgmt.mixins._base import PARAMETERS, PolicyMixin
from freqtrade_posmgmt.mixins._hooks import CapabilityHooks
from freqtrade_posmgmt.registry import Capability

KEYS = ("pm_mfe", "pm_mae", "pm_mfe_time", "pm_mae_time")


class MFEMAEMixin(PolicyMixin):
    """
    Record each open trade's maximum favourable and adverse excursion, and when it happened.

    The extremes come from the trade's ``max_rate`` / ``min_rate``, which Freqtrade updates from
    every rate it sees; they are read once per bot loop (``bot_loop_start``) and at the final exit fill, so a new extreme's
    time is at most one loop (``process_throttle_secs``) late. Recorded values survive restarts:
    a restarted bot carries on from them.
    """

    pm_section = Capability.MFE_MAE
    mfe_mae_tracker: MFEMAETracker | None = PARAMETERS

    def pm_refresh(self) -> None:
        super().pm_refresh()
        tracker = self.pm_policy("mfe_mae", self.mfe_mae_tracker, MFEMAETracker)
        # A copy, so that no two strategy instances share the recorded extremes.
        self.pm_mfe_mae_tracker = None if tracker is None else dataclasses.replace(tracker)
        # Dry-run and live only: Freqtrade's backtest custom data is a list searched on every read.
        if tracker is not None and self.config.get("runmode") in (RunMode.LIVE, RunMode.DRY_RUN):
            self.pm_add_hooks(MFEMAEHooks(self, self.pm_mfe_mae_tracker))


class MFEMAEHooks(CapabilityHooks):
    """Records each open trade's extremes once per bot loop and at its final exit fill."""

    capability = Capability.MFE_MAE
    policy: MFEMAETracker

    def __init__(self, strategy: IStrategy, tracker: MFEMAETracker) -> None:
        super().__init__(strategy, tracker)
        self.trades: set[int] = set()
        """The ids of the open trades recorded at the last loop."""

    def on_loop_start(self, current_time: datetime) -> None:
        tracker = self.policy
        open_ids = set()
        for trade in Trade.get_trades_proxy(is_open=True):
            if self.record_trade(trade, current_time):
                open_ids.add(trade.id)
        for closed in self.trades - open_ids:
            tracker.clear(closed)
        self.trades = open_ids

    def record_trade(self, trade: Trade, current_time: datetime) -> bool:
        """Record ``trade``'s extremes so far; False if it has no filled entry yet."""
        tracker = self.policy
        entries = trade.select_filled_orders(trade.entry_side)
        if not entries or trade.max_rate is None or trade.min_rate is None:
            return False
        known = tracker.get_position_metrics(trade.id)
        fresh = False
        if known is None:
            saved = _saved_metrics(trade)
            fresh = saved is None
            # No excursion yet: both extremes are 0, reached at the entry.
            opened = trade.open_date_utc
            known = saved or MFEMetrics(mfe_time=opened, mae_time=opened)
            tracker.set_position_metrics(trade.id, known)
        updated = tracker.update_position_metrics(
            trade.id,
            entries[0].safe_price,
            trade.is_short,
            trade.max_rate,
            trade.min_rate,
            current_time,
        )
        if fresh or updated.mfe != known.mfe:
            trade.set_custom_data("pm_mfe", float(updated.mfe))
            trade.set_custom_data("pm_mfe_time", updated.mfe_time.isoformat())
        if fresh or updated.mae != known.mae:
            trade.set_custom_data("pm_mae", float(updated.mae))
            trade.set_custom_data("pm_mae_time", updated.mae_time.isoformat())
        return True

    def on_fill(self, trade: Trade, order: Order, current_time: datetime) -> None:
        """
        The poll a trade closes at (a stop filled at the candle's low) comes after the last
        ``bot_loop_start``: record the extremes it saw once the final exit filled.
        """
        if trade.is_open:
            return
        self.record_trade(trade, current_time)
        self.policy.clear(trade.id)
        self.trades.discard(trade.id)


def _saved_metrics(trade: Trade) -> MFEMetrics | None:
    """The extremes recorded before a restart, None if there are none."""
    saved = {key: trade.get_custom_data(key) for key in KEYS}
    if any(value is None for value in saved.values()):
        return None
    return MFEMetrics(
        mfe=saved["pm_mfe"],
        mae=saved["pm_mae"],
        mfe_time=datetime.fromisoformat(saved["pm_mfe_time"]),
        mae_time=datetime.fromisoformat(saved["pm_mae_time"]),
    )
