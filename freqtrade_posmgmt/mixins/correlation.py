"""
Correlation gating on Freqtrade's ``custom_stake_amount``, ``confirm_trade_entry`` and the adds
of ``adjust_trade_position``.

Usage::

    class MyStrategy(CorrelationMixin, IStrategy):
        correlation_policy = CorrelationConfig(max_correlated_exposure=0.25, basis="residual")

or ``"posmgmt": {"correlation": {"max_correlated_exposure": 0.25}}`` in config.json.
"""

import logging
import math
from datetime import datetime

import numpy as np
from freqtrade.enums import RunMode
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import Trade
from freqtrade.strategy import DecimalParameter, IntParameter, IStrategy
from pandas import DataFrame

from freqtrade_posmgmt.correlation_engine import (
    CorrelationConfig,
    CorrelationEngine,
    EntryLimit,
    symbol_key,
)
from freqtrade_posmgmt.mixins._account import decision_candle, realised_equity, starting_balance
from freqtrade_posmgmt.mixins._base import PARAMETERS, PolicyConfigError, PolicyMixin
from freqtrade_posmgmt.mixins._decisions import Decision, record_decision
from freqtrade_posmgmt.mixins._history import dates_and_closes, history_reaching_back
from freqtrade_posmgmt.mixins._hooks import CapabilityHooks, EntryRequest, StakeRequest
from freqtrade_posmgmt.registry import Capability, DecisionKind
from freqtrade_posmgmt.validation import where

logger = logging.getLogger(__name__)

CAPABILITY = Capability.CORRELATION


class CorrelationMixin(PolicyMixin):
    """
    Cap the net notional of each group of correlated pairs at a fraction of equity.

    Configure with the class attribute ``correlation_policy`` (a ``CorrelationConfig``, or None
    to switch off), ``"posmgmt": {"correlation": {...}}`` in config.json, or, by default, the
    hyperoptable Parameters in space ``pm_correlation``. Correlations are computed from the
    candles of every whitelisted pair and of ``correlation_extra_pairs`` (the DataProvider's
    live, the candle files in backtests), cut strictly before the decision candle. Exposure is stake x leverage of open
    trades (live, also of open entry orders); equity is the starting balance plus the profit
    realised before the decision candle. Refusals and cuts are logged once per pair and candle
    and appended to ``self.pm_decisions`` (``_decisions.Decision``, capability
    ``"correlation"``, kind ``"refused"`` or ``"cut"``); the numbers behind each (group, net,
    cap, equity, room, correlations) are in ``self.pm_correlation_details[(pair, candle)]``.
    An error inside the check refuses the entry: the cap fails closed.
    """

    pm_section = Capability.CORRELATION
    correlation_policy: CorrelationConfig | None = PARAMETERS
    correlation_extra_pairs: tuple[str, ...] = ()
    """Pairs not traded whose candles join the correlations (and the residual basis' mean)."""

    pm_correlation_threshold = DecimalParameter(
        0.5, 0.95, default=0.7, decimals=2, space="pm_correlation"
    )
    pm_correlation_cap = DecimalParameter(0.1, 1.0, default=0.5, decimals=2, space="pm_correlation")
    pm_correlation_window = IntParameter(3, 60, default=30, space="pm_correlation")

    def pm_refresh(self) -> None:
        super().pm_refresh()
        self.pm_correlation = self.pm_policy(
            "correlation", self.correlation_policy, self._pm_correlation_from_parameters
        )
        if self.pm_correlation is None:
            return
        step = timeframe_to_seconds(self.pm_timeframe())
        try:
            window = self.pm_correlation.window_candles(step)
        except ValueError as e:
            name = where(self.pm_correlation) or "posmgmt.correlation"
            raise PolicyConfigError(f"{name}: {e}") from e
        self._pm_warn_cap_below_stake()
        self.pm_add_hooks(CorrelationHooks(self, self.pm_correlation, step, window))

    @property
    def pm_correlation_details(self) -> dict[tuple[str, datetime], dict]:
        """The numbers behind each refusal and cut, by (pair, candle); empty while off."""
        hooks = self.pm_hooks(CAPABILITY)
        return {} if hooks is None else hooks.details

    def _pm_correlation_from_parameters(self) -> CorrelationConfig:
        return CorrelationConfig(
            correlation_window_days=self.pm_correlation_window.value,
            correlation_threshold=self.pm_correlation_threshold.value,
            max_correlated_exposure=self.pm_correlation_cap.value,
        )

    def _pm_warn_cap_below_stake(self) -> None:
        """A cap below one normal stake cuts the second correlated entry always: say so."""
        if not self.config.get("dry_run", True) or self.config.get("max_open_trades") == 1:
            return  # a live balance is unknown at load; one slot: no group can ever form
        equity = starting_balance(self)
        stake = self.config.get("stake_amount")
        max_open = self.config.get("max_open_trades", -1)
        if stake == "unlimited":
            if not max_open or max_open < 0:
                return
            stake = equity / max_open
            how = f"stake_amount unlimited: {equity:.2f} / max_open_trades={max_open}"
        elif isinstance(stake, int | float):
            how = "stake_amount"
        else:
            return
        cap = self.pm_correlation.max_correlated_exposure * equity
        warned = (cap, stake)
        if cap < stake and self.__dict__.get("_pm_corr_warned") != warned:
            self._pm_corr_warned = warned
            logger.warning(
                "posmgmt.correlation: cap %.2f x equity %.2f = %.2f %s is below one normal stake "
                "of %.2f (%s): no correlated pair can join a full position",
                self.pm_correlation.max_correlated_exposure,
                equity,
                cap,
                self.config.get("stake_currency", ""),
                stake,
                how,
            )


