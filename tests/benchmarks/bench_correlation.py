"""
Cost of correlation gating.

1. Whole backtests (ten pairs, whole span, 1h) against the same strategy with a no-op
   ``custom_stake_amount`` and ``confirm_trade_entry``, the callbacks the gate runs on:
   - ``correlation_evaluated``: every entry is checked (candles read, groups built) but a cap of
     1.0 never binds with the shipped config, so the trades are the baseline's. Target <= 1.10.
   - ``correlation_default``: the default policy (cap 0.15); its trades differ, for scale.
2. One decision on synthetic correlated candles (blocks of five pairs on a common factor), from
   10 to 100 pairs, every pair but the candidate held: the cost must grow no faster than the
   pairs held x the window (ratio of costs <= ratio of held x window).
"""

import statistics
import sys
import time

import numpy as np
from example_strategy import ExampleStrategy

from freqtrade_posmgmt.correlation_engine import CorrelationConfig, CorrelationEngine
from freqtrade_posmgmt.mixins.correlation import CorrelationMixin
from tests.benchmarks.bench import Target, Variant, compare
from tests.benchmarks.strategies import NoopCallbacks


class NoopStakeAndConfirm(ExampleStrategy):
    custom_stake_amount = NoopCallbacks.custom_stake_amount
    confirm_trade_entry = NoopCallbacks.confirm_trade_entry


class CorrelationEvaluated(CorrelationMixin, ExampleStrategy):
    correlation_policy = CorrelationConfig(max_correlated_exposure=1.0)


class CorrelationDefault(CorrelationMixin, ExampleStrategy):
    correlation_policy = CorrelationConfig()


MODULE = "tests.benchmarks.bench_correlation"
VARIANTS = [
    Variant("noop_stake_confirm", f"{MODULE}:NoopStakeAndConfirm"),
    Variant("correlation_evaluated", f"{MODULE}:CorrelationEvaluated"),
    Variant("correlation_default", f"{MODULE}:CorrelationDefault"),
]
TARGETS = [
    Target("correlation_evaluated", "noop_stake_confirm", at_most=1.10),
    Target("correlation_default", "noop_stake_confirm"),
]

HOUR_NS = 3600 * 1_000_000_000
CANDLES = 2000


def synthetic(pairs: int, seed: int = 7) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    dates = np.arange(CANDLES, dtype=np.int64) * HOUR_NS
    market = rng.normal(0, 0.004, CANDLES)
    blocks = rng.normal(0, 0.01, (pairs // 5 + 1, CANDLES))
    return {
        f"P{i:03d}/USDT": (
            dates,
            100 * np.cumprod(1 + market + blocks[i // 5] + rng.normal(0, 0.004, CANDLES)),
        )
        for i in range(pairs)
    }


def decision_cost(pairs: int, basis: str, repeats: int = 200) -> float:
    """Median seconds of one decision: returns of the window, then the candidate's group."""
    candles = synthetic(pairs)
    symbols = list(candles)
    engine = CorrelationEngine(CorrelationConfig(basis=basis))
    window = engine.config.window_candles(3600)
    positions = {s: 100.0 for s in symbols[1:]}
    end = (CANDLES - 1) * HOUR_NS
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        returns = engine.window_returns(
            candles, [symbols[0], *positions], symbols, end, HOUR_NS, window
        )
        engine.entry_limit(symbols[0], 100.0, positions, returns, scale=10_000)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scaling() -> bool:
    ok = True
    print(f"\n{'one decision':<14} {'pairs':>5} {'held':>5} {'ms':>8} {'cost ratio':>11} "
          f"{'held x window ratio':>20}")  # fmt: skip
    for basis in ("returns", "residual"):
        base = None
        for pairs in (10, 25, 50, 100):
            cost = decision_cost(pairs, basis)
            held = pairs - 1
            base = base or (cost, held)
            ratio, bound = cost / base[0], held / base[1]
            met = ratio <= bound
            ok &= met
            print(
                f"  {basis:<12} {pairs:5d} {held:5d} {cost * 1000:8.3f} {ratio:11.2f} "
                f"{bound:20.2f}  {'ok' if met else 'MISSED'}"
            )
    return ok


if __name__ == "__main__":
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    backtests = compare(VARIANTS, TARGETS, rounds)
    sys.exit(0 if scaling() and backtests else 1)
