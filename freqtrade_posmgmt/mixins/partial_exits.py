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

from freqtrade.constants import DEFAULT_AMOUNT_RESERVE_PERCENT
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import Order, Trade
from freqtrade.strategy import DecimalParameter, IntParameter, IStrategy

from freqtrade_posmgmt.fills import holdings
from freqtrade_posmgmt.mixins._account import decision_candle, trade_fills
from freqtrade_posmgmt.mixins._base import PARAMETERS, PolicyMixin
from freqtrade_posmgmt.mixins._hooks import (
    Adjustment,
    AdjustRequest,
    CapabilityHooks,
    StopAnswer,
    StopRequest,
)
from freqtrade_posmgmt.notifications import ADD, TAKE_PROFIT, Notice, is_live, notify
from freqtrade_posmgmt.partial_manager import (
    CANDLES_SINCE_LAST_FILL,
    PartialExitPolicy,
    PositionState,
    levels_in_tag,
)
from freqtrade_posmgmt.profit import stoploss_ratio
from freqtrade_posmgmt.registry import Capability
from freqtrade_posmgmt.stop_sources import STOP_BREAKEVEN_AFTER_TP


def position_state(trade: Trade, policy: PartialExitPolicy) -> PositionState:
    """
    The policy's view of a Freqtrade ``Trade``, read from its filled orders. Which of the
    policy's levels fired comes from the orders' tags, matched by target, so the result is the
    same after a bot restart, and a changed ladder counts only the targets it still has.
    :param trade: a trade with at least one filled entry.
    :param policy: the policy in force, whose levels the tags are matched to.
    """
    facts = holdings(trade_fills(trade), trade.leverage or 1.0)
    targets = set().union(*(levels_in_tag(t, "tp", policy.exit_targets) for t in facts.exit_tags))
    scale_ins = set().union(
        *(levels_in_tag(t, "add", policy.scale_in_thresholds) for t in facts.entry_tags)
    )
    leverage = trade.leverage or 1.0
    return PositionState(
        entry_price=trade.open_rate,
        side="short" if trade.is_short else "long",
        original_size=facts.first_size,
        current_size=trade.amount,
        peak_size=max(facts.peak, facts.first_size, trade.amount),
        original_stake=facts.first_stake,
        leverage=leverage,
        fee=trade.fee_open or 0.0,
        exit_fee=trade.fee_close or 0.0,
        funding_fees=trade.funding_fees or 0.0,
        partial_exits_taken=frozenset(targets),
        scale_ins_taken=frozenset(scale_ins),
        partly_exited=facts.exited,
    )


class PartialExitMixin(PolicyMixin):
    """
    Take profit in steps and add to positions, one order per ``adjust_trade_position`` call.

    Configure with the class attribute ``partial_exit_policy`` (a ``PartialExitPolicy``, or None
    to switch off), ``"posmgmt": {"partial_exits": {...}}`` in config.json, or, by default, the
    hyperoptable Parameters in space ``pm_partial``, which shape the whole ladder and the
    scale-ins (``PartialExitPolicy.from_shape``; by default one target at 4% selling half, and
    one add of half the first stake at -5%).
    Which levels already fired is read from the trade's filled order tags, which name each
    level by its target (``pm_tp3%``, ``pm_add-5%``), so a restarted bot carries on where it
    stopped, also with a changed ladder. A stop exit at the breakeven after a take-profit is
    tagged ``... (pm_stop=breakeven_after_tp)`` on its exit order (see ``stop_sources``).
    """

    pm_section = Capability.PARTIAL_EXITS
    partial_exit_policy: PartialExitPolicy | None = PARAMETERS

    # The ladder's shape (PartialExitPolicy.from_shape): targets, their spacing and sizes.
    pm_partial_target = DecimalParameter(0.01, 0.10, default=0.04, decimals=3, space="pm_partial")
    pm_partial_levels = IntParameter(1, 4, default=1, space="pm_partial")
    pm_partial_spacing = DecimalParameter(1.2, 3.0, default=2.0, decimals=1, space="pm_partial")
    pm_partial_size = DecimalParameter(0.1, 1.0, default=0.5, decimals=2, space="pm_partial")
    pm_partial_size_ratio = DecimalParameter(0.5, 2.0, default=1.0, decimals=1, space="pm_partial")
    # The scale-ins' shape: first threshold, how many, their spacing and stakes.
    pm_partial_scale_in = DecimalParameter(
        -0.15, -0.01, default=-0.05, decimals=3, space="pm_partial"
    )
    pm_partial_scale_in_levels = IntParameter(0, 3, default=1, space="pm_partial")
    pm_partial_scale_in_spacing = DecimalParameter(
        1.2, 3.0, default=2.0, decimals=1, space="pm_partial"
    )
    pm_partial_scale_in_size = DecimalParameter(
        0.25, 2.0, default=0.5, decimals=2, space="pm_partial"
    )

    def pm_refresh(self) -> None:
        super().pm_refresh()
        policy = self.pm_partial_exit_policy = self.pm_policy(
            "partial_exits", self.partial_exit_policy, self._pm_partial_from_parameters
        )
        if policy is None:
            return
        self.pm_enable("position_adjustment_enable", True)
        cap = policy.scale_in_cap
        if self.pm_user_features["position_adjustment_enable"]:
            # The user's own scale-ins keep their own cap beside ours (-1: unlimited).
            users = self.pm_user_features["max_entry_position_adjustment"]
            cap = -1 if users < 0 else users + cap
        self.pm_enable("max_entry_position_adjustment", cap)
        if policy.breakeven_after_first_exit:
            self.pm_enable("use_custom_stoploss", True)
        self.pm_add_hooks(PartialExitHooks(self, policy))

    def _pm_partial_from_parameters(self) -> PartialExitPolicy:
        return PartialExitPolicy.from_shape(
            first_target=self.pm_partial_target.value,
            levels=self.pm_partial_levels.value,
            spacing=self.pm_partial_spacing.value,
            size=self.pm_partial_size.value,
            size_ratio=self.pm_partial_size_ratio.value,
            first_scale_in=self.pm_partial_scale_in.value,
            scale_in_levels=self.pm_partial_scale_in_levels.value,
            scale_in_spacing=self.pm_partial_scale_in_spacing.value,
            scale_in_size=self.pm_partial_scale_in_size.value,
        )


