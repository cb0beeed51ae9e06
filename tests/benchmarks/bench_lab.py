"""
Exit lab speed (issue 20), side by side in one run: lab variants per second on the ten shipped
pairs over the whole span with the full modelled exit set (stop, ROI, built-in and package
trailing with ATR/breakeven/locks, exit signal, time exits, partial-exit ladders and scale-ins,
dynamic risk's drawdown and volatility sizing, max_open_trades and the wallet),
against what one Freqtrade hyperopt epoch costs for the same kind of variant: its in-process
``Backtesting.backtest()`` on the already analysed candles (signals, then the backtest loop).
CPU seconds on one core; peak memory. Goal: >= 1,000x.
"""

import json
import random
import resource
import time

from example_strategy import ExampleStrategy
from freqtrade.data.converter import trim_dataframes
from freqtrade.data.history import get_timerange

from freqtrade_posmgmt import PositionManagementMixin
from freqtrade_posmgmt.lab import data as lab_data
from freqtrade_posmgmt.lab.runner import run_metrics, run_trades
from freqtrade_posmgmt.lab.verify import variant_config
from tests.support.backtest_harness import USER_DATA, backtesting_for
from tests.support.lab_oracle import random_variant

GOAL = 1_000
# A lab run's size (thousands of variants): one cold pass, each distinct time policy's per-candle
# rules computed inside the timing, as they are in a run.
LAB_VARIANTS = 2_000
FREQTRADE_VARIANTS = 3


class BenchLab(PositionManagementMixin, ExampleStrategy):
    pass


def freqtrade_seconds_per_variant(pairs: list[str], variants: list[dict]) -> float:
    """CPU seconds of Backtesting.backtest() per variant, indicators computed once beforehand."""
    spent = 0.0
    for variant in variants:
        config = {"max_open_trades": 5, **variant_config(variant)}
        with backtesting_for(BenchLab, pairs=pairs, timerange=None, config=config) as bt:
            data, timerange = bt.load_bt_data()
            strategy = bt.strategylist[0]
            bt._set_strategy(strategy)
            analysed = strategy.advise_all_indicators(data)
            start, end = get_timerange(trim_dataframes(analysed, timerange, bt.required_startup))
            processed = {pair: frame.copy() for pair, frame in analysed.items()}
            started = time.process_time()
            bt.backtest(processed=processed, start_date=start, end_date=end)
            spent += time.process_time() - started
    return spent / len(variants)


def main() -> int:
    pairs = json.loads((USER_DATA / "config.json").read_text())["exchange"]["pair_whitelist"]
    rng = random.Random(20)
    variants = [random_variant(rng) for _ in range(LAB_VARIANTS)]
    with backtesting_for(
        BenchLab, pairs=pairs, timerange=None, config={"max_open_trades": 5}
    ) as backtesting:
        data = lab_data.load(backtesting)
    started = time.process_time()
    run_trades(data, variants[0])  # compiles, or loads the machine code cached on disk
    compile_s = time.process_time() - started
    started = time.process_time()
    run_metrics(data, variants)
    lab_s = (time.process_time() - started) / LAB_VARIANTS
    freqtrade_s = freqtrade_seconds_per_variant(pairs, variants[:FREQTRADE_VARIANTS])
    ratio = freqtrade_s / lab_s
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"lab: {1 / lab_s:,.0f} variants/s ({lab_s * 1e3:.2f} ms each; {len(data.pairs)} pairs x "
        f"{len(data.times)} candles); first call (compile or cache load) {compile_s:.1f} s CPU\n"
        f"Freqtrade backtest() per variant (one hyperopt epoch): {freqtrade_s:.2f} s CPU\n"
        f"ratio {ratio:,.0f}x (goal {GOAL:,}x); peak memory {peak:,.0f} MiB"
    )
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
