"""
Overhead of the shared study: epochs per minute of Freqtrade's hyperopt on one host with ``-j 2``
(its in-memory study) against two ``-j 1`` processes sharing one study in a private PostgreSQL
(SQLite when PostgreSQL cannot be started here). Same epochs, same two CPUs: the difference is
the storage (database round trips per ask, tell, heartbeat and duplicate check) against joblib's
dispatch. Target: the shared study's epoch rate is at least 90% of the single host's.
Also one ``-j 1`` process with and without the shared study: the storage's own cost, same target.

The rate is over the hyperopt loop (first epoch's backtest start to last epoch's end, from the
``.fthypt`` results, whole seconds); the start-up (data load, indicators) is printed apart.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.bench import Target
from tests.support.backtest_harness import copy_user_data
from tests.support.postgres_server import PostgresUnavailable, create_database, private_postgres

CLI = Path(sys.executable).parent / "freqtrade-posmgmt"
EPOCHS = 16
# Ten pairs over half a year: an epoch of a few seconds, still far shorter than most users'.
PAIRS = ["BTC/USDT", "ETH/USDT", "BNB/USDT", "SOL/USDT", "XRP/USDT"]
PAIRS += ["ADA/USDT", "DOGE/USDT", "LINK/USDT", "LTC/USDT", "AVAX/USDT"]
TIMERANGE = "20250101-20250701"
STRATEGY_FILE = """\
from example_strategy import ExampleStrategy

from freqtrade_posmgmt import TrailingStopMixin


class TrailingHyperoptStrategy(TrailingStopMixin, ExampleStrategy):
    pass
"""


def worker(root: Path, name: str) -> Path:
    userdir = copy_user_data(root / name)
    (userdir / "strategies" / "trailing_hyperopt_strategy.py").write_text(STRATEGY_FILE)
    return userdir


def hyperopt(userdir: Path, epochs: int, jobs: int, study: list[str]) -> subprocess.Popen:
    args = [
        "offline", "--markets", str(userdir / "markets" / "binance_spot.json"), "hyperopt",
        *study, "-c", str(userdir / "config.json"), "--userdir", str(userdir),
        "--strategy", "TrailingHyperoptStrategy", "--hyperopt-loss", "SharpeHyperOptLossDaily",
        "--spaces", "pm_trailing", "-e", str(epochs), "-j", str(jobs),
        "--timerange", TIMERANGE, "-p", *PAIRS,
    ]  # fmt: skip
    return subprocess.Popen(
        [str(CLI), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def run(userdirs: list[Path], epochs: int, jobs: int, study: list[str]) -> tuple[float, ...]:
    """One variant: the processes at once. (loop epochs/min, start-up s, whole wall s)."""
    for userdir in userdirs:
        for old in [*userdir.glob("hyperopt_results/*.fthypt"), *userdir.glob("strategies/*.json")]:
            old.unlink()
    start = time.time()
    procs = [hyperopt(u, epochs // len(userdirs), jobs, study) for u in userdirs]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"hyperopt failed: {err[-2000:]}")
    wall = time.time() - start
    files = [f for u in userdirs for f in u.glob("hyperopt_results/*.fthypt")]
    lines = [line for f in files for line in f.read_text().splitlines()]
    metrics = [json.loads(line)["results_metrics"] for line in lines]
    if len(metrics) != epochs:
        raise RuntimeError(f"{len(metrics)} epochs evaluated, {epochs} asked for")
    first = min(m["backtest_run_start_ts"] for m in metrics)
    last = max(m["backtest_run_end_ts"] for m in metrics)
    return epochs / max(last - first, 1) * 60, first - start, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="posmgmt-bench-") as tmp:
        root = Path(tmp)
        a, b = worker(root, "a"), worker(root, "b")
        try:
            with private_postgres() as server:
                print(f"shared study in a private PostgreSQL ({server})")
                sys.exit(0 if compare(a, b, rounds, lambda n: create_database(server, n)) else 1)
        except PostgresUnavailable as e:
            print(f"PostgreSQL cannot be started here ({e}): shared study in SQLite")
            sys.exit(0 if compare(a, b, rounds, lambda n: f"sqlite:///{root / n}.db") else 1)


def compare(a: Path, b: Path, rounds: int, new_storage) -> bool:
    def shared(storage: str) -> list[str]:
        return ["--storage", storage, "--study-name", "bench"]

    rates: dict[str, list[float]] = {}
    startups: dict[str, list[float]] = {}
    walls: dict[str, list[float]] = {}
    for round_no in range(rounds):
        variants = {  # name: (user_data folders, epochs in all, -j, study options)
            "one_host_j2": ([a], EPOCHS, 2, []),
            "two_workers_shared": ([a, b], EPOCHS, 1, shared(new_storage(f"two_{round_no}"))),
            "one_process_j1": ([a], EPOCHS // 2, 1, []),
            "one_process_j1_shared": ([a], EPOCHS // 2, 1, shared(new_storage(f"one_{round_no}"))),
        }
        for name, (userdirs, epochs, jobs, study) in variants.items():
            rate, startup, wall = run(userdirs, epochs, jobs, study)
            rates.setdefault(name, []).append(rate)
            startups.setdefault(name, []).append(startup)
            walls.setdefault(name, []).append(wall)
            print(f"  round {round_no + 1}: {name:<22} {rate:6.1f} epochs/min", flush=True)
    medians = {name: statistics.median(r) for name, r in rates.items()}
    print(f"\n{len(PAIRS)} pairs, {TIMERANGE}, {rounds} rounds")
    print(f"{'variant':<22} {'epochs/min':>10} {'start-up s':>10} {'wall s':>7}")
    for name in rates:
        print(
            f"{name:<22} {medians[name]:10.1f} {statistics.median(startups[name]):10.1f} "
            f"{statistics.median(walls[name]):7.1f}"
        )
    targets = [
        # Same two CPUs: the shared study against Freqtrade's own parallelism.
        Target("two_workers_shared", "one_host_j2", at_least=0.90),
        # One CPU, with and without the database: the storage's own cost.
        Target("one_process_j1_shared", "one_process_j1", at_least=0.90),
    ]
    cost = 60 / medians["one_process_j1_shared"] - 60 / medians["one_process_j1"]
    print(f"the shared study's cost per epoch on one CPU: {cost * 1000:.0f} ms")
    print(f"\n{'ratios (epochs/min)':<58} {'ratio':>6}")
    all_met = True
    for target in targets:
        ratio = medians[target.numerator] / medians[target.denominator]
        met = target.met(ratio)
        all_met &= met
        print(f"  {target.describe():<56} {ratio:6.2f}  {'ok' if met else 'MISSED'}")
    return all_met


if __name__ == "__main__":
    main()
