"""
Trailing stops, fee-aware breakeven and profit locks on Freqtrade's stop machinery.

Usage::

    class MyStrategy(TrailingStopMixin, IStrategy):
        trailing_stop_policy = TrailingStopPolicy(
            activation_threshold=0.02, atr_multiplier=2.0, breakeven_threshold=0.03
        )

or ``"posmgmt": {"trailing_stop": {"activation_threshold": 0.02, ...}}`` in config.json.
"""

from bisect import bisect_right
from datetime import datetime

import talib
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import Trade
from freqtrade.strategy import DecimalParameter
from pandas import DataFrame

from freqtrade_posmgmt.mixins._base import PARAMETERS, PolicyMixin, guarded, tightest_stop
from freqtrade_posmgmt.profit import stoploss_ratio
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy

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
    """

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

    def __init__(self, config: dict) -> None:
        # Per pair: open times (epoch seconds) and ATRs of the analysed candles.
        self._pm_atr_candles: dict[str, tuple[list[int], list[float]]] = {}
        super().__init__(config)
        self._pm_timeframe_seconds = timeframe_to_seconds(self.timeframe)

    def pm_refresh(self) -> None:
        super().pm_refresh()
        policy = self.pm_policy(
            "trailing_stop", self.trailing_stop_policy, self._pm_trailing_from_parameters
        )
        self.pm_trailing_stop_policy = policy
        # Indicators are computed before Parameters are loaded from a hyperopt result, and only
        # once per hyperopt run: with Parameters, an ATR multiplier may turn up later.
        needs_atr = policy is not None and (
            policy.uses_atr or self.trailing_stop_policy is PARAMETERS
        )
        self._pm_atr_period = policy.atr_period if needs_atr else None
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
        if policy.is_builtin_expressible() and not users_own:
            for name, value in builtin.items():
                self.pm_enable(name, value)
            return
        self.pm_enable("use_custom_stoploss", True)
        self.pm_use_callbacks(TrailingStopMixin)

    def _pm_trailing_from_parameters(self) -> TrailingStopPolicy:
        return TrailingStopPolicy(
            activation_threshold=self.pm_trailing_activation.value,
            trailing_distance_pct=self.pm_trailing_distance.value,
            atr_multiplier=self.pm_trailing_atr_multiplier.value or None,
            breakeven_threshold=self.pm_trailing_breakeven.value or None,
        )

    def advise_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe = super().advise_indicators(dataframe, metadata)
        if self._pm_atr_period is not None:
            atr = talib.ATR(
                dataframe["high"].to_numpy(dtype=float),
                dataframe["low"].to_numpy(dtype=float),
                dataframe["close"].to_numpy(dtype=float),
                timeperiod=self._pm_atr_period,
            )
            dataframe[ATR_COLUMN] = atr
            # Plain lists searched with bisect: far cheaper per call than any dataframe access.
            # Freqtrade loads dates in ms, a raw file may hold ns: convert the unit, not the int.
            opens = dataframe["date"].dt.as_unit("s").astype("int64").tolist()
            self._pm_atr_candles[metadata["pair"]] = (opens, atr.tolist())
        return dataframe

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
        ours = self._pm_trailing_stop(pair, trade, current_time, current_rate)
        theirs = super().custom_stoploss(
            pair=pair,
            trade=trade,
            current_time=current_time,
            current_rate=current_rate,
            current_profit=current_profit,
            after_fill=after_fill,
            **kwargs,
        )
        # Called on every candle of every open trade: skip the merge when there is nothing to merge.
        return ours if theirs is None else tightest_stop(ours, theirs)

    @guarded(None)
    def _pm_trailing_stop(
        self, pair: str, trade: Trade, current_time: datetime, current_rate: float
    ) -> float | None:
        policy = self.pm_trailing_stop_policy
        if policy is None:
            return None
        is_short = trade.is_short
        if is_short:
            best_rate = min(trade.min_rate or current_rate, current_rate)
        else:
            best_rate = max(trade.max_rate or current_rate, current_rate)
        leverage = trade.leverage or 1.0
        stop = policy.update_trailing_stop(
            is_short=is_short,
            open_rate=trade.open_rate,
            best_rate=best_rate,
            # The stop in force, so that the after-fill call, which Freqtrade lets move the stop
            # either way, cannot loosen it either.
            existing_stop=trade.stop_loss or None,
            atr=None
            if policy.atr_multiplier is None
            else self._pm_closed_candle_atr(pair, current_time),
            leverage=leverage,
            fee_open=trade.fee_open or 0.0,
            fee_close=trade.fee_close or 0.0,
            amount=trade.amount,
            funding_fees=trade.funding_fees or 0.0,
        )
        if stop is None:
            return None
        return stoploss_ratio(stop, current_rate, is_short=is_short, leverage=leverage)

    def _pm_closed_candle_atr(self, pair: str, current_time: datetime) -> float | None:
        """ATR of the last candle closed at ``current_time``: never the still-open one."""
        opens, atr = self._pm_atr_candles.get(pair, ((), ()))
        if not opens:
            return None
        closed_open = int(current_time.timestamp()) - self._pm_timeframe_seconds
        # Freqtrade fills gaps, so the index follows from the time; search only where it does not
        # (a gap after all, or a calendar timeframe such as 1M).
        index = min((closed_open - opens[0]) // self._pm_timeframe_seconds, len(opens) - 1)
        if index >= 0 and not (
            opens[index] <= closed_open
            and (index + 1 == len(opens) or opens[index + 1] > closed_open)
        ):
            index = bisect_right(opens, closed_open) - 1
        return atr[index] if index >= 0 else None
