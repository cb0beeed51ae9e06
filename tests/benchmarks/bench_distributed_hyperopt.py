"""
Overhead of the shared study: epochs per minute of Freqtrade's hyperopt on one host with ``-j 2``
(its in-memory study) against two ``-j 1`` processes sharing one study in a private PostgreSQL
(SQLite when PostgreSQL cannot be started here). Same epochs, same two CPUs: the difference is
the storage (a database round trip per ask, tell, heartbeat and duplicate check) against joblib's
pickling. Target: the shared study's epoch rate is at least 90% of the single host's.

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

from tests.backtest_harness import copy_user_data
from tests.benchmarks.bench import Target
from tests.postgres_server import PostgresUnavailable, create_database, private_postgres

CLI = Path(sys.executable).parent / "freqtrade-posmgmt"
EPOCHS = 24
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT"]
TIMERANGE = "20250101-20250501"
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


def run(userdirs: list[Path], jobs: int, study: list[str]) -> tuple[float, float, float]:
    """One variant: the processes at once. (loop epochs/min, start-up s, whole wall s)."""
    for userdir in userdirs:
        for old in [*userdir.glob("hyperopt_results/*.fthypt"), *userdir.glob("strategies/*.json")]:
            old.unlink()
    start = time.time()
    procs = [hyperopt(u, EPOCHS // len(userdirs), jobs, study) for u in userdirs]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"hyperopt failed: {err[-2000:]}")
    wall = time.time() - start
    files = [f for u in userdirs for f in u.glob("hyperopt_results/*.fthypt")]
    lines = [line for f in files for line in f.read_text().splitlines()]
    metrics = [json.loads(line)["results_metrics"] for line in lines]
    if len(metrics) != EPOCHS:
        raise RuntimeError(f"{len(metrics)} epochs evaluated, {EPOCHS} asked for")
    first = min(m["backtest_run_start_ts"] for m in metrics)
    last = max(m["backtest_run_end_ts"] for m in metrics)
    return EPOCHS / max(last - first, 1) * 60, first - start, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
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
    rates: dict[str, list[float]] = {"one_host_j2": [], "two_workers_shared": []}
    startups: dict[str, list[float]] = {name: [] for name in rates}
    walls: dict[str, list[float]] = {name: [] for name in rates}
    for round_no in range(rounds):
        storage = new_storage(f"bench_{round_no}")
        for name, (userdirs, jobs, study) in {
            "one_host_j2": ([a], 2, []),
            "two_workers_shared": ([a, b], 1, ["--storage", storage, "--study-name", "bench"]),
        }.items():
            rate, startup, wall = run(userdirs, jobs, study)
            rates[name].append(rate)
            startups[name].append(startup)
            walls[name].append(wall)
            print(f"  round {round_no + 1}: {name:<20} {rate:6.1f} epochs/min", flush=True)
    medians = {name: statistics.median(r) for name, r in rates.items()}
    print(f"\n{EPOCHS} epochs, {len(PAIRS)} pairs, {TIMERANGE}, {rounds} rounds")
    print(f"{'variant':<20} {'epochs/min':>10} {'start-up s':>10} {'wall s':>7}")
    for name in rates:
        print(
            f"{name:<20} {medians[name]:10.1f} {statistics.median(startups[name]):10.1f} "
            f"{statistics.median(walls[name]):7.1f}"
        )
    target = Target("two_workers_shared", "one_host_j2", at_least=0.90)
    ratio = medians[target.numerator] / medians[target.denominator]
    met = target.met(ratio)
    print(
        f"\nratio (epochs/min)  {target.describe():<44} {ratio:6.2f}  {'ok' if met else 'MISSED'}"
    )
    return met


if __name__ == "__main__":
    main()
