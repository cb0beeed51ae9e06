"""
The indicators the capabilities read, computed once and the same way wherever they are read (the
trailing mixin's ATR stop; the exit lab reads the same ATR). Framework-free: arrays in, array out.
"""

import numpy as np
import talib


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """
    Average true range (Wilder's smoothing, as TA-Lib computes it) of each candle; NaN for the
    first ``period`` candles.
    :param high: candle highs, oldest first
    :param low: candle lows
    :param close: candle closes
    :param period: the smoothing period, in candles
    """
    return talib.ATR(
        np.asarray(high, dtype=float),
        np.asarray(low, dtype=float),
        np.asarray(close, dtype=float),
        timeperiod=period,
    )
