"""
Drawdown-tiered sizing with gradual recovery, and risk per trade, on Freqtrade's stake callbacks.

Usage::

    class MyStrategy(DynamicRiskMixin, IStrategy):
        dynamic_risk_policy = DynamicRiskConfig(
            drawdown_thresholds=[0.05, 0.10, 0.15], risk_reduction_factors=[0.8, 0.6, 0.4]
        )

or ``"posmgmt": {"dynamic_risk": {"risk_per_trade": 0.01, ...}}`` in config.json.
"""

import logging
from datetime import datetime, timedelta

import numpy as np
from freqtrade.enums import RunMode
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import Trade
from freqtrade.strategy import DecimalParameter
from pandas import DataFrame

from freqtrade_posmgmt.dynamic_risk import (
    SECONDS_PER_DAY,
    DynamicRiskConfig,
    DynamicRiskManager,
    RiskAdjustments,
    TradeOutcome,
    daily_volatility_series,
    stake_for_risk,
)
from freqtrade_posmgmt.mixins._account import (
    EquityPoint,
    closed_trades,
    decision_candle,
    realised_point,
)
from freqtrade_posmgmt.mixins._base import PARAMETERS, PolicyMixin, guarded
from freqtrade_posmgmt.mixins._decisions import Decision, record_decision
from freqtrade_posmgmt.mixins._history import NS_PER_SECOND, history_reaching_back
from freqtrade_posmgmt.profit import stop_rate_for_ratio, stoploss_ratio
from freqtrade_posmgmt.registry import Capability, DecisionKind

logger = logging.getLogger(__name__)

CAPABILITY = Capability.DYNAMIC_RISK
# Tiers the Parameters build: thresholds at 1x, 2x and 3x the first, factors evenly down to the floor.
PARAMETER_TIERS = 3
# The second recovery threshold is this multiple of the first (the seed's 0.02, 0.05).
SECOND_RECOVERY = 2.5