class CorrelationHooks(CapabilityHooks):
    """
    Correlation's answers (each stake capped, the final order re-checked) and its state: the
    candles the correlations are computed on (open times in epoch seconds), the last limit, and
    the numbers behind each decision.
    """

    capability = CAPABILITY
    policy: CorrelationConfig

    def __init__(
        self, strategy: IStrategy, policy: CorrelationConfig, step: int, window: int
    ) -> None:
        super().__init__(strategy, policy)
        self.engine = CorrelationEngine(policy)
        self.step = step
        self.window = window
        self.details: dict[tuple[str, datetime], dict] = {}
        self.candles: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
        self.frames: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        # pair -> the leverage of its last stake: confirm_trade_entry is not told it.
        self.leverage: dict[str, float] = {}
        self.last: tuple[tuple, EntryLimit] | None = None

    def __getstate__(self) -> dict:
        # Hyperopt pickles the strategy to each worker: leave the candles behind.
        return {**self.__dict__, "candles": None, "frames": {}}

    def informative_pairs(self) -> list[tuple[str, str]]:
        if self.strategy.dp is None:
            return []
        return [(p, self.strategy.timeframe) for p in self.universe()]

    def on_signals(self, dataframe: DataFrame, pair: str) -> None:
        if self.live():
            return
        # Each backtest and hyperopt epoch passes every pair here before its first candle.
        if self.candles is not None:
            self.candles = None
            self.frames = {}
            self.details = {}
        self.frames[pair] = dates_and_closes(dataframe)

    def cap_stake(self, request: StakeRequest) -> float | None:
        if not request.scale_in:
            self.leverage[request.pair] = request.leverage
        return self.cut(
            request.pair,
            request.side == "short",
            request.current_time,
            request.stake,
            request.leverage,
            request.min_stake,
        )

    def order_refusal(self, request: EntryRequest) -> str | None:
        # Re-check the final order: entries confirmed earlier on this candle count now.
        leverage = self.leverage.get(request.pair, 1.0)
        stake = request.amount * request.rate / leverage
        kept = self.cut(
            request.pair, request.side == "short", request.current_time, stake, leverage, 0.0, True
        )
        return None if kept > 0 else "correlated exposure over its cap"

    # -- the decision --------------------------------------------------------------------

    def cut(
        self,
        pair: str,
        is_short: bool,
        current_time: datetime,
        stake: float,
        leverage: float,
        min_stake: float | None,
        final: bool = False,
    ) -> float:
        """
        ``stake`` (margin at ``leverage``) cut to what the group's cap leaves; 0 to refuse.
        With ``final`` (``confirm_trade_entry``, the order's final amount and rate) what breaks
        the cap is refused rather than cut. Any error refuses: the cap fails closed.
        """
        strategy = self.strategy
        try:
            candle = decision_candle(strategy.timeframe, current_time)
            limit, equity = self.limit(pair, is_short, candle, current_time, stake * leverage)
            if not limit.is_cut:
                return stake
            cut = abs(limit.adjusted_size) / leverage
            if final or cut <= 0 or cut < (min_stake or 0.0):
                kind, kept = DecisionKind.REFUSED, 0.0
            else:
                kind, kept = DecisionKind.CUT, cut
            names = {symbol_key(p): p for p in self.universe()}
            group = tuple(names.get(s, s) for s in limit.group)
            reason = (
                f"group {', '.join(group)} net exposure {limit.net:.2f} of cap "
                f"{limit.cap:.2f} ({self.policy.max_correlated_exposure} x equity "
                f"{equity:.2f}) leaves {limit.room:.2f} of notional"
            )
            details = {
                "group": group,
                "net": limit.net,
                "cap": limit.cap,
                "equity": equity,
                "room": limit.room,
                "requested": stake * leverage,
                "correlations": dict(limit.correlations),
            }
            record_decision(
                strategy, Decision(CAPABILITY, kind, reason, stake - kept, pair, candle)
            )
            if self.live():
                # As the decision log: a bot running for months keeps the current candle's only.
                self.details = {key: kept_details for key, kept_details in self.details.items()
                                if key[1] >= candle}  # fmt: skip
            self.details.setdefault((pair, candle), details)
            return kept
        except Exception as e:  # noqa: BLE001 - the cap fails closed, with one line saying why
            reason = f"correlation check failed: {e!r}"
            logger.error("%s entry at %s refused: %s", pair, current_time, reason)
            record_decision(
                strategy,
                Decision(CAPABILITY, DecisionKind.REFUSED, reason, stake, pair, current_time),
                log=False,  # logged above, as an error
            )
            return 0.0

    def limit(
        self, pair: str, is_short: bool, candle: datetime, current_time: datetime, notional: float
    ) -> tuple[EntryLimit, float]:
        positions: dict[str, float] = {}
        for trade in Trade.get_trades_proxy(is_open=True):
            exposure = _notional(trade)
            positions[trade.pair] = positions.get(trade.pair, 0.0) + (
                -exposure if trade.is_short else exposure
            )
        size = -notional if is_short else notional
        engine = self.engine
        if not any(p != pair and v for p, v in positions.items()):
            # Nothing else held: no group can form, no candle needs reading.
            return engine.entry_limit(pair, size, positions, {}), math.nan
        equity = realised_equity(self.strategy, current_time)
        # confirm_trade_entry asks again right after custom_stake_amount: same group, same net.
        key = (pair, candle, is_short, tuple(positions.items()), equity)
        if self.last is not None and self.last[0] == key:
            return self.last[1].resized(size), equity
        candles = self.read_candles()
        universe = list(candles)
        symbols = [p for p in dict.fromkeys([pair, *positions]) if p in candles]
        end = int(candle.timestamp())
        returns = engine.window_returns(candles, symbols, universe, end, self.step, self.window)
        limit = engine.entry_limit(pair, size, positions, returns, scale=equity)
        self.last = key, limit
        return limit, equity

    # -- candles -------------------------------------------------------------------------

    def live(self) -> bool:
        dp = self.strategy.dp
        return dp is not None and dp.runmode in (RunMode.DRY_RUN, RunMode.LIVE)

    def universe(self) -> list[str]:
        strategy = self.strategy
        return list(
            dict.fromkeys([*strategy.dp.current_whitelist(), *strategy.correlation_extra_pairs])
        )

    def read_candles(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """
        Every universe pair's candle open times and closes. Backtests read their whole history
        once (the engine cuts it before each decision candle); live reads the DataProvider's
        candles afresh.
        """
        if self.candles is not None:
            return self.candles
        strategy = self.strategy
        if self.live():
            live = {}
            for pair in self.universe():
                arrays = dates_and_closes(strategy.dp.get_pair_dataframe(pair, strategy.timeframe))
                if len(arrays[0]):
                    live[pair] = arrays
            return live
        timerange = strategy.config.get("timerange")
        reach = self.step * max(self.window + 1, strategy.config.get("startup_candle_count", 0))
        candles = {}
        for pair in self.universe():
            # The analysed frame has the whole history unless a timerange cut its start.
            captured = None if timerange else self.frames.get(pair)
            if captured is None:
                captured = history_reaching_back(strategy.config, pair, strategy.timeframe, reach)
            if len(captured[0]):
                candles[pair] = captured
        self.candles = candles
        return candles


def _notional(trade: Trade) -> float:
    """
    Stake x leverage of an open trade, plus its open entry orders (live) once it has filled:
    their filled part, which Freqtrade adds to the trade's stake only when the order closes,
    and the rest still to fill.
    """
    notional = trade.stake_amount * trade.leverage
    if trade.nr_of_successful_entries == 0:
        return notional  # the requested stake of an entry not filled yet
    for order in trade.open_orders:
        if order.ft_order_side == trade.entry_side:
            notional += (order.safe_filled + order.safe_remaining) * order.safe_price
    return notional
