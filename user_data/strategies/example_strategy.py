"""
A plain trend-following signal strategy: the base the position-management mixins are added to.

Enter when a fast EMA crosses above a slow one while the trend has strength (ADX) and RSI is not
overbought; leave on the opposite cross. Shorts mirror it when ``can_short`` is True (futures).
"""

import talib.abstract as ta
from freqtrade.strategy import IntParameter, IStrategy
from pandas import DataFrame
from technical import qtpylib


class ExampleStrategy(IStrategy):
    INTERFACE_VERSION = 3

    timeframe = "1h"
    can_short = False

    minimal_roi = {"0": 0.10, "720": 0.05, "1440": 0.02}
    stoploss = -0.06
    process_only_new_candles = True
    startup_candle_count = 200

    ema_fast = IntParameter(5, 20, default=12, space="buy")
    ema_slow = IntParameter(21, 60, default=26, space="buy")
    adx_min = IntParameter(10, 35, default=20, space="buy")
    rsi_max = IntParameter(55, 85, default=70, space="buy")

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        for period in {*self.ema_fast.range, *self.ema_slow.range}:
            dataframe[f"ema_{period}"] = ta.EMA(dataframe, timeperiod=period)
        dataframe["adx"] = ta.ADX(dataframe)
        dataframe["rsi"] = ta.RSI(dataframe)
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        fast = dataframe[f"ema_{self.ema_fast.value}"]
        slow = dataframe[f"ema_{self.ema_slow.value}"]
        trending = (dataframe["adx"] > self.adx_min.value) & (dataframe["volume"] > 0)
        dataframe.loc[
            qtpylib.crossed_above(fast, slow) & trending & (dataframe["rsi"] < self.rsi_max.value),
            ["enter_long", "enter_tag"],
        ] = (1, "ema_cross_up")
        dataframe.loc[
            qtpylib.crossed_below(fast, slow)
            & trending
            & (dataframe["rsi"] > 100 - self.rsi_max.value),
            ["enter_short", "enter_tag"],
        ] = (1, "ema_cross_down")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        fast = dataframe[f"ema_{self.ema_fast.value}"]
        slow = dataframe[f"ema_{self.ema_slow.value}"]
        dataframe.loc[qtpylib.crossed_below(fast, slow), "exit_long"] = 1
        dataframe.loc[qtpylib.crossed_above(fast, slow), "exit_short"] = 1
        return dataframe
