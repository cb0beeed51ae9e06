"""
Candles before a backtest's timerange, for the capabilities whose windows reach back (the
correlation window, dynamic risk's volatility window), so that a decision does not depend on
where the backtest began.
"""

from functools import lru_cache
from pathlib import Path

import numpy as np
from freqtrade.configuration import TimeRange
from freqtrade.data.history import load_pair_history
from freqtrade.enums import CandleType
from pandas import DataFrame


def open_times(frame: DataFrame) -> np.ndarray:
    """
    Candle open times in epoch seconds, the mixins' one time unit. Freqtrade loads dates in ms,
    a raw file may hold ns: the unit is converted, not the integers.
    """
    return frame["date"].to_numpy(dtype="datetime64[s]").astype(np.int64)


def dates_and_closes(frame: DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Candle open times (epoch seconds) and closes."""
    return open_times(frame), frame["close"].to_numpy(dtype=float)


def history_reaching_back(
    config: dict, pair: str, timeframe: str, reach_seconds: int
) -> tuple[np.ndarray, np.ndarray]:
    """
    ``pair``'s candles of a backtest with ``config``, reaching ``reach_seconds`` before its
    timerange starts (open times in epoch seconds, closes).
    """
    return _backtest_history(
        pair,
        timeframe,
        str(config["datadir"]),
        config.get("timerange"),
        reach_seconds,
        config.get("dataformat_ohlcv", "feather"),
        config.get("candle_type_def", CandleType.SPOT),
    )


@lru_cache(maxsize=64)
def _backtest_history(
    pair: str,
    timeframe: str,
    datadir: str,
    timerange: str | None,
    reach_seconds: int,
    data_format: str,
    candle_type: CandleType,
) -> tuple[np.ndarray, np.ndarray]:
    """
    A backtest's candles of ``pair``, loaded as the DataProvider loads them but reaching
    ``reach_seconds`` before the timerange starts. Kept per process: hyperopt epochs read the
    same files.
    """
    parsed = TimeRange.parse_timerange(timerange)
    if parsed.starttype:
        parsed.subtract_start(reach_seconds)
    frame = load_pair_history(
        pair=pair,
        timeframe=timeframe,
        datadir=Path(datadir),
        timerange=parsed,
        data_format=data_format,
        candle_type=candle_type,
    )
    return dates_and_closes(frame)
