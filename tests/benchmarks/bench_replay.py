"""
Live replay speed: pair-candles per second of Freqtrade's real bot loop over the shipped candles
(the example managed strategy, ten pairs, one week), with 4 polls per candle (each of open, the
two extremes and close) and with 1 (the open only, as a backtest decides). The bot runs in the
replay's own child processes; the time is the replay's, from the first loop's process start-up
to the last loop, so it includes one bot start-up. No target: the number is reported, and the
ratio of the two tick counts shows what a poll costs against a new candle.
"""

import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from freqtrade.configuration import Configuration
from freqtrade.enums import RunMode

from freqtrade_posmgmt.cli.offline import load_markets
from freqtrade_posmgmt.replay.engine import ReplaySettings, run_replay

REPO = Path(__file__).resolve().parents[2]
START = datetime(2025, 2, 1, tzinfo=UTC)
END = datetime(2025, 2, 8, tzinfo=UTC)


def measure(ticks: int) -> dict[str, float]:
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
    with tempfile.TemporaryDirectory(prefix="posmgmt-bench-replay-") as tmp:
        settings = ReplaySettings(
            config,
            load_markets(REPO / "user_data" / "markets" / "binance_spot.json"),
            START,
            END,
            ticks,
            f"sqlite:///{Path(tmp) / 'trades.sqlite'}",
        )
        started = time.perf_counter()
        run_replay(settings)
        seconds = time.perf_counter() - started
    return {
        "ticks_per_candle": ticks,
        "pair_candles": pairs * candles,
        "seconds": seconds,
        "pair_candles_per_second": pairs * candles / seconds,
    }


def main() -> int:
    for ticks in (4, 1):
        result = measure(ticks)
        print(
            f"replay, {result['ticks_per_candle']} polls per candle: "
            f"{result['pair_candles']} pair-candles in {result['seconds']:.1f} s = "
            f"{result['pair_candles_per_second']:.1f} pair-candles/s"
        )
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
