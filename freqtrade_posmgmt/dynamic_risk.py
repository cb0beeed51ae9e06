"""
Dynamic risk, decided without Freqtrade: trade smaller in a drawdown, recover in steps, size
from the stop distance.

Every input is explicit (balances, closed trades, a pair's candles, the decision time); nothing
reads the wall clock. The drawdown rule (see :func:`tier_in_force`):

* the drawdown is measured on realised equity from its running peak, and
  ``tier(dd)`` is the number of ``drawdown_thresholds`` at or below ``dd``;
* a drawdown episode runs from a peak until equity makes a new peak. With ``K`` the deepest tier
  of the episode (the tier of its trough) and ``s`` the number of ``recovery_thresholds`` met by
  the gain from the trough, ``(equity - trough) / trough``, the tier in force is
  ``max(tier(dd_now), K - s)``, and its factor applies (tier 0: 1.0).

So sizing steps back up one recovery threshold at a time, never snaps back to full on a bounce
off the trough, and never exceeds what today's drawdown allows.
"""

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import numpy as np

from freqtrade_posmgmt import validation as check
from freqtrade_posmgmt.profit import profit_ratio, stop_rate_for_ratio

# The seed's fixed responses of the performance and volatility components. Its stop factors
# below 1 (0.9 for good performance and low volatility) are left out: stop factors combine by
# their maximum and a drawdown gives at least 1, so they could never act (and a stop never widens).
POOR_PERFORMANCE_SCORE = 0.3
GOOD_PERFORMANCE_SCORE = 0.7
POOR_PERFORMANCE = (0.6, 1.2, 0.7)  # size, stop tightening, daily risk
GOOD_PERFORMANCE = (1.2, 1.0, 1.1)
HIGH_VOLATILITY_STOP = 1.1
# Each drawdown tier beyond the first tightens the stop by this much more (the seed's 1.0/1.2/1.4).
STOP_TIGHTENING_PER_TIER = 0.2
SECONDS_PER_DAY = 86400


class TradeOutcome(NamedTuple):
    """A closed trade as the performance score sees it."""

    close_time: datetime
    profit: float
    """Realised profit in stake currency (Freqtrade's ``close_profit_abs``)."""


