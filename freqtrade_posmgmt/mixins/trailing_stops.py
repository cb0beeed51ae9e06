"""
Trailing stops, fee-aware breakeven and profit locks on Freqtrade's stop machinery.

Usage::

    class MyStrategy(TrailingStopMixin, IStrategy):
        trailing_stop_policy = TrailingStopPolicy(
            activation_threshold=0.02, atr_multiplier=2.0, breakeven_threshold=0.03
        )

or ``"posmgmt": {"trailing_stop": {"activation_threshold": 0.02, ...}}`` in config.json.
"""

import logging
from datetime import datetime
from typing import Any

from freqtrade.enums import RunMode
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import Trade
from freqtrade.strategy import DecimalParameter, IStrategy
from pandas import DataFrame

from freqtrade_posmgmt.closed_candles import (
    best_closed_rate,
    last_closed_index,
    unread_closed_range,
)
from freqtrade_posmgmt.indicators import atr
from freqtrade_posmgmt.mixins._base import PARAMETERS, PolicyMixin
from freqtrade_posmgmt.mixins._history import open_times
from freqtrade_posmgmt.mixins._hooks import CapabilityHooks, StopAnswer, StopRequest
from freqtrade_posmgmt.profit import stoploss_ratio
from freqtrade_posmgmt.registry import Capability
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy

logger = logging.getLogger(__name__)

ATR_COLUMN = "pm_atr"


class TrailingStopMixin(PolicyMixin):
    """
    Trail the stop behind the best rate, move it to a fee-aware breakeven and lock profits.

    Configure with the class attribute ``trailing_stop_policy`` (a ``TrailingStopPolicy``, or
    None to switch off), ``"posmgmt": {"trailing_stop": {...}}`` in config.json, or, by default,
    the hyperoptable Parameters in space ``pm_trailing`` (an ATR multiplier or breakeven
    threshold of 0 means "not used").

    A policy Freqtrade's built-in trailing stop can express is compiled to it
    (``trailing_stop_positive`` and friends): same trades, no callback. Any other policy runs in
    ``custom_stoploss``, merged with the strategy's own stop (the tightest wins). Its ATR is added
    to the analysed dataframe as ``pm_atr``; the stop only ever uses a closed candle's value.
    With ``trail_on="candle_close"`` the best rate, too, comes from the closed candles' highs
    (lows), read from the analysed dataframe. A stop exit of a stop this mixin set is tagged with
    the rule that set it (``trailing_stop_loss (pm_stop=breakeven)``, see ``stop_sources``).
    """

    pm_section = Capability.TRAILING_STOP
    trailing_stop_policy: TrailingStopPolicy | None = PARAMETERS

    pm_trailing_activation = DecimalParameter(
        0.0, 0.10, default=0.015, decimals=3, space="pm_trailing"
    )
    pm_trailing_distance = DecimalParameter(
        0.001, 0.05, default=0.005, decimals=3, space="pm_trailing"
    )
    pm_trailing_atr_multiplier = DecimalParameter(
        0.0, 5.0, default=0.0, decimals=1, space="pm_trailing"
    )
    pm_trailing_breakeven = DecimalParameter(
        0.0, 0.10, default=0.0, decimals=2, space="pm_trailing"
    )

    def pm_refresh(self) -> None:
        super().pm_refresh()
        policy = self.pm_policy(
            "trailing_stop", self.trailing_stop_policy, self._pm_trailing_from_parameters
        )
        self.pm_trailing_stop_policy = policy
        if policy is None:
            return
        builtin = {
            "trailing_stop": True,
            "trailing_stop_positive": policy.trailing_distance_pct,
            "trailing_stop_positive_offset": policy.activation_threshold,
            "trailing_only_offset_is_reached": True,
        }
        # A trailing stop of the user's own stays in force and ours runs beside it. Hyperopt
        # writes our compiled values back as the strategy's own: those are not the user's.
        users_own = self.trailing_stop and any(
            getattr(self, name) != value for name, value in builtin.items()
        )
        compiled = policy.is_builtin_expressible() and not users_own
        if compiled:
            for name, value in builtin.items():
                self.pm_enable(name, value)
            self._pm_trailing_config_yields(builtin)
        else:
            self.pm_enable("use_custom_stoploss", True)
        # Indicators are computed before Parameters are loaded from a hyperopt result, and only
        # once per hyperopt run: with Parameters, an ATR multiplier may turn up later.
        needs_atr = policy.uses_atr or self.trailing_stop_policy is PARAMETERS
        self.pm_add_hooks(TrailingStopHooks(self, policy, compiled, needs_atr))

    def _pm_trailing_config_yields(self, builtin: dict[str, Any]) -> None:
        """
        Freqtrade's strategy resolver sets config.json's ``trailing_stop*`` keys on the strategy
        after it is built, over the trailing stop our policy compiled to: a leftover
        ``"trailing_stop": false`` would switch the policy off without a word. The policy is
        the explicit choice (switch it off with ``posmgmt.trailing_stop: null``): it wins, and
        a conflicting key is named in one line.
        """
        conflicts = {
            name: self.config[name]
            for name, value in builtin.items()
            if name in self.config and self.config[name] != value
        }
        if not conflicts:
            return
        logger.warning(
            "TrailingStopMixin: config %s ignored: the trailing_stop policy sets %s "
            "(remove the keys, or switch the policy off with posmgmt.trailing_stop: null)",
            ", ".join(f"{name}={value!r}" for name, value in conflicts.items()),
            ", ".join(f"{name}={builtin[name]!r}" for name in conflicts),
        )
        # The resolver applies the config's keys after __init__: give it ours to apply.
        self.config.update({name: builtin[name] for name in conflicts})

    def _pm_trailing_from_parameters(self) -> TrailingStopPolicy:
        return TrailingStopPolicy(
            activation_threshold=self.pm_trailing_activation.value,
            trailing_distance_pct=self.pm_trailing_distance.value,
            atr_multiplier=self.pm_trailing_atr_multiplier.value or None,
            breakeven_threshold=self.pm_trailing_breakeven.value or None,
        )


