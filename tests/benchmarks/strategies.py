"""Reference strategies that anchor the benchmarks: what position management must beat."""

from datetime import datetime

import talib.abstract as ta
from example_strategy import ExampleStrategy
from freqtrade.persistence import Trade
from pandas import DataFrame

TRAIL_OFFSET = 0.02
TRAIL_DISTANCE = 0.01


class BuiltinTrailing(ExampleStrategy):
    """Freqtrade's own trailing stop: no callback at all."""

    trailing_stop = True
    trailing_stop_positive = TRAIL_DISTANCE
    trailing_stop_positive_offset = TRAIL_OFFSET
    trailing_only_offset_is_reached = True


class HandwrittenTrailing(ExampleStrategy):
    """The smallest custom_stoploss that reproduces BuiltinTrailing."""

    use_custom_stoploss = True

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
        return TRAIL_DISTANCE if current_profit > TRAIL_OFFSET else None


class DocsAtrStop(ExampleStrategy):
    """The ATR stop as Freqtrade's docs show it: a dataframe read on every call."""

    use_custom_stoploss = True

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe = super().populate_indicators(dataframe, metadata)
        dataframe["atr"] = ta.ATR(dataframe, timeperiod=14)
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
        dataframe, _ = self.dp.get_analyzed_dataframe(pair, self.timeframe)
        last_candle = dataframe.iloc[-1].squeeze()
        if current_profit <= TRAIL_OFFSET:
            return None
        return 2 * last_candle["atr"] / current_rate


class NoopCallbacks(ExampleStrategy):
    """Every position-management callback present and doing nothing: the machinery's floor."""

    use_custom_stoploss = True
    position_adjustment_enable = True

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
        return None

    def custom_exit(
        self,
        pair: str,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        **kwargs,
    ) -> str | None:
        return None

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
    ) -> float | None:
        return None

    def confirm_trade_entry(
        self,
        pair: str,
        order_type: str,
        amount: float,
        rate: float,
        time_in_force: str,
        current_time: datetime,
        entry_tag: str | None,
        side: str,
        **kwargs,
    ) -> bool:
        return True

    def custom_stake_amount(
        self,
        pair: str,
        current_time: datetime,
        current_rate: float,
        proposed_stake: float,
        min_stake: float | None,
        max_stake: float,
        leverage: float,
        entry_tag: str | None,
        side: str,
        **kwargs,
    ) -> float:
        return proposed_stake
