"""
The exchange a replayed bot talks to: recorded candles served as a market that moves with the
clock.

Freqtrade builds its ccxt objects in ``Exchange._init_ccxt``; :func:`serve` wraps that method so
that each ccxt object it builds (sync and async) answers its market-data calls from the recorded
candles at the current (driven) time, and refuses every other network call. Everything above ccxt
is Freqtrade's own: candle paging and caching, the dropping of the running candle, pricing from
the ticker or the order book, dry-run fills, fees and precision from the markets snapshot.
"""

import contextlib
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from freqtrade.data.history import load_pair_history
from freqtrade.enums import CandleType
from freqtrade.exchange import timeframe_to_msecs
from freqtrade.exchange.exchange import Exchange

# Depth on each side of the book: deep enough that a market order fills at the top price, as a
# backtest fills it at the candle's price.
BOOK_DEPTH = 1e12


class FeedError(Exception):
    """Missing candles, or a call the recorded market cannot answer; worded for one line."""


def tick_path(open_: float, high: float, low: float, close: float, ticks: int) -> list[float]:
    """
    The prices a candle passes through, in ``ticks`` evenly spaced polls.

    The path is open -> the extreme nearer to the open -> the farther extreme -> close: the
    shortest path through all four prices, so the candle's range is covered without inventing
    swings the candle does not show, and a stop near the open is reached before a target far
    from it. With four ticks or more every waypoint is polled exactly (the steps between them are
    shared out as evenly as possible), so a replay sees each candle's high and low; with fewer,
    the path is cut to the open, the nearer extreme (three ticks) and the close.
    :param ticks: polls per candle, at least 1 (1: the open only, as a backtest decides)
    :return: ``ticks`` prices, the first the open
    """
    if ticks < 1:
        raise ValueError(f"ticks per candle must be at least 1, got {ticks}")
    high_first = high - open_ <= open_ - low
    nearer, farther = (high, low) if high_first else (low, high)
    if ticks < 4:
        return [open_, nearer, close][: ticks - 1] + [close] if ticks > 1 else [open_]
    waypoints = [open_, nearer, farther, close]
    steps = ticks - 1
    # e.g. 5 steps -> 2, 2, 1 steps in the three segments
    per_segment = [steps // 3 + (1 if i < steps % 3 else 0) for i in range(3)]
    path = [open_]
    for segment, count in enumerate(per_segment):
        start, end = waypoints[segment], waypoints[segment + 1]
        path += [start + (end - start) * (step / count) for step in range(1, count + 1)]
    return path


class PairFeed:
    """One pair's recorded candles of one timeframe and type, with their tick paths."""

    def __init__(self, frame: Any, timeframe: str, ticks: int) -> None:
        self.timeframe_ms = timeframe_to_msecs(timeframe)
        self.ticks = ticks
        self.dates = pd.DatetimeIndex(frame["date"]).as_unit("ms").asi8
        self.ohlcv = frame[["open", "high", "low", "close", "volume"]].to_numpy(dtype=float)
        # Every candle as ccxt gives it once closed (int time, float prices), made once: a fetch
        # of the exchange's 1000-candle limit (Freqtrade's every refresh) is then one slice's
        # tolist(), not 1000 rows built in Python. Held in an array, not as Python lists, which
        # the garbage collector would walk through at every collection for the bot's life.
        self._closed = np.empty((len(self.dates), 6), dtype=object)
        self._closed[:, 0] = self.dates.tolist()
        self._closed[:, 1:] = self.ohlcv.tolist()
        self._paths: dict[int, list[float]] = {}

    def _path(self, index: int) -> list[float]:
        if index not in self._paths:
            self._paths[index] = tick_path(*self.ohlcv[index, :4], self.ticks)
        return self._paths[index]

    def running(self, now_ms: int) -> tuple[int, int]:
        """(index of the candle running at ``now_ms``, ticks of it already passed - 1);
        index -1 if the data starts later."""
        index = int(np.searchsorted(self.dates, now_ms, side="right")) - 1
        if index < 0:
            return -1, 0
        into = now_ms - int(self.dates[index])
        if into >= self.timeframe_ms:  # a gap in the data: the last candle has closed
            return index, self.ticks - 1
        return index, min(self.ticks - 1, into * self.ticks // self.timeframe_ms)

    def price(self, now_ms: int) -> float:
        index, tick = self.running(now_ms)
        if index < 0:
            raise FeedError(f"no recorded candle at {_iso(now_ms)}")
        return self._path(index)[tick]

    def candle(self, index: int, now_ms: int) -> list[float]:
        """The candle at ``index`` as ccxt gives it at ``now_ms``: formed so far if running."""
        closed = self._closed[index].tolist()
        date, open_, _, _, _, volume = closed
        if now_ms - date >= self.timeframe_ms:
            return closed
        _, tick = self.running(now_ms)
        seen = self._path(index)[: tick + 1]
        return [
            date,
            open_,
            max(seen),
            min(seen),
            seen[-1],
            volume * (tick + 1) / self.ticks,
        ]

    def ohlcv_since(self, now_ms: int, since: int | None, limit: int) -> list[list[float]]:
        """ccxt ``fetch_ohlcv``: up to ``limit`` candles from ``since`` (else the latest), the
        running one included."""
        last = int(np.searchsorted(self.dates, now_ms, side="right"))
        if since is None:
            first = max(0, last - limit)
        else:
            first = int(np.searchsorted(self.dates, since, side="left"))
            last = min(last, first + limit)
        if first >= last:
            return []
        return [*self._closed[first : last - 1].tolist(), self.candle(last - 1, now_ms)]


class RecordedMarket:
    """
    The recorded candles of a data directory, served at the driven clock.
    :param datadir: Freqtrade's data directory for the exchange (``user_data/data/binance``)
    :param data_format: Freqtrade's ``dataformat_ohlcv``
    :param ticks: price polls per candle of the price timeframe
    :param price_timeframe: the timeframe whose candles set the polled price (the strategy's)
    :param price_candle_type: spot or futures candles for the price
    """

    def __init__(
        self,
        datadir: Path,
        data_format: str,
        ticks: int,
        price_timeframe: str,
        price_candle_type: CandleType,
    ) -> None:
        self.datadir = datadir
        self.data_format = data_format
        self.ticks = ticks
        self.price_timeframe = price_timeframe
        self.price_candle_type = price_candle_type
        self._feeds: dict[tuple[str, str, CandleType], PairFeed] = {}

    def feed(self, pair: str, timeframe: str, candle_type: CandleType) -> PairFeed:
        key = (pair, timeframe, candle_type)
        if key not in self._feeds:
            frame = load_pair_history(
                pair,
                timeframe,
                self.datadir,
                data_format=self.data_format,
                candle_type=candle_type,
                fill_up_missing=False,
            )
            if frame.empty:
                raise FeedError(
                    f"no {timeframe} {candle_type.value} candles for {pair} in {self.datadir}"
                )
            self._feeds[key] = PairFeed(frame, timeframe, self.ticks)
        return self._feeds[key]

    def price(self, pair: str) -> float:
        """The price of ``pair`` now, on its tick path."""
        return self.feed(pair, self.price_timeframe, self.price_candle_type).price(_now_ms())

    def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str,
        since: int | None,
        limit: int | None,
        params: dict,
    ) -> list[list[float]]:
        candle_type = (
            CandleType.from_string(params["price"])
            if params.get("price")
            else self.price_candle_type
        )
        return self.feed(symbol, timeframe, candle_type).ohlcv_since(
            _now_ms(), since, limit or 1000
        )

    def fetch_funding_rate_history(
        self, symbol: str, since: int | None, limit: int | None
    ) -> list[dict[str, Any]]:
        # Funding candles carry the rate in "open" (Freqtrade's funding_rate candle files).
        feed = self.feed(symbol, "1h", CandleType.FUNDING_RATE)
        return [
            {
                "symbol": symbol,
                "timestamp": int(date),
                "datetime": _iso(int(date)),
                "fundingRate": o,
            }
            for date, o, *_ in feed.ohlcv_since(_now_ms(), since, limit or 1000)
            if _now_ms() - date >= feed.timeframe_ms  # only funding already paid
        ]

    def ticker(self, symbol: str) -> dict[str, Any]:
        """A ticker with no spread: bid, ask and last are the polled price, as a backtest
        prices at the candle's one price."""
        now = _now_ms()
        feed = self.feed(symbol, self.price_timeframe, self.price_candle_type)
        index, _ = feed.running(now)
        _, open_, high, low, close, volume = feed.candle(index, now)
        return {
            "symbol": symbol,
            "timestamp": now,
            "datetime": _iso(now),
            "bid": close,
            "ask": close,
            "last": close,
            "close": close,
            "open": open_,
            "high": high,
            "low": low,
            "baseVolume": volume,
            "quoteVolume": volume * close,
            "bidVolume": BOOK_DEPTH,
            "askVolume": BOOK_DEPTH,
            "info": {},
        }

    def order_book(self, symbol: str) -> dict[str, Any]:
        """One deep level each side at the polled price."""
        now = _now_ms()
        price = self.price(symbol)
        return {
            "symbol": symbol,
            "bids": [[price, BOOK_DEPTH]],
            "asks": [[price, BOOK_DEPTH]],
            "timestamp": now,
            "datetime": _iso(now),
            "nonce": None,
        }


def _now_ms() -> int:
    return math.floor(datetime.now(UTC).timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


class OfflineCall(FeedError):
    """A ccxt call that would have gone to the network."""


def attach(api: Any, market: RecordedMarket, sync: bool) -> Any:
    """Make the ccxt object ``api`` answer market data from ``market`` and nothing from the
    network."""

    def refuse(url: str, *args: Any, **kwargs: Any) -> Any:
        raise OfflineCall(f"the replay has no network: {url}")

    def fetch_ticker(symbol: str, params: dict | None = None) -> dict:
        return market.ticker(symbol)

    def fetch_tickers(symbols: list[str] | None = None, params: dict | None = None) -> dict:
        symbols = symbols or list(api.markets)
        return {symbol: market.ticker(symbol) for symbol in symbols if _has_data(symbol)}

    def _has_data(symbol: str) -> bool:
        try:
            market.ticker(symbol)
        except FeedError:
            return False
        return True

    def fetch_order_book(symbol: str, limit: int | None = None, params: dict | None = None) -> dict:
        return market.order_book(symbol)

    def fetch_ohlcv(
        symbol: str,
        timeframe: str = "1m",
        since: int | None = None,
        limit: int | None = None,
        params: dict | None = None,
    ) -> list:
        return market.fetch_ohlcv(symbol, timeframe, since, limit, params or {})

    def fetch_funding_rate_history(
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict | None = None,
    ) -> list:
        return market.fetch_funding_rate_history(symbol, since, limit)

    def fetch_time(params: dict | None = None) -> int:
        return _now_ms()  # the driven clock: no offset to warn about

    answers = {
        "fetch_time": fetch_time,
        "fetch_ticker": fetch_ticker,
        "fetch_tickers": fetch_tickers,
        "fetch_order_book": fetch_order_book,
        "fetch_l2_order_book": fetch_order_book,
        "fetch_ohlcv": fetch_ohlcv,
        "fetch_funding_rate_history": fetch_funding_rate_history,
        "fetch": refuse,
    }
    for name, answer in answers.items():
        setattr(api, name, answer if sync else _as_coroutine(answer))
    return api


def _as_coroutine(function: Any) -> Any:
    async def coroutine(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return coroutine


@contextlib.contextmanager
def serve(market: RecordedMarket) -> Iterator[None]:
    """Within this block every Freqtrade exchange built gets ccxt objects fed by ``market``."""
    original = Exchange._init_ccxt

    def _init_ccxt(self: Exchange, exchange_config: dict, sync: bool, ccxt_kwargs: dict) -> Any:
        return attach(original(self, exchange_config, sync, ccxt_kwargs), market, sync)

    Exchange._init_ccxt = _init_ccxt
    try:
        yield
    finally:
        Exchange._init_ccxt = original
