"""
Live replay speed: pair-candles per second of Freqtrade's real bot loop over the shipped candles
(the example managed strategy, ten pairs, one week), with 4 polls per candle (each of open, the
two extremes and close) and with 1 (the open only, as a backtest decides). The bot runs in the
replay's own child process; the time is the replay's, from the process start-up to the last
loop, so it includes one bot start-up.

Side by side in the same run: the feed as it was (each of the 1000 candles Freqtrade asks for at
every refresh built again per call), and the floor no feed can go below: the time Freqtrade
spends merging each pair's new candle into the frame it keeps plus the strategy's analysis of
that frame, the two things a live bot does for every pair and candle. The whole span of the
shipped data (ten pairs) is extrapolated from the 4-poll rate. No target: the numbers are
reported.
"""

import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.configuration import Configuration
from freqtrade.enums import RunMode
from freqtrade.exchange.exchange import Exchange
from freqtrade.strategy.interface import IStrategy

from freqtrade_posmgmt.cli.offline import load_markets
from freqtrade_posmgmt.replay.engine import ReplaySettings, run_replay
from freqtrade_posmgmt.replay.feed import PairFeed

REPO = Path(__file__).resolve().parents[2]
START = datetime(2025, 2, 1, tzinfo=UTC)
END = datetime(2025, 2, 8, tzinfo=UTC)
# What the bot spends its time on, timed in the bot's process (the timers are inherited by the
# fork) and written out when the replay ends.
TIMED = {
    "candle merge": (Exchange, "_process_ohlcv_df"),
    "analysis": (IStrategy, "analyze_ticker"),
}


def rows_rebuilt_per_call(
    self: PairFeed, now_ms: int, since: int | None, limit: int
) -> list[list[float]]:
    """The feed before its rows were built once: every candle of the answer made again."""
    last = int(self.dates.searchsorted(now_ms, side="right"))
    first = max(0, last - limit) if since is None else int(self.dates.searchsorted(since))
    last = last if since is None else min(last, first + limit)
    return [
        [int(self.dates[index]), *self.ohlcv[index]]
        if index < last - 1
        else self.candle(index, now_ms)
        for index in range(first, last)
    ]


@contextmanager
def timed(totals: Counter) -> Iterator[None]:
    originals = {label: getattr(owner, name) for label, (owner, name) in TIMED.items()}

    def timer(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - started

        return run

    for label, (owner, name) in TIMED.items():
        setattr(owner, name, timer(label, originals[label]))
    try:
        yield
    finally:
        for label, (owner, name) in TIMED.items():
            setattr(owner, name, originals[label])


@contextmanager
def feed_as_it_was() -> Iterator[None]:
    current = PairFeed.ohlcv_since
    PairFeed.ohlcv_since = rows_rebuilt_per_call
    try:
        yield
    finally:
        PairFeed.ohlcv_since = current


def measure(ticks: int, old_feed: bool = False) -> dict[str, Any]:
    config = Configuration(
        {
            "config": [str(REPO / "user_data" / "config.json")],
            "user_data_dir": str(REPO / "user_data"),
            "strategy": "ExampleManagedStrategy",
        },
        RunMode.DRY_RUN,
    ).get_config()
    pairs = len(config["exchange"]["pair_whitelist"])
    candles = int((END - START).total_seconds() // 3600)
    totals: Counter = Counter()
    with tempfile.TemporaryDirectory(prefix="posmgmt-bench-replay-") as tmp:
        spent = Path(tmp) / "spent.json"
        settings = ReplaySettings(
            config,
            load_markets(REPO / "user_data" / "markets" / "binance_spot.json"),
            START,
            END,
            ticks,
            f"sqlite:///{Path(tmp) / 'trades.sqlite'}",
            at_end=lambda bot: spent.write_text(json.dumps(totals)),
        )
        with timed(totals), feed_as_it_was() if old_feed else _nothing():
            started = time.perf_counter()
            run_replay(settings)
            seconds = time.perf_counter() - started
        inside = json.loads(spent.read_text())
    return {
        "feed": "rows rebuilt per call (before)" if old_feed else "rows built once (now)",
        "ticks_per_candle": ticks,
        "pair_candles": pairs * candles,
        "seconds": seconds,
        "pair_candles_per_second": pairs * candles / seconds,
        "merge_seconds": inside["candle merge"],
        "analysis_seconds": inside["analysis"],
        "floor_pair_candles_per_second": pairs
        * candles
        / (inside["candle merge"] + inside["analysis"]),
    }


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def whole_span_pair_candles() -> int:
    """Pair-candles of the shipped data's whole span, ten pairs of 1h candles."""
    pairs = json.loads((REPO / "user_data" / "config.json").read_text())["exchange"][
        "pair_whitelist"
    ]
    datadir = REPO / "user_data" / "data" / "binance"
    return sum(
        len(pd.read_feather(datadir / f"{pair.replace('/', '_')}-1h.feather", columns=["date"]))
        for pair in pairs
    )


def main() -> int:
    results = [measure(4, old_feed=True), measure(4), measure(1)]
    for result in results:
        pc = result["pair_candles"]
        print(
            f"replay, {result['feed']}, {result['ticks_per_candle']} polls per candle: "
            f"{pc} pair-candles in {result['seconds']:.1f} s = "
            f"{result['pair_candles_per_second']:.1f} pair-candles/s; Freqtrade's candle merge "
            f"{1000 * result['merge_seconds'] / pc:.1f} ms and the strategy's analysis "
            f"{1000 * result['analysis_seconds'] / pc:.1f} ms per pair-candle "
            f"(floor {result['floor_pair_candles_per_second']:.1f} pair-candles/s)"
        )
        print(json.dumps(result))
    span = whole_span_pair_candles()
    now = results[1]
    print(
        f"whole span, ten pairs ({span} pair-candles), 4 polls per candle: "
        f"{span / now['pair_candles_per_second'] / 60:.0f} min at this rate, "
        f"{span / now['floor_pair_candles_per_second'] / 60:.0f} min for merge and analysis alone"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