@check.validated_policy
@dataclass(frozen=True)
class DynamicRiskConfig:
    """
    How position sizes follow the account's drawdown, recent performance and the pair's volatility.

    :param enabled: False makes every adjustment neutral.
    :param performance_window_days: Closed trades of this many days before the decision time make
        the performance score.
    :param drawdown_thresholds: Drawdowns (ratios of the realised peak) where the tiers begin,
        strictly ascending, each in (0, 1).
    :param risk_reduction_factors: Stake factor of each tier, in (0, 1], never increasing.
    :param recovery_thresholds: Gains from an episode's trough that each lift sizing one tier,
        strictly ascending, each > 0.
    :param volatility_adjustment_enabled: Scale stakes by the pair's daily volatility.
    :param volatility_window_days: Days of the pair's daily closes the volatility is taken over.
    :param high_volatility_threshold: Daily volatility (standard deviation of daily log returns)
        above which the high-volatility multiplier applies.
    :param low_volatility_threshold: Daily volatility below which the low-volatility multiplier
        applies.
    :param volatility_risk_multipliers: (high-volatility factor in (0, 1], low-volatility
        factor >= 1).
    :param min_trades_for_performance: Fewer closed trades in the window leave performance neutral.
    :param performance_adjustment_enabled: Scale stakes by the recent performance score.
    :param risk_per_trade: Fraction of equity a stop-out at the strategy's ``stoploss`` may lose
        (fees included, leverage respected): the stake is sized from it, then scaled by the
        factor. None: scale the strategy's own stake.
    :param tighten_stops: Divide the stop distance by ``stop_loss_tightening`` when it is above 1.
    """

    enabled: bool = True
    performance_window_days: int = 30
    drawdown_thresholds: Sequence[float] = (0.05, 0.10, 0.15)
    risk_reduction_factors: Sequence[float] = (0.8, 0.6, 0.4)
    recovery_thresholds: Sequence[float] = (0.02, 0.05)
    volatility_adjustment_enabled: bool = True
    volatility_window_days: int = 30
    high_volatility_threshold: float = 0.03
    low_volatility_threshold: float = 0.01
    volatility_risk_multipliers: Sequence[float] = (0.7, 1.3)
    min_trades_for_performance: int = 10
    performance_adjustment_enabled: bool = True
    risk_per_trade: float | None = None
    tighten_stops: bool = True

    def __post_init__(self) -> None:
        for name in (
            "enabled",
            "volatility_adjustment_enabled",
            "performance_adjustment_enabled",
            "tighten_stops",
        ):
            check.flag(name, getattr(self, name))
        check.whole("performance_window_days", self.performance_window_days, minimum=1)
        check.whole("volatility_window_days", self.volatility_window_days, minimum=2)
        check.whole("min_trades_for_performance", self.min_trades_for_performance, minimum=1)
        thresholds = check.numbers("drawdown_thresholds", self.drawdown_thresholds)
        check.each("drawdown_thresholds", thresholds, above=0, below=1)
        check.strictly_ascending("drawdown_thresholds", thresholds)
        factors = check.numbers("risk_reduction_factors", self.risk_reduction_factors)
        check.same_length("risk_reduction_factors", factors, "drawdown_thresholds", thresholds)
        check.each("risk_reduction_factors", factors, above=0, at_most=1)
        check.non_increasing("risk_reduction_factors", factors)
        recovery = check.numbers("recovery_thresholds", self.recovery_thresholds)
        check.each("recovery_thresholds", recovery, above=0)
        check.strictly_ascending("recovery_thresholds", recovery)
        low = check.number("low_volatility_threshold", self.low_volatility_threshold, above=0)
        check.number("high_volatility_threshold", self.high_volatility_threshold, above=low)
        multipliers = check.numbers("volatility_risk_multipliers", self.volatility_risk_multipliers)
        if len(multipliers) != 2:
            raise check.fail(
                "volatility_risk_multipliers",
                multipliers,
                "must be [high-vol factor, low-vol factor]",
            )
        check.number("volatility_risk_multipliers[0]", multipliers[0], above=0, at_most=1)
        check.number("volatility_risk_multipliers[1]", multipliers[1], at_least=1)
        check.optional_number("risk_per_trade", self.risk_per_trade, above=0, below=1)
        check.coerce(
            self,
            drawdown_thresholds=thresholds,
            risk_reduction_factors=factors,
            recovery_thresholds=recovery,
            volatility_risk_multipliers=multipliers,
        )

    @property
    def can_tighten(self) -> bool:
        """True if some input could make ``stop_loss_tightening`` exceed 1."""
        return self.enabled and (
            self.tighten_stops
            and (
                len(self.drawdown_thresholds) >= 2
                or self.performance_adjustment_enabled
                or self.volatility_adjustment_enabled
            )
        )


@dataclass(frozen=True)
class RiskAdjustments:
    """
    What the account's state asks of the next entry.

    :param position_size_factor: Multiplies the stake (above 1 only from good performance or low
        volatility; the stake stays capped by Freqtrade's ``max_stake``).
    :param stop_loss_tightening: The stop distance is divided by it when above 1.
    :param daily_risk_factor: Scales a daily risk budget; computed and reported only, as
        Freqtrade has no daily budget.
    :param primary_reason: The first non-neutral component, in the order drawdown, performance,
        volatility; ``"normal"`` when all are neutral.
    :param adjustment_details: The numbers behind the decision.
    """

    position_size_factor: float = 1.0
    stop_loss_tightening: float = 1.0
    daily_risk_factor: float = 1.0
    primary_reason: str = "normal"
    adjustment_details: dict[str, Any] = field(default_factory=dict)


def drawdown(equity: float, peak: float) -> float:
    """``(peak - equity) / peak``, floored at 0; 0 when ``peak <= 0``."""
    return max(0.0, (peak - equity) / peak) if peak > 0 else 0.0


def tier(dd: float, thresholds: Sequence[float]) -> int:
    """The number of thresholds at or below ``dd``."""
    return sum(1 for t in thresholds if t <= dd)


def tier_in_force(
    equity: float,
    peak: float,
    trough: float,
    thresholds: Sequence[float],
    recovery_thresholds: Sequence[float],
) -> tuple[int, int, int]:
    """
    The drawdown tier that sizes the next entry: ``max(tier(dd_now), K - s)``.

    :param equity: Realised equity now.
    :param peak: Running peak of realised equity (the episode's start).
    :param trough: Lowest equity since ``peak`` (clamped into ``[.., equity]``).
    :return: (tier in force, deepest tier of the episode K, recovery steps s)
    """
    if equity >= peak:
        return 0, 0, 0  # a new peak ends the episode
    trough = min(trough, equity)
    deepest = tier(drawdown(trough, peak), thresholds)
    gain = (equity - trough) / trough if trough > 0 else 0.0
    steps = sum(1 for r in recovery_thresholds if r <= gain)
    return max(tier(drawdown(equity, peak), thresholds), deepest - steps), deepest, steps


