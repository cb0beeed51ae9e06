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
from freqtrade.strategy import DecimalParameter, IStrategy
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
from freqtrade_posmgmt.mixins._base import PARAMETERS, PolicyMixin
from freqtrade_posmgmt.mixins._decisions import Decision, record_decision
from freqtrade_posmgmt.mixins._history import history_reaching_back, open_times
from freqtrade_posmgmt.mixins._hooks import CapabilityHooks, StakeRequest, StopAnswer, StopRequest
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
    are scaled by the same factor, wherever this mixin sits in the bases: the dispatcher settles
    each stake with every sizer first and every cap (CorrelationMixin's) last. Stops are
    tightened in ``custom_stoploss`` (merged, the tightest wins) only when the policy can
    tighten. Every resize
    is logged once per pair and candle and appended to ``self.pm_decisions``.
    """

    pm_section = Capability.DYNAMIC_RISK
    dynamic_risk_policy: DynamicRiskConfig | None = PARAMETERS

    pm_risk_drawdown = DecimalParameter(0.02, 0.15, default=0.05, decimals=3, space="pm_risk")
    pm_risk_floor = DecimalParameter(0.1, 0.9, default=0.4, decimals=2, space="pm_risk")
    pm_risk_recovery = DecimalParameter(0.005, 0.05, default=0.02, decimals=3, space="pm_risk")

    def pm_refresh(self) -> None:
        super().pm_refresh()
        policy = self.pm_policy(
            "dynamic_risk", self.dynamic_risk_policy, self._pm_risk_from_parameters
        )
        if policy is not None and not policy.enabled:
            policy = None
        self.pm_risk_policy = policy
        if policy is None:
            return
        if policy.can_tighten:
            self.pm_enable("use_custom_stoploss", True)
        self.pm_add_hooks(DynamicRiskHooks(self, policy))

    def pm_risk_adjustments(
        self, pair: str, current_time: datetime
    ) -> tuple[RiskAdjustments, EquityPoint]:
        """
        The policy's adjustments for ``pair`` on the candle of ``current_time``, and the realised
        equity point they come from (see :meth:`DynamicRiskHooks.adjustments`).
        """
        return self.pm_hooks(CAPABILITY).adjustments(pair, current_time)

    def _pm_risk_from_parameters(self) -> DynamicRiskConfig:
        first, floor = self.pm_risk_drawdown.value, self.pm_risk_floor.value
        step = (1 - floor) / PARAMETER_TIERS
        recovery = self.pm_risk_recovery.value
        return DynamicRiskConfig(
            drawdown_thresholds=[round(first * n, 6) for n in range(1, PARAMETER_TIERS + 1)],
            risk_reduction_factors=[round(1 - step * n, 6) for n in range(1, PARAMETER_TIERS + 1)],
            recovery_thresholds=[recovery, round(recovery * SECOND_RECOVERY, 6)],
        )


class DynamicRiskHooks(CapabilityHooks):
    """
    Dynamic risk's answers (each stake sized, the stop tightened) and its state: the account
    and adjustments memos, the fees, and each pair's daily volatility.
    """

    capability = CAPABILITY
    policy: DynamicRiskConfig

    def __init__(self, strategy: IStrategy, policy: DynamicRiskConfig) -> None:
        super().__init__(strategy, policy)
        self.manager = DynamicRiskManager(policy)
        # pair -> (candle, adjustments, equity point, the inputs they came from).
        self.memo: dict[str, tuple[datetime, RiskAdjustments, EquityPoint, tuple]] = {}
        self.point_memo: tuple[datetime, EquityPoint] | None = None
        self.fees: dict[str, float] = {}
        # Indicators are computed once per backtest or hyperopt run, before the epochs' refreshes.
        previous = strategy.pm_hooks(self.capability)
        # Per pair: the first UTC day start of its candles and the volatility as of each day start.
        self.volatility: dict[str, tuple[float, np.ndarray]] = (
            {} if previous is None else previous.volatility
        )
        self.short_window_warned = previous is not None and previous.short_window_warned

    def callbacks(self) -> set[str]:
        # custom_stoploss even when the policy cannot tighten: answering it has Freqtrade adjust
        # the stop after each fill (``_ft_stop_uses_after_fill``), which the backtests pinned.
        return {"custom_stoploss", "custom_stake_amount", "adjust_trade_position"}

    def analyze(self, dataframe: DataFrame, pair: str) -> None:
        if self.policy.volatility_adjustment_enabled:
            # Once per backtest (every candle live), for every day at once: a decision then
            # costs a lookup, not a dataframe read.
            opens, closes = self.closes(dataframe, pair)
            self.volatility[pair] = daily_volatility_series(
                opens, closes, self.policy.volatility_window_days
            )

    def closes(self, dataframe: DataFrame, pair: str) -> tuple[np.ndarray, np.ndarray]:
        """
        Candle open times (epoch seconds) and closes the volatility is read from. A backtest
        reads its window before the timerange from the candle files, so that a decision does not
        depend on where the backtest began; live keeps what the DataProvider holds, and says so
        once when that cannot cover the window.
        """
        strategy, window = self.strategy, self.policy.volatility_window_days
        # The window's daily returns need one more day close, and the decision day may be a
        # partly loaded one.
        reach = (window + 2) * SECONDS_PER_DAY
        live = strategy.dp is not None and strategy.dp.runmode in (RunMode.DRY_RUN, RunMode.LIVE)
        if not live and strategy.config.get("timerange") and "datadir" in strategy.config:
            return history_reaching_back(strategy.config, pair, strategy.timeframe, reach)
        opens = open_times(dataframe)
        if live and len(opens) and opens[-1] - opens[0] < reach - SECONDS_PER_DAY:
            self.warn_short_window(pair, len(opens), window)
        return opens, dataframe["close"].to_numpy(float)

    def warn_short_window(self, pair: str, kept: int, window: int) -> None:
        if self.short_window_warned:
            return
        self.short_window_warned = True
        timeframe = self.strategy.timeframe
        needed = (window + 1) * SECONDS_PER_DAY // timeframe_to_seconds(timeframe)
        logger.warning(
            "DynamicRiskMixin: the %d-day volatility window needs %d candles of %s, the bot keeps "
            "%d (%s first): the volatility factor reads fewer days until they have passed; set "
            "startup_candle_count to %d to cover it from the start",
            window,
            needed,
            timeframe,
            kept,
            pair,
            needed,
        )

    def size_stake(self, request: StakeRequest) -> float | None:
        if request.scale_in:
            return self.scale_in_stake(request)
        return self.entry_stake(request)

    def stop(self, request: StopRequest) -> StopAnswer | None:
        if not self.policy.can_tighten:
            return None
        adjustments, _ = self.adjustments(request.pair, request.current_time)
        tightening = adjustments.stop_loss_tightening
        if tightening <= 1.0:
            return None
        trade = request.trade
        leverage = trade.leverage or 1.0
        stop = stop_rate_for_ratio(
            self.strategy.stoploss / tightening,
            trade.open_rate,
            is_short=trade.is_short,
            leverage=leverage,
        )
        ratio = stoploss_ratio(
            stop, request.current_rate, is_short=trade.is_short, leverage=leverage
        )
        return None if ratio is None else StopAnswer(ratio)

    def adjustments(self, pair: str, current_time: datetime) -> tuple[RiskAdjustments, EquityPoint]:
        """
        The policy's adjustments for ``pair`` on the candle of ``current_time``, and the realised
        equity point they come from. Computed once per pair and candle: what is filled during a
        candle only counts from the next one.
        """
        strategy, policy = self.strategy, self.policy
        candle = decision_candle(strategy.timeframe, current_time)
        memo = self.memo.get(pair)
        if memo is not None and memo[0] == candle:
            return memo[1], memo[2]
        point = self.point(candle, current_time)
        trades = None
        if policy.performance_adjustment_enabled:
            since = candle - timedelta(days=policy.performance_window_days)
            trades = closed_trades(strategy, current_time, since)
        volatility = self.pair_volatility(pair, candle)
        # The inputs change far less often than candles pass: decide only when they do.
        inputs = (point, volatility, trades and (len(trades), trades[0], trades[-1]))
        if memo is not None and memo[3] == inputs:
            adjustments = memo[1]
        else:
            adjustments = self.manager.calculate_risk_adjustment(
                point.equity,
                point.peak,
                trough_balance=point.trough,
                recent_trades=None if trades is None else [TradeOutcome(*t) for t in trades],
                as_of=candle,
                volatility=volatility,
            )
        self.memo[pair] = (candle, adjustments, point, inputs)
        return adjustments, point

    def point(self, candle: datetime, current_time: datetime) -> EquityPoint:
        """
        The realised equity point of ``candle``, once per candle for all pairs: only fills before
        the candle count, and those are all known when it opens.
        """
        memo = self.point_memo
        if memo is None or memo[0] != candle:
            memo = self.point_memo = (candle, realised_point(self.strategy, current_time))
        return memo[1]

    def pair_volatility(self, pair: str, candle: datetime) -> float | None:
        """Daily volatility of the pair's closes up to the last full UTC day before ``candle``."""
        if not self.policy.volatility_adjustment_enabled:
            return None
        first, volatility = self.volatility.get(pair, (0.0, ()))
        day = candle.timestamp() // SECONDS_PER_DAY * SECONDS_PER_DAY
        index = int((day - first) // SECONDS_PER_DAY)
        if not 0 <= index < len(volatility) or np.isnan(volatility[index]):
            return None
        return float(volatility[index])

    def entry_stake(self, request: StakeRequest) -> float | None:
        policy, stake, pair = self.policy, request.stake, request.pair
        adjustments, point = self.adjustments(pair, request.current_time)
        factor = adjustments.position_size_factor
        base, reason = stake, adjustments.primary_reason
        if policy.risk_per_trade is not None:
            fee = self.fee(pair)
            base = stake_for_risk(
                point.equity,
                policy.risk_per_trade,
                stoploss=self.strategy.stoploss,
                is_short=request.side == "short",
                leverage=request.leverage or 1.0,
                fee_open=fee,
                fee_close=fee,
            )
            reason = f"risk_per_trade+{reason}"
        elif factor == 1.0:
            return None
        placed = bounded(base * factor, request.min_stake, request.max_stake)
        if placed != stake:
            self.record(
                DecisionKind.RESIZE, reason, request, placed,
                f"factor {factor:.3f}, stake {stake:.2f} -> {placed:.2f}, equity {point.equity:.2f}",
            )  # fmt: skip
        return placed

    def scale_in_stake(self, request: StakeRequest) -> float | None:
        adjustments, _ = self.adjustments(request.pair, request.current_time)
        factor = adjustments.position_size_factor
        if factor == 1.0:
            return None
        stake = request.stake
        placed = bounded(stake * factor, request.min_stake, request.max_stake)
        self.record(
            DecisionKind.RESIZE_SCALE_IN, adjustments.primary_reason, request, placed,
            f"factor {factor:.3f}, stake {stake:.2f} -> {placed:.2f}",
        )  # fmt: skip
        return placed

    def record(
        self, kind: DecisionKind, reason: str, request: StakeRequest, placed: float, details: str
    ) -> None:
        candle = decision_candle(self.strategy.timeframe, request.current_time)
        decision = Decision(CAPABILITY, kind, reason, request.stake - placed, request.pair, candle)
        record_decision(self.strategy, decision, details)

    def fee(self, pair: str) -> float:
        """The fee Freqtrade's backtesting assumes: the config's, else the worst exchange fee."""
        fee = self.fees.get(pair)
        if fee is None:
            fee = self.strategy.config.get("fee")
            if fee is None:
                exchange = self.strategy.dp._exchange
                fee = max(
                    exchange.get_fee(symbol=pair, taker_or_maker=kind) or 0.0
                    for kind in ("taker", "maker")
                )
            self.fees[pair] = fee
        return fee


def bounded(stake: float, min_stake: float | None, max_stake: float) -> float:
    """
    ``stake`` within ``max_stake``; 0 (refused) below ``min_stake``: Freqtrade would raise a stake
    just below min_stake up to it, over any cap.
    """
    stake = min(stake, max_stake)
    return 0.0 if stake <= 0 or (min_stake and stake < min_stake) else stake
