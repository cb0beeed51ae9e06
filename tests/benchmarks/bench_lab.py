"""
Exit lab speed (issue 20): lab variants per second on the ten shipped pairs over the whole span
with the full modelled exit set, beside Freqtrade's in-process backtest of one variant (what one
hyperopt epoch costs), in the same run; peak memory. Goal: >= 1,000x on one core.
"""

import random
import resource
import time

from example_strategy import ExampleStrategy

from freqtrade_posmgmt import PositionManagementMixin
from freqtrade_posmgmt.lab.runner import run_metrics, run_trades
from tests.lab_oracle import freqtrade_trades, load_lab_data, random_variant

GOAL = 1_000
VARIANTS = 200


class BenchLab(PositionManagementMixin, ExampleStrategy):
    pass


def main() -> int:
    run = {"pairs": None, "timerange": None, "config": {"max_open_trades": 5}}
    data = load_lab_data(BenchLab, **{**run, "pairs": _pairs()})
    rng = random.Random(20)
    variants = [random_variant(rng) for _ in range(VARIANTS)]
    started = time.process_time()
    run_trades(data, variants[0])  # compile (or load the cached machine code)
    compile_s = time.process_time() - started
    started = time.process_time()
    run_metrics(data, variants)
    lab_s = (time.process_time() - started) / VARIANTS
    started = time.process_time()
    freqtrade_trades(BenchLab, variants[1], pairs=_pairs(), config=run["config"])
    freqtrade_s = time.process_time() - started
    ratio = freqtrade_s / lab_s
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"lab: {1 / lab_s:,.0f} variants/s ({data.opens.shape[0]} pairs x "
        f"{data.opens.shape[1]} candles), compile/load {compile_s:.1f} s CPU; Freqtrade "
        f"in-process backtest: {freqtrade_s:.2f} s CPU per variant; ratio {ratio:,.0f}x "
        f"(goal {GOAL:,}x); peak memory {peak:,.0f} MiB"
    )
    return 0 if ratio >= GOAL else 1


def _pairs() -> list[str]:
    import json

    from tests.backtest_harness import USER_DATA

    return json.loads((USER_DATA / "config.json").read_text())["exchange"]["pair_whitelist"]


if __name__ == "__main__":
    raise SystemExit(main())