def performance_score(trades: Iterable[TradeOutcome]) -> tuple[float, int]:
    """
    The seed's score, ``0.6 * win_rate + 0.4 * min(profit_factor / 2, 1)``.
    :return: (score, number of trades); score 0.0 without trades
    """
    profits = [t.profit for t in trades]
    if not profits:
        return 0.0, 0
    wins = sum(p for p in profits if p > 0)
    losses = -sum(p for p in profits if p < 0)
    profit_factor = wins / losses if losses > 0 else (math.inf if wins > 0 else 0.0)
    win_rate = sum(1 for p in profits if p > 0) / len(profits)
    return 0.6 * win_rate + 0.4 * min(profit_factor / 2, 1.0), len(profits)


def _closes_at(times: np.ndarray, closes: np.ndarray, boundaries: np.ndarray) -> np.ndarray:
    """The close of the last candle opened before each boundary (NaN where there is none)."""
    rows = np.searchsorted(times, boundaries, side="left") - 1
    out = np.full(len(boundaries), np.nan)
    known = rows >= 0
    out[known] = closes[rows[known]]
    return out


def daily_volatility(
    times: np.ndarray, closes: np.ndarray, before: float, window_days: int
) -> float | None:
    """
    Standard deviation of a pair's daily log returns over ``window_days``, as of ``before``
    (point in time: only candles opened strictly before it). The daily closes are those of the
    last candle before ``before``, ``before - 1 day``, ... (with ``before`` a UTC day start: each
    day's closing candle).

    :param times: Candle open times, epoch seconds, ascending.
    :param closes: Close of each candle.
    :param before: Epoch seconds of the last daily mark.
    :param window_days: Daily returns taken.
    :return: The volatility, or None with fewer than two daily returns.
    """
    marks = before - SECONDS_PER_DAY * np.arange(window_days, -1, -1, dtype=float)
    returns = np.diff(np.log(_closes_at(times, closes, marks)))
    returns = returns[~np.isnan(returns)]
    return float(np.std(returns, ddof=1)) if len(returns) >= 2 else None


