"""
MFE/MAE analysis speed and memory, each measurement in its own process (peak RSS is its own):

- the demo's analysis: ``freqtrade-posmgmt analyze`` (tables, --json, --html) of the example
  strategy's whole-span backtest, timed from the call, Freqtrade already imported (as after the
  demo's backtest); target <= 3 s;
- 100,000 synthetic trades over the shipped 1h candles (one in ten with an add and a partial
  exit): excursions, per-group metrics, optimal exits, recommendations, edge ratio and the
  trailing replay; target <= 10 s and <= 1 GB peak.
"""

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks import bench

REPO = Path(__file__).resolve().parents[2]
ROUNDS = 3
SYNTHETIC_TRADES = 100_000


def child_demo(userdir: str) -> None:
    import contextlib
    import io

    from freqtrade_posmgmt.cli.analyze import main

    out = Path(userdir)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(
            ["--userdir", userdir, "--json", str(out / "mfe.json"), "--html", str(out / "mfe.html")]
        )
    assert status == 0
    print(json.dumps({"seconds": time.perf_counter() - start}))


def synthetic_fills(candles: dict, count: int, seed: int = 7):
    """Random trades on candle opens, 1..72 candles long; one in ten adds and exits half."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    pairs = sorted(candles)
    pair = rng.integers(0, len(pairs), count)
    frames = []
    for code, name in enumerate(pairs):
        mine = np.flatnonzero(pair == code)
        dates, opens = candles[name]["date"], candles[name]["open"].to_numpy()
        duration = rng.integers(1, 73, len(mine))
        start = rng.integers(0, len(opens) - 73, len(mine))
        ladder = rng.random(len(mine)) < 0.1
        # Entry, (add, partial exit,) exit: candle offsets and amounts per fill.
        offsets = [np.zeros(len(mine), int), duration // 3, 2 * duration // 3, duration]
        amounts = [np.ones(len(mine)), np.full(len(mine), 0.5), np.full(len(mine), 0.75)]
        amounts.append(np.where(ladder, 0.75, 1.0))
        for step, (offset, amount) in enumerate(zip(offsets, amounts, strict=True)):
            keep = ladder if step in (1, 2) else np.ones(len(mine), bool)
            index = start[keep] + offset[keep]
            frames.append(
                pd.DataFrame(
                    {
                        "trade_id": mine[keep],
                        "pair": name,
                        "is_short": (mine[keep] % 2).astype(bool),
                        "date": dates.iloc[index].to_numpy(),
                        "is_entry": step in (0, 1),
                        "amount": amount[keep],
                        "price": opens[index],
                    }
                )
            )
    fills = pd.concat(frames, ignore_index=True)
    fills["date"] = pd.to_datetime(fills["date"], utc=True)
    return fills


def child_synthetic() -> None:
    import numpy as np
    import pandas as pd

    from freqtrade_posmgmt.excursions import (
        PairCandles,
        edge_ratio,
        trade_excursions,
        trailing_stop_expectancy,
    )
    from freqtrade_posmgmt.mfe_mae_analyzer import MFEMAEAnalyzer
    from freqtrade_posmgmt.report.analysis import EDGE_BARS, TRAILING_DISTANCES, analyzer_input

    frames = {
        path.name.split("-")[0].replace("_", "/"): pd.read_feather(path)
        for path in sorted((REPO / "user_data" / "data" / "binance").glob("*-1h.feather"))
    }
    fills = synthetic_fills(frames, SYNTHETIC_TRADES)
    start = time.perf_counter()
    candles = {pair: PairCandles(frame) for pair, frame in frames.items()}
    trades = trade_excursions(candles, fills)
    trades["strategy"] = np.where(trades["fills"] > 2, "ladder", "single")
    analyzer = MFEMAEAnalyzer(analyzer_input(trades))
    analyzer.summary("strategy")
    analyzer.summary("pair")
    analyzer.identify_optimal_exit_points()
    analyzer.recommendations()
    edge_ratio(candles, trades, EDGE_BARS)
    trailing_stop_expectancy(candles, analyzer.trades, TRAILING_DISTANCES)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "trades": len(trades)}))


def run_child(*args: str) -> tuple[dict, float]:
    return bench.run_child("tests.benchmarks.bench_mfe_mae", *args)


def child_prepare(directory: str) -> None:
    """The demo's backtest (example strategy, whole span), exported into a copy of user_data."""
    import logging

    from example_strategy import ExampleStrategy

    from tests.support.backtest_harness import copy_user_data, export, run_backtest

    logging.disable(logging.CRITICAL)
    userdir = copy_user_data(Path(directory))
    export(run_backtest(ExampleStrategy), userdir / "backtest_results")
    print(json.dumps({"userdir": str(userdir)}))


def report(name: str, seconds: list[float], peaks: list[float], limit_s: float, limit_mib=None):
    median = statistics.median(seconds)
    ok = median <= limit_s and (limit_mib is None or max(peaks) <= limit_mib)
    bound = f"<= {limit_s} s" + (f", <= {limit_mib} MiB" if limit_mib else "")
    print(
        f"{name:<44} median {median:6.2f} s  (runs {', '.join(f'{s:.2f}' for s in seconds)})"
        f"  peak {max(peaks):6.0f} MiB   target {bound}: {'ok' if ok else 'MISSED'}"
    )
    return ok


def main() -> None:
    children = {"--prepare": child_prepare, "--demo": child_demo, "--synthetic": child_synthetic}
    if sys.argv[1:2] and sys.argv[1] in children:
        children[sys.argv[1]](*sys.argv[2:])
        return
    # Everything heavy runs in children: a child's peak RSS starts from its parent's size.
    with tempfile.TemporaryDirectory(prefix="posmgmt-bench-") as tmp:
        userdir = run_child("--prepare", tmp)[0]["userdir"]
        demo = [run_child("--demo", userdir) for _ in range(ROUNDS)]
    synthetic = [run_child("--synthetic") for _ in range(ROUNDS)]
    ok = report(
        "demo analysis (tables + --json + --html)",
        [result["seconds"] for result, _ in demo],
        [peak for _, peak in demo],
        3.0,
    )
    ok &= report(
        f"{synthetic[0][0]['trades']:,} synthetic trades (full analysis)",
        [result["seconds"] for result, _ in synthetic],
        [peak for _, peak in synthetic],
        10.0,
        1024,
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