class PartialExitHooks(CapabilityHooks):
    """
    Partial exits' answers (a take-profit or an add; the breakeven stop after the first
    take-profit) and their state: each open trade's position, read from its orders.
    """

    capability = Capability.PARTIAL_EXITS
    policy: PartialExitPolicy

    def __init__(self, strategy: IStrategy, policy: PartialExitPolicy) -> None:
        super().__init__(strategy, policy)
        # Its breakeven's stop exits are tagged pm_stop=breakeven_after_tp.
        self.names_stops = policy.breakeven_after_first_exit
        # trade id -> (what the position was read from, the position).
        self.states: dict[int, tuple[tuple, PositionState]] = {}
        self.live = is_live(strategy.config)
        self.amount_reserve = strategy.config.get(
            "amount_reserve_percent", DEFAULT_AMOUNT_RESERVE_PERCENT
        )
        self.step = timeframe_to_seconds(strategy.pm_timeframe())

    def callbacks(self) -> set[str]:
        # custom_stoploss even without the breakeven: answering it has Freqtrade adjust the stop
        # after each fill (``_ft_stop_uses_after_fill``), which the backtests pinned.
        needed = {"adjust_trade_position", "order_filled", "custom_stoploss"}
        if self.policy.breakeven_after_first_exit:
            # Freqtrade confirms a stop exit at our breakeven: one the strategy refuses counts.
            needed.add("confirm_trade_exit")
        return needed

    def adjustment(self, request: AdjustRequest) -> Adjustment | None:
        policy, trade = self.policy, request.trade
        # Live, a new order would cancel the open one; backtests fill at once.
        if trade.has_open_orders:
            return None
        state = self.state(trade)
        exits = policy.check_partial_exits(
            state,
            request.current_exit_rate,
            current_profit=request.current_exit_profit,
            min_stake=request.min_stake,
            stoploss=self.strategy.stoploss,
            amount_reserve_percent=self.amount_reserve,
        )
        if exits:  # at most one: the targets due are merged into one order
            exit_ = exits[0]
            if exit_.sells_all:
                stake = -trade.stake_amount
            else:
                stake = -trade.stake_amount * exit_.amount / trade.amount
            self.notify_order(TAKE_PROFIT, request, exit_.tag, request.current_exit_rate, -stake)
            return stake, exit_.tag
        market_data = {}
        if policy.scale_in_min_candles:
            elapsed = (request.current_time - trade.date_last_filled_utc).total_seconds()
            market_data[CANDLES_SINCE_LAST_FILL] = elapsed / self.step
        add = policy.check_scale_in_opportunity(
            state,
            request.current_entry_rate,
            market_data,
            current_profit=request.current_entry_profit,
            min_stake=request.min_stake,
            max_stake=request.max_stake,
        )
        if add is None:
            return None
        self.notify_order(ADD, request, add.tag, request.current_entry_rate, add.stake)
        return add.stake, add.tag

    def notify_order(
        self, kind: str, request: AdjustRequest, tag: str, rate: float, stake: float
    ) -> None:
        """Tell a live user of a take-profit or an add returned to Freqtrade (see notifications)."""
        if not self.live:
            return
        trade = request.trade
        candle = decision_candle(self.strategy.timeframe, request.current_time)
        notice = Notice(Capability.PARTIAL_EXITS, kind, trade.pair, candle, tag, rate, stake)
        notify(self.strategy, notice)

    def on_fill(self, trade: Trade, order: Order, current_time: datetime) -> None:
        if not trade.is_open:
            # The final exit filled: a bot running for months keeps its open trades' only.
            self.states.pop(trade.id, None)

    def state(self, trade: Trade) -> PositionState:
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
        cached = self.states.get(trade.id)
        if cached is None or cached[0] != key:
            cached = key, position_state(trade, self.policy)
            self.states[trade.id] = cached
        return cached[1]

    def stop(self, request: StopRequest) -> StopAnswer | None:
        if not self.policy.breakeven_after_first_exit:
            return None
        trade = request.trade
        price = self.policy.breakeven_stop_price(self.state(trade))
        if price is None:
            return None
        ratio = stoploss_ratio(
            price, request.current_rate, is_short=trade.is_short, leverage=trade.leverage
        )
        return None if ratio is None else StopAnswer(ratio, price, STOP_BREAKEVEN_AFTER_TP)