def daily_volatility_series(
    times: np.ndarray, closes: np.ndarray, window_days: int
) -> tuple[float, np.ndarray]:
    """
    :func:`daily_volatility` as of every UTC day start after the first candle, at once: a
    lookup per decision instead of a computation.

    :return: (first day start, epoch seconds; the volatility as of it and each following day
        start up to the one after the last candle, NaN where unknown)
    """
    if len(times) == 0:
        return 0.0, np.empty(0)
    first = float((times[0] // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY)
    last = float((times[-1] // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY)
    marks = np.arange(first, last + 1, SECONDS_PER_DAY, dtype=float)
    returns = np.diff(np.log(_closes_at(times, closes, marks)), prepend=np.nan)
    known = ~np.isnan(returns)
    # Rolling sums over the last window_days returns, unknown ones left out.
    sums = [np.cumsum(np.where(known, v, 0.0)) for v in (known, returns, returns**2)]
    lag = min(window_days, len(marks))
    count, total, squares = (v - np.concatenate([np.zeros(lag), v[: len(v) - lag]]) for v in sums)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (squares - total**2 / count) / (count - 1)
    volatility = np.sqrt(np.maximum(variance, 0.0))
    volatility[count < 2] = np.nan
    return first, volatility


def stake_for_risk(
    equity: float,
    risk: float,
    *,
    stoploss: float,
    is_short: bool,
    leverage: float = 1.0,
    fee_open: float = 0.0,
    fee_close: float = 0.0,
) -> float:
    """
    The stake (margin, stake currency) that loses ``risk * equity`` when the trade is stopped at
    ``stoploss``, Freqtrade's initial stop (``open_rate * (1 -/+ |stoploss| / leverage)``), both
    fees included: Jesse's ``risk_to_qty`` in Freqtrade's units.

    :param equity: Equity the risk is a fraction of.
    :param risk: Fraction of equity to lose at the stop.
    :param stoploss: The strategy's ``stoploss`` (negative ratio, leverage-scaled like Freqtrade's).
    :param is_short: True for a short entry.
    :param leverage: Leverage of the entry.
    :param fee_open: Entry fee ratio.
    :param fee_close: Exit fee ratio.
    :return: The stake; 0.0 if ``equity <= 0``.
    """
    if equity <= 0:
        return 0.0
    stop_rate = stop_rate_for_ratio(stoploss, 1.0, is_short=is_short, leverage=leverage)
    ratio = profit_ratio(
        stop_rate,
        open_rate=1.0,
        is_short=is_short,
        leverage=leverage,
        fee_open=fee_open,
        fee_close=fee_close,
    )
    # Freqtrade's profit ratio is of the open value over leverage; a stake is that value without
    # the entry fee: loss per stake unit = -ratio * (1 +/- fee_open).
    loss_per_stake = -ratio * (1 - fee_open if is_short else 1 + fee_open)
    return risk * equity / loss_per_stake if loss_per_stake > 0 else 0.0


class DynamicRiskManager:
    """
    Turns the account's state into :class:`RiskAdjustments`.

    :param config: The policy (default: the seed's defaults).
    :param trade_source: Optional ``(start, end) -> closed trades`` used for the performance
        score when :meth:`calculate_risk_adjustment` is given a time but no trades.
    """

    def __init__(
        self,
        config: DynamicRiskConfig | None = None,
        trade_source: Callable[[datetime, datetime], Iterable[TradeOutcome]] | None = None,
    ) -> None:
        self.config = config or DynamicRiskConfig()
        self.trade_source = trade_source

    def calculate_risk_adjustment(
        self,
        current_balance: float,
        peak_balance: float,
        *,
        trough_balance: float | None = None,
        recent_trades: Iterable[TradeOutcome] | None = None,
        as_of: datetime | None = None,
        volatility: float | None = None,
    ) -> RiskAdjustments:
        """
        The adjustments for the next entry.

        :param current_balance: Realised equity now.
        :param peak_balance: Running peak of realised equity.
        :param trough_balance: Lowest equity since that peak; default ``current_balance`` (no
            recovery yet).
        :param recent_trades: Closed trades for the performance score; only those closed in the
            ``performance_window_days`` before ``as_of`` count when ``as_of`` is given.
        :param as_of: The decision time (backtest time in backtests).
        :param volatility: The pair's daily volatility (:func:`daily_volatility`); None: neutral.
        """
        config = self.config
        if not config.enabled:
            return RiskAdjustments(primary_reason="disabled")
        trough = current_balance if trough_balance is None else trough_balance
        level, deepest, steps = tier_in_force(
            current_balance,
            peak_balance,
            trough,
            config.drawdown_thresholds,
            config.recovery_thresholds,
        )
        details: dict[str, Any] = {
            "drawdown": drawdown(current_balance, peak_balance),
            "tier": level,
            "deepest_tier": deepest,
            "recovery_steps": steps,
        }
        size = daily = stop = 1.0
        reasons = []
        if level:
            size = daily = config.risk_reduction_factors[level - 1]
            stop = 1.0 + STOP_TIGHTENING_PER_TIER * (level - 1)
            now_tier = tier(details["drawdown"], config.drawdown_thresholds)
            reasons.append(f"drawdown_tier_{level}" + ("_recovering" if level > now_tier else ""))
        if config.performance_adjustment_enabled:
            score, count = performance_score(self._window(recent_trades, as_of))
            details.update(performance_score=score, performance_trades=count)
            if count >= config.min_trades_for_performance:
                response = None
                if score < POOR_PERFORMANCE_SCORE:
                    response, reason = POOR_PERFORMANCE, "performance_poor"
                elif score > GOOD_PERFORMANCE_SCORE:
                    response, reason = GOOD_PERFORMANCE, "performance_good"
                if response is not None:
                    size, stop, daily = (
                        size * response[0],
                        max(stop, response[1]),
                        daily * response[2],
                    )
                    reasons.append(reason)
        if config.volatility_adjustment_enabled and volatility is not None:
            details["volatility"] = volatility
            high, low = config.volatility_risk_multipliers
            if volatility > config.high_volatility_threshold:
                size, stop = size * high, max(stop, HIGH_VOLATILITY_STOP)
                reasons.append("volatility_high")
            elif volatility < config.low_volatility_threshold:
                size *= low
                reasons.append("volatility_low")
        return RiskAdjustments(
            position_size_factor=size,
            stop_loss_tightening=stop if config.tighten_stops else 1.0,
            daily_risk_factor=daily,
            primary_reason=reasons[0] if reasons else "normal",
            adjustment_details=details,
        )

    def _window(
        self, trades: Iterable[TradeOutcome] | None, as_of: datetime | None
    ) -> list[TradeOutcome]:
        if as_of is None:
            return list(trades or ())
        start = as_of - timedelta(days=self.config.performance_window_days)
        if trades is None:
            if self.trade_source is None:
                return []
            trades = self.trade_source(start, as_of)
        return [t for t in trades if start <= t.close_time < as_of]