class TrailingStopHooks(CapabilityHooks):
    """
    The trailing stop's answers, and its state: the analysed candles it reads (ATRs, and the
    closed candles' highs and lows with ``trail_on="candle_close"``) and each trade's best rate
    so far among the closed candles. Candle times are epoch seconds throughout.
    """

    capability = Capability.TRAILING_STOP
    names_stops = True
    policy: TrailingStopPolicy

    def __init__(
        self, strategy: IStrategy, policy: TrailingStopPolicy, compiled: bool, needs_atr: bool
    ) -> None:
        super().__init__(strategy, policy)
        self.compiled = compiled
        """The policy runs as Freqtrade's own trailing stop: no callback of ours."""
        self.atr_period = policy.atr_period if needs_atr else None
        self.step = timeframe_to_seconds(strategy.pm_timeframe())
        self.backtesting = strategy.config.get("runmode") in (RunMode.BACKTEST, RunMode.HYPEROPT)
        # Indicators are computed once per backtest or hyperopt run, before the epochs' refreshes:
        # the candles read so far stay with the capability.
        previous = strategy.pm_hooks(self.capability)
        # Per pair: open times and ATRs of the analysed candles.
        self.atr_candles: dict[str, tuple[list[int], list[float]]] = (
            {} if previous is None else previous.atr_candles
        )
        # Per pair: open times, highs, lows and closes of the analysed candles (candle_close).
        self.closed_candles: dict[str, tuple[list[int], list[float], list[float], list[float]]] = (
            {} if previous is None else previous.closed_candles
        )
        # trade id -> (its open date, open time of the last closed candle read, best rate so far).
        self.best_closed: dict[int, tuple[datetime, int, float]] = {}

    def callbacks(self) -> set[str]:
        # Freqtrade confirms our stop exits, ours or its own trail compiled from our policy.
        if self.compiled:
            return {"confirm_trade_exit"}
        needed = {"custom_stoploss", "confirm_trade_exit"}
        if self.policy.trails_on_candle_close and self.backtesting:
            needed.add("bot_loop_start")
        return needed

    def analyze(self, dataframe: DataFrame, pair: str) -> None:
        if self.atr_period is None and not self.policy.trails_on_candle_close:
            return
        # Plain lists searched with bisect: far cheaper per call than any dataframe access.
        opens = open_times(dataframe).tolist()
        if self.atr_period is not None:
            values = atr(dataframe["high"], dataframe["low"], dataframe["close"], self.atr_period)
            dataframe[ATR_COLUMN] = values
            self.atr_candles[pair] = (opens, values.tolist())
        if self.policy.trails_on_candle_close:
            self.closed_candles[pair] = (
                opens,
                dataframe["high"].tolist(),
                dataframe["low"].tolist(),
                dataframe["close"].tolist(),
            )

    def on_loop_start(self, current_time: datetime) -> None:
        """
        Backtesting with ``trail_on="candle_close"``: put each open trade's closed-candle stop in
        force at the candle boundary, before the new candle's low is tested against the stop.
        Freqtrade's backtester skips ``custom_stoploss`` on a candle whose low already crosses
        the stop in force, so the stop a live bot set at the close would otherwise come one
        candle late. Live, ``custom_stoploss`` sets it within a bot loop of the close.
        """
        for trade in Trade.get_trades_proxy(is_open=True):
            closed = self.best_closed_rate(trade.pair, trade, current_time)
            if closed is None:
                continue
            last_close = closed[1]
            answer = self.trailing_stop(trade.pair, trade, current_time, last_close)
            if answer is not None:
                # Only ever tightens, as every stop Freqtrade applies.
                trade.adjust_stop_loss(last_close, answer.ratio)

    def stop(self, request: StopRequest) -> StopAnswer | None:
        return self.trailing_stop(
            request.pair, request.trade, request.current_time, request.current_rate
        )

    def trailing_stop(
        self, pair: str, trade: Trade, current_time: datetime, current_rate: float
    ) -> StopAnswer | None:
        policy = self.policy
        is_short = trade.is_short
        last_close = None
        if policy.trails_on_candle_close:
            closed = self.best_closed_rate(pair, trade, current_time)
            if closed is None:
                return None  # no candle has closed since entry: nothing moves the stop yet
            best_rate, last_close = closed
        elif is_short:
            best_rate = min(trade.min_rate or current_rate, current_rate)
        else:
            best_rate = max(trade.max_rate or current_rate, current_rate)
        leverage = trade.leverage or 1.0
        found = policy.stop_and_source(
            is_short=is_short,
            open_rate=trade.open_rate,
            best_rate=best_rate,
            atr=None
            if policy.atr_multiplier is None
            else self.closed_candle_atr(pair, current_time),
            leverage=leverage,
            fee_open=trade.fee_open or 0.0,
            fee_close=trade.fee_close or 0.0,
            amount=trade.amount,
            funding_fees=trade.funding_fees or 0.0,
        )
        if found is None:
            return None
        stop, source = found
        if last_close is not None and (stop >= last_close if not is_short else stop <= last_close):
            # A bot deciding at that candle's close could not place a stop beyond its close.
            return None
        # The stop in force, so that the after-fill call, which Freqtrade lets move the stop
        # either way, cannot loosen it either.
        existing = trade.stop_loss or None
        if existing is not None:
            stop = min(stop, existing) if is_short else max(stop, existing)
        ratio = stoploss_ratio(stop, current_rate, is_short=is_short, leverage=leverage)
        if ratio is None:
            return None
        if stop == found[0]:
            return StopAnswer(ratio, stop, source)
        return StopAnswer(ratio)

    def best_closed_rate(
        self, pair: str, trade: Trade, current_time: datetime
    ) -> tuple[float, float] | None:
        """
        Highest high (lowest low for a short) of the candles closed since the trade opened,
        from the candle it opened in, and the last closed candle's close; None before the first
        of them has closed. The best is kept per trade, so each call reads only the candles
        closed since the last one.
        """
        opens, highs, lows, closes = self.closed_candles.get(pair, ((), (), (), ()))
        if not opens:
            return None
        step = self.step
        now_s = int(current_time.timestamp())
        known = self.best_closed.get(trade.id)
        # Another trade under the same id, or a clock gone back (a new hyperopt epoch).
        if known is not None and (known[0] != trade.open_date or known[1] + step > now_s):
            known = None
        unread = unread_closed_range(
            opens,
            step,
            now_s,
            int(trade.open_date_utc.timestamp()),
            None if known is None else known[1],
        )
        if unread is None:
            return None
        first, last_closed = unread
        extremes = lows if trade.is_short else highs
        best = best_closed_rate(
            extremes, first, last_closed, trade.is_short, None if known is None else known[2]
        )
        if best is None:
            return None
        self.best_closed[trade.id] = (trade.open_date, opens[last_closed], best)
        return best, closes[last_closed]

    def closed_candle_atr(self, pair: str, current_time: datetime) -> float | None:
        """ATR of the last candle closed at ``current_time``: never the still-open one."""
        opens, values = self.atr_candles.get(pair, ((), ()))
        if not opens:
            return None
        index = last_closed_index(opens, self.step, int(current_time.timestamp()))
        return values[index] if index >= 0 else None
