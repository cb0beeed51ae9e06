"""
Partial exits and scale-ins on Freqtrade's ``adjust_trade_position``.

Usage::

    class MyStrategy(PartialExitMixin, IStrategy):
        partial_exit_policy = PartialExitPolicy(
            exit_targets=[0.03, 0.06, 0.10], exit_sizes=[0.25, 0.25, 0.5]
        )

or ``"posmgmt": {"partial_exits": {"exit_targets": [...], ...}}`` in config.json.
"""

from datetime import datetime

from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import Trade
from freqtrade.strategy import DecimalParameter

from freqtrade_posmgmt.mixins._base import PARAMETERS, PolicyMixin, guarded
from freqtrade_posmgmt.partial_manager import (
    CANDLES_SINCE_LAST_FILL,
    PartialExitPolicy,
    PositionState,
)
from freqtrade_posmgmt.trailing_stops import stoploss_ratio

# Freqtrade's default reserve on minimum stakes (config key ``amount_reserve_percent``).
DEFAULT_AMOUNT_RESERVE = 0.05


class PartialExitMixin(PolicyMixin):
    """
    Take profit in steps and add to positions, one order per ``adjust_trade_position`` call.

    Configure with the class attribute ``partial_exit_policy`` (a ``PartialExitPolicy``, or None
    to switch off), ``"posmgmt": {"partial_exits": {...}}`` in config.json, or, by default, the
    hyperoptable Parameters in space ``pm_partial``: one target, its size and one scale-in.
    Which levels already fired is read from the trade's filled order tags (``pm_tp1``,
    ``pm_add1``), so a restarted bot carries on where it stopped.
    """

    pm_section = "partial_exits"
    partial_exit_policy: PartialExitPolicy | None = PARAMETERS

    pm_partial_target = DecimalParameter(0.01, 0.10, default=0.04, decimals=3, space="pm_partial")
    pm_partial_size = DecimalParameter(0.1, 1.0, default=0.5, decimals=2, space="pm_partial")
    pm_partial_scale_in = DecimalParameter(
        -0.15, -0.01, default=-0.05, decimals=3, space="pm_partial"
    )

    def pm_refresh(self) -> None:
        super().pm_refresh()
        self.pm_partial_policy = self.pm_policy(
            "partial_exits", self.partial_exit_policy, self._pm_partial_from_parameters
        )
        self._pm_partial_states: dict[int, tuple[tuple, PositionState]] = {}
        if self.pm_partial_policy is None:
            return
        self._pm_rest_factor = self._pm_min_rest_factor()
        self.pm_enable("position_adjustment_enable", True)
        cap = self.pm_partial_policy.max_scale_ins
        if self._pm_user_features["position_adjustment_enable"]:
            # The user's own scale-ins keep their own cap beside ours (-1: unlimited).
            users = self._pm_user_features["max_entry_position_adjustment"]
            cap = -1 if users < 0 else users + cap
        self.pm_enable("max_entry_position_adjustment", cap)
        if self.pm_partial_policy.breakeven_after_first_exit:
            self.pm_enable("use_custom_stoploss", True)
        self.pm_use_callbacks(PartialExitMixin)

    def _pm_partial_from_parameters(self) -> PartialExitPolicy:
        return PartialExitPolicy(
            exit_targets=[self.pm_partial_target.value],
            exit_sizes=[self.pm_partial_size.value],
            scale_in_thresholds=[self.pm_partial_scale_in.value],
            scale_in_sizes=[0.5],
            max_scale_ins=1,
        )

    def adjust_trade_position(
        self,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        min_stake: float | None,
        max_stake: float,
        current_entry_rate: float,
        current_exit_rate: float,
        current_entry_profit: float,
        current_exit_profit: float,
        **kwargs,
    ) -> float | tuple[float | None, str | None] | None:
        adjustment = self._pm_partial_adjustment(
            trade,
            current_time,
            min_stake,
            max_stake,
            current_entry_rate,
            current_exit_rate,
            current_entry_profit,
            current_exit_profit,
        )
        if adjustment is not None:
            return adjustment
        return super().adjust_trade_position(
            trade=trade,
            current_time=current_time,
            current_rate=current_rate,
            current_profit=current_profit,
            min_stake=min_stake,
            max_stake=max_stake,
            current_entry_rate=current_entry_rate,
            current_exit_rate=current_exit_rate,
            current_entry_profit=current_entry_profit,
            current_exit_profit=current_exit_profit,
            **kwargs,
        )

    def custom_stoploss(
        self,
        pair: str,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        after_fill: bool,
        **kwargs,
    ) -> float | None:
        return self.pm_merge_stops(
            self._pm_breakeven_stop(trade, current_rate),
            super().custom_stoploss(
                pair=pair,
                trade=trade,
                current_time=current_time,
                current_rate=current_rate,
                current_profit=current_profit,
                after_fill=after_fill,
                **kwargs,
            ),
            trade,
            current_rate,
            after_fill,
        )

    @guarded(None)
    def _pm_partial_adjustment(
        self,
        trade: Trade,
        current_time: datetime,
        min_stake: float | None,
        max_stake: float,
        entry_rate: float,
        exit_rate: float,
        entry_profit: float,
        exit_profit: float,
    ) -> tuple[float, str] | None:
        policy = self.pm_partial_policy
        # Live, a new order would cancel the open one; backtests fill at once.
        if policy is None or trade.has_open_orders:
            return None
        state = self._pm_state(trade)
        exits = policy.check_partial_exits(
            state,
            exit_rate,
            current_profit=exit_profit,
            min_stake=min_stake and min_stake * self._pm_rest_factor,
        )
        if exits:  # at most one: the targets due are merged into one order
            exit_ = exits[0]
            if exit_.sells_all:
                return -trade.stake_amount, exit_.tag
            return -trade.stake_amount * exit_.amount / trade.amount, exit_.tag
        market_data = {}
        if policy.scale_in_min_candles:
            elapsed = (current_time - trade.date_last_filled_utc).total_seconds()
            market_data[CANDLES_SINCE_LAST_FILL] = elapsed / timeframe_to_seconds(self.timeframe)
        add = policy.check_scale_in_opportunity(
            state, entry_rate, market_data, current_profit=entry_profit
        )
        if add is None:
            return None
        # max_stake is the exchange's limit or the free wallet, whichever is smaller.
        stake = min(add.stake, max_stake)
        if min_stake and stake < min_stake:
            return None
        return stake, add.tag

    def _pm_state(self, trade: Trade) -> PositionState:
        """
        The trade's position read from its orders, cached while nothing about it changes:
        Freqtrade asks on every candle, and hands over a fresh copy of the trade each time.
        """
        key = (
            trade.pair,
            trade.open_date,
            len(trade.orders),
            trade.amount,
            trade.open_rate,
            trade.funding_fees,
        )
        cached = self._pm_partial_states.get(trade.id)
        if cached is None or cached[0] != key:
            cached = key, PositionState.from_trade(trade)
            self._pm_partial_states[trade.id] = cached
        return cached[1]

    def _pm_min_rest_factor(self) -> float:
        """
        Smallest value a partly sold position may keep, as a multiple of ``min_stake``. Live,
        Freqtrade silently drops a partial exit whose rest is worth less than its minimum exit
        stake, which reserves room for the stoploss (up to 1.5x) on top of the ``min_stake`` it
        passes us; selling the whole rest instead keeps the target from being lost. Backtests use
        the same, stricter, bound.
        """
        reserve = 1 + self.config.get("amount_reserve_percent", DEFAULT_AMOUNT_RESERVE)
        room = 1 - abs(self.stoploss)
        stoploss_reserve = max(min(reserve / room, 1.5), 1.0) if room > 0 else 1.5
        return max(stoploss_reserve / reserve, 1.0)

    @guarded(None)
    def _pm_breakeven_stop(self, trade: Trade, current_rate: float) -> float | None:
        policy = self.pm_partial_policy
        if policy is None or not policy.breakeven_after_first_exit:
            return None
        price = policy.breakeven_stop_price(self._pm_state(trade))
        if price is None:
            return None
        return stoploss_ratio(price, current_rate, is_short=trade.is_short, leverage=trade.leverage)