class DynamicRiskMixin(PolicyMixin):
    """
    Scale each entry's stake by the account's drawdown tier (with gradual recovery), recent
    performance and the pair's volatility, or size it from the stop distance (``risk_per_trade``).

    Configure with the class attribute ``dynamic_risk_policy`` (a ``DynamicRiskConfig``, or None
    to switch off), ``"posmgmt": {"dynamic_risk": {...}}`` in config.json, or, by default, the
    hyperoptable Parameters in space ``pm_risk``: the first drawdown threshold (tiers at 1x, 2x,
    3x), the deepest tier's factor and the first recovery threshold.

    Scale-ins that ``adjust_trade_position`` returns (PartialExitMixin's, the strategy's own)
    are scaled by the same factor, wherever this mixin sits in the bases: the base class settles
    stakes after the whole chain, sizing first and caps (CorrelationMixin's) last. Stops are tightened in
    ``custom_stoploss`` (merged, the tightest wins) only when the policy can tighten. Every resize
    is logged once per pair and candle and appended to ``self.pm_decisions``.
    """

    pm_section = Capability.DYNAMIC_RISK
    dynamic_risk_policy: DynamicRiskConfig | None = PARAMETERS

    pm_risk_drawdown = DecimalParameter(0.02, 0.15, default=0.05, decimals=3, space="pm_risk")
    pm_risk_floor = DecimalParameter(0.1, 0.9, default=0.4, decimals=2, space="pm_risk")
    pm_risk_recovery = DecimalParameter(0.005, 0.05, default=0.02, decimals=3, space="pm_risk")

    def __init__(self, config: dict) -> None:
        # Per pair: the first UTC day start of its candles and the volatility as of each day start.
        self._pm_risk_volatility: dict[str, tuple[float, np.ndarray]] = {}
        super().__init__(config)

    def pm_refresh(self) -> None:
        super().pm_refresh()
        policy = self.pm_policy(
            "dynamic_risk", self.dynamic_risk_policy, self._pm_risk_from_parameters
        )
        if policy is not None and not policy.enabled:
            policy = None
        self.pm_risk_policy = policy
        self.pm_risk_manager = None if policy is None else DynamicRiskManager(policy)
        self._pm_risk_tightens = policy is not None and policy.can_tighten
        self._pm_risk_memo: dict[str, tuple[datetime, RiskAdjustments, EquityPoint, tuple]] = {}
        self._pm_risk_point_memo: tuple[datetime, EquityPoint] | None = None
        self._pm_risk_fees: dict[str, float] = {}
        if policy is None:
            return
        if self._pm_risk_tightens:
            self.pm_enable("use_custom_stoploss", True)
        self.pm_use_callbacks(DynamicRiskMixin)
        # Sized after the whole stake chain, before every cap, wherever this mixin sits.
        self.pm_size_stakes("_pm_risk_size")

    def _pm_risk_from_parameters(self) -> DynamicRiskConfig:
        first, floor = self.pm_risk_drawdown.value, self.pm_risk_floor.value
        step = (1 - floor) / PARAMETER_TIERS
        recovery = self.pm_risk_recovery.value
        return DynamicRiskConfig(
            drawdown_thresholds=[round(first * n, 6) for n in range(1, PARAMETER_TIERS + 1)],
            risk_reduction_factors=[round(1 - step * n, 6) for n in range(1, PARAMETER_TIERS + 1)],
            recovery_thresholds=[recovery, round(recovery * SECOND_RECOVERY, 6)],
        )

    def advise_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe = super().advise_indicators(dataframe, metadata)
        policy = self.pm_risk_policy
        if policy is not None and policy.volatility_adjustment_enabled:
            # Once per backtest (every candle live), for every day at once: a decision then
            # costs a lookup, not a dataframe read.
            opens, closes = self._pm_risk_closes(dataframe, metadata["pair"])
            self._pm_risk_volatility[metadata["pair"]] = daily_volatility_series(
                opens, closes, policy.volatility_window_days
            )
        return dataframe

    def _pm_risk_closes(self, dataframe: DataFrame, pair: str) -> tuple[np.ndarray, np.ndarray]:
        """
        Candle open times (epoch seconds) and closes the volatility is read from. A backtest
        reads its window before the timerange from the candle files, so that a decision does not
        depend on where the backtest began; live keeps what the DataProvider holds, and says so
        once when that cannot cover the window.
        """
        window = self.pm_risk_policy.volatility_window_days
        # The window's daily returns need one more day close, and the decision day may be a
        # partly loaded one.
        reach = (window + 2) * SECONDS_PER_DAY
        live = self.dp is not None and self.dp.runmode in (RunMode.DRY_RUN, RunMode.LIVE)
        if not live and self.config.get("timerange") and "datadir" in self.config:
            dates, closes = history_reaching_back(self.config, pair, self.timeframe, reach)
            return dates // NS_PER_SECOND, closes
        opens = dataframe["date"].dt.as_unit("s").astype("int64").to_numpy()
        if live and len(opens) and opens[-1] - opens[0] < reach - SECONDS_PER_DAY:
            self._pm_risk_warn_short_window(pair, len(opens), window)
        return opens, dataframe["close"].to_numpy(float)

    def _pm_risk_warn_short_window(self, pair: str, kept: int, window: int) -> None:
        if self.__dict__.get("_pm_risk_short_window_warned"):
            return
        self._pm_risk_short_window_warned = True
        needed = (window + 1) * SECONDS_PER_DAY // timeframe_to_seconds(self.timeframe)
        logger.warning(
            "DynamicRiskMixin: the %d-day volatility window needs %d candles of %s, the bot keeps "
            "%d (%s first): the volatility factor reads fewer days until they have passed; set "
            "startup_candle_count to %d to cover it from the start",
            window,
            needed,
            self.timeframe,
            kept,
            pair,
            needed,
        )

    # --- callbacks -------------------------------------------------------------------------------

    def _pm_risk_size(
        self,
        pair: str,
        side: str,
        current_time: datetime,
        stake: float,
        min_stake: float | None,
        max_stake: float,
        leverage: float,
        scale_in: bool,
    ) -> float:
        """The stake sizing step (registered with ``pm_size_stakes``): initial entries and adds."""
        if scale_in:
            sized = self._pm_risk_scale_in(pair, current_time, stake, min_stake, max_stake)
        else:
            sized = self._pm_risk_stake(
                pair, current_time, stake, min_stake, max_stake, leverage, side
            )
        return stake if sized is None else sized

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
        theirs = super().custom_stoploss(
            pair=pair,
            trade=trade,
            current_time=current_time,
            current_rate=current_rate,
            current_profit=current_profit,
            after_fill=after_fill,
            **kwargs,
        )
        if not self._pm_risk_tightens:
            return theirs
        ours = self._pm_risk_stop(pair, trade, current_time, current_rate)
        return self.pm_merge_stops(ours, theirs, trade, current_rate, after_fill)

    # --- decisions -------------------------------------------------------------------------------

    def pm_risk_adjustments(
        self, pair: str, current_time: datetime
    ) -> tuple[RiskAdjustments, EquityPoint]:
        """
        The policy's adjustments for ``pair`` on the candle of ``current_time``, and the realised
        equity point they come from. Computed once per pair and candle: what is filled during a
        candle only counts from the next one.
        """
        candle = decision_candle(self.timeframe, current_time)
        memo = self._pm_risk_memo.get(pair)
        if memo is not None and memo[0] == candle:
            return memo[1], memo[2]
        policy = self.pm_risk_policy
        point = self._pm_risk_point(candle, current_time)
        trades = None
        if policy.performance_adjustment_enabled:
            since = candle - timedelta(days=policy.performance_window_days)
            trades = closed_trades(self, current_time, since)
        volatility = self._pm_risk_pair_volatility(pair, candle)
        # The inputs change far less often than candles pass: decide only when they do.
        inputs = (point, volatility, trades and (len(trades), trades[0], trades[-1]))
        if memo is not None and memo[3] == inputs:
            adjustments = memo[1]
        else:
            adjustments = self.pm_risk_manager.calculate_risk_adjustment(
                point.equity,
                point.peak,
                trough_balance=point.trough,
                recent_trades=None if trades is None else [TradeOutcome(*t) for t in trades],
                as_of=candle,
                volatility=volatility,
            )
        self._pm_risk_memo[pair] = (candle, adjustments, point, inputs)
        return adjustments, point

    def _pm_risk_point(self, candle: datetime, current_time: datetime) -> EquityPoint:
        """
        The realised equity point of ``candle``, once per candle for all pairs: only fills before
        the candle count, and those are all known when it opens.
        """
        memo = self._pm_risk_point_memo
        if memo is None or memo[0] != candle:
            memo = self._pm_risk_point_memo = (candle, realised_point(self, current_time))
        return memo[1]

    def _pm_risk_pair_volatility(self, pair: str, candle: datetime) -> float | None:
        """Daily volatility of the pair's closes up to the last full UTC day before ``candle``."""
        if not self.pm_risk_policy.volatility_adjustment_enabled:
            return None
        first, volatility = self._pm_risk_volatility.get(pair, (0.0, ()))
        day = candle.timestamp() // SECONDS_PER_DAY * SECONDS_PER_DAY
        index = int((day - first) // SECONDS_PER_DAY)
        if not 0 <= index < len(volatility) or np.isnan(volatility[index]):
            return None
        return float(volatility[index])

    @guarded(None)
    def _pm_risk_stake(
        self,
        pair: str,
        current_time: datetime,
        stake: float,
        min_stake: float | None,
        max_stake: float,
        leverage: float,
        side: str,
    ) -> float | None:
        policy = self.pm_risk_policy
        if policy is None or not stake or stake <= 0:
            return None  # a strategy's own "no trade" stands, even with risk per trade
        adjustments, point = self.pm_risk_adjustments(pair, current_time)
        factor = adjustments.position_size_factor
        base, reason = stake, adjustments.primary_reason
        if policy.risk_per_trade is not None:
            fee = self._pm_risk_fee(pair)
            base = stake_for_risk(
                point.equity,
                policy.risk_per_trade,
                stoploss=self.stoploss,
                is_short=side == "short",
                leverage=leverage or 1.0,
                fee_open=fee,
                fee_close=fee,
            )
            reason = f"risk_per_trade+{reason}"
        elif factor == 1.0:
            return None
        placed = self._pm_risk_bounded(base * factor, min_stake, max_stake)
        if placed != stake:
            record_decision(
                self,
                Decision(
                    CAPABILITY,
                    DecisionKind.RESIZE,
                    reason,
                    stake - placed,
                    pair,
                    _candle(self, current_time),
                ),
                f"factor {factor:.3f}, stake {stake:.2f} -> {placed:.2f}, equity {point.equity:.2f}",
            )
        return placed

    @guarded(None)
    def _pm_risk_scale_in(
        self,
        pair: str,
        current_time: datetime,
        stake: float,
        min_stake: float | None,
        max_stake: float,
    ) -> float | None:
        if self.pm_risk_policy is None:
            return None
        adjustments, _ = self.pm_risk_adjustments(pair, current_time)
        factor = adjustments.position_size_factor
        if factor == 1.0:
            return None
        placed = self._pm_risk_bounded(stake * factor, min_stake, max_stake)
        record_decision(
            self,
            Decision(
                CAPABILITY,
                DecisionKind.RESIZE_SCALE_IN,
                adjustments.primary_reason,
                stake - placed,
                pair,
                _candle(self, current_time),
            ),
            f"factor {factor:.3f}, stake {stake:.2f} -> {placed:.2f}",
        )
        return placed

    @staticmethod
    def _pm_risk_bounded(stake: float, min_stake: float | None, max_stake: float) -> float:
        # Freqtrade would raise a stake just below min_stake up to it, over any cap: refuse it.
        stake = min(stake, max_stake)
        return 0.0 if stake <= 0 or (min_stake and stake < min_stake) else stake

    @guarded(None)
    def _pm_risk_stop(
        self, pair: str, trade: Trade, current_time: datetime, current_rate: float
    ) -> float | None:
        adjustments, _ = self.pm_risk_adjustments(pair, current_time)
        tightening = adjustments.stop_loss_tightening
        if tightening <= 1.0:
            return None
        leverage = trade.leverage or 1.0
        stop = stop_rate_for_ratio(
            self.stoploss / tightening, trade.open_rate, is_short=trade.is_short, leverage=leverage
        )
        return stoploss_ratio(stop, current_rate, is_short=trade.is_short, leverage=leverage)

    def _pm_risk_fee(self, pair: str) -> float:
        """The fee Freqtrade's backtesting assumes: the config's, else the worst exchange fee."""
        fee = self._pm_risk_fees.get(pair)
        if fee is None:
            fee = self.config.get("fee")
            if fee is None:
                exchange = self.dp._exchange
                fee = max(
                    exchange.get_fee(symbol=pair, taker_or_maker=kind) or 0.0
                    for kind in ("taker", "maker")
                )
            self._pm_risk_fees[pair] = fee
        return fee


def _candle(strategy: PolicyMixin, current_time: datetime) -> datetime:
    return decision_candle(strategy.timeframe, current_time)
