"""
Side-by-side benchmark of whole offline backtests.

Variants run in turn (A B C A B C ...) for several rounds, each backtest in its own process so its
peak memory is its own. Printed: each variant's median wall and CPU time of the backtest (start-up
excluded) and peak RSS, the ratios the caller asks for, and whether each meets its target.
These machines are noisy: only ratios measured in one run are compared, never absolute times.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Variant:
    name: str
    strategy: str
    """``module:Class``, importable with the repo root and user_data/strategies on sys.path."""
    config: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)
    """Extra keyword arguments of ``run_backtest`` (timerange, timeframe_detail, ...)."""


@dataclass(frozen=True)
class Target:
    numerator: str
    denominator: str
    at_most: float | None = None
    at_least: float | None = None
    measure: str = "wall"
    """``wall`` (median wall time) or ``peak`` (largest peak RSS)."""

    def met(self, ratio: float) -> bool:
        return (self.at_most is None or ratio <= self.at_most) and (
            self.at_least is None or ratio >= self.at_least
        )

    def describe(self) -> str:
        bound = ""
        if self.at_most is not None:
            bound = f" <= {self.at_most}"
        elif self.at_least is not None:
            bound = f" >= {self.at_least}"
        what = " (peak memory)" if self.measure == "peak" else ""
        return f"{self.numerator} / {self.denominator}{what}{bound}"


def run_child(module: str, *args: str) -> tuple[Any, float]:
    """
    Run ``python -m module args...`` in a child process: the JSON of its last output line and its
    peak RSS in MiB (a child's peak starts from its parent's size: keep the parent small).
    """
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'user_data' / 'strategies'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    output = proc.stdout.read() if proc.stdout else ""
    if status != 0:
        raise RuntimeError(f"benchmark child {module} {args} failed (status {status})")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def run_once(variant: Variant) -> tuple[float, float, float, int]:
    """One backtest in a child process: (wall s, CPU s, peak RSS MiB, trade count)."""
    (wall, cpu, trades), peak = run_child(
        "tests.benchmarks.bench", "--child", json.dumps(variant.__dict__)
    )
    return wall, cpu, peak, trades


def child(spec: str) -> None:
    import importlib
    import logging

    logging.disable(logging.CRITICAL)
    from tests.support.backtest_harness import run_backtest

    variant = json.loads(spec)
    module, _, name = variant["strategy"].partition(":")
    strategy = getattr(importlib.import_module(module), name)
    start, start_cpu = time.perf_counter(), time.process_time()
    result = run_backtest(strategy, config=variant["config"], **variant["run"])
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    print(json.dumps([wall, cpu, len(result.trades)]))


def compare(variants: list[Variant], targets: list[Target], rounds: int = 3) -> bool:
    """
    Run the variants in turn for ``rounds`` rounds and print medians, ratios and targets.
    :return: True if every target is met
    """
    walls: dict[str, list[float]] = {v.name: [] for v in variants}
    cpus: dict[str, list[float]] = {v.name: [] for v in variants}
    peaks: dict[str, list[float]] = {v.name: [] for v in variants}
    trades: dict[str, int] = {}
    for round_no in range(rounds):
        for variant in variants:
            wall, cpu, peak, count = run_once(variant)
            walls[variant.name].append(wall)
            cpus[variant.name].append(cpu)
            peaks[variant.name].append(peak)
            trades[variant.name] = count
            print(f"  round {round_no + 1}: {variant.name:<32} {wall:7.2f} s", flush=True)
    medians = {name: statistics.median(w) for name, w in walls.items()}
    cpu_medians = {name: statistics.median(c) for name, c in cpus.items()}
    print(f"\n{'variant':<32} {'median s':>9} {'CPU s':>7} {'peak MiB':>9} {'trades':>7}")
    for name in walls:
        print(
            f"{name:<32} {medians[name]:9.2f} {cpu_medians[name]:7.2f} "
            f"{max(peaks[name]):9.0f} {trades[name]:7d}"
        )
    all_met = True
    if targets:
        # Targets are on wall time; CPU time is steadier when other work shares the cores.
        print(f"\n{'ratios':<66} {'wall':>6} {'CPU':>6}")
    for target in targets:
        if target.measure == "peak":
            ratio = max(peaks[target.numerator]) / max(peaks[target.denominator])
            cpu_ratio = ratio
        else:
            ratio = medians[target.numerator] / medians[target.denominator]
            cpu_ratio = cpu_medians[target.numerator] / cpu_medians[target.denominator]
        met = target.met(ratio)
        all_met &= met
        verdict = "" if target.at_most is None and target.at_least is None else "ok"
        print(
            f"  {target.describe():<64} {ratio:6.2f} {cpu_ratio:6.2f}  "
            f"{verdict if met else 'MISSED'}"
        )
    return all_met


def main(variants: list[Variant], targets: list[Target]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.exit(0 if compare(variants, targets, args.rounds) else 1)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
