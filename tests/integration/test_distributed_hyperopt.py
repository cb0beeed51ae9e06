"""
Freqtrade's hyperopt on one Optuna study shared by several workers (``--storage``/``--study-name``):
real hyperopt processes on the shipped data against a private PostgreSQL server.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import optuna
import pytest
from example_strategy import ExampleStrategy
from filelock import FileLock
from freqtrade.optimize.hyperopt_loss.hyperopt_loss_sharpe_daily import SharpeHyperOptLossDaily
from optuna.trial import TrialState

from freqtrade_posmgmt import TrailingStopMixin
from freqtrade_posmgmt.cli.distributed_hyperopt import rounded
from tests.support.backtest_harness import copy_user_data, run_backtest
from tests.support.postgres_server import PostgresUnavailable, create_database, private_postgres

# Whole-module: every test starts the command line in a fresh process that imports Freqtrade
# (seconds each), so make test-fast leaves them out.
pytestmark = pytest.mark.slow

CLI = Path(sys.executable).parent / "freqtrade-posmgmt"
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
TIMERANGE = "20250101-20250301"
STRATEGY_FILE = """\
from example_strategy import ExampleStrategy

from freqtrade_posmgmt import TrailingStopMixin


class TrailingHyperoptStrategy(TrailingStopMixin, ExampleStrategy):
    pass
"""
# Four parameter sets in all: more epochs than that are asked for, so duplicates must be skipped.
TINY_SPACE_FILE = """\
from example_strategy import ExampleStrategy
from freqtrade.strategy import DecimalParameter

from freqtrade_posmgmt import TrailingStopMixin


class TrailingHyperoptStrategy(TrailingStopMixin, ExampleStrategy):
    pm_trailing_activation = DecimalParameter(
        0.01, 0.02, default=0.01, decimals=2, space="pm_trailing"
    )
    pm_trailing_distance = DecimalParameter(
        0.005, 0.006, default=0.005, decimals=3, space="pm_trailing"
    )
    pm_trailing_atr_multiplier = DecimalParameter(
        0.0, 5.0, default=0.0, decimals=1, space="pm_trailing", optimize=False
    )
    pm_trailing_breakeven = DecimalParameter(
        0.0, 0.1, default=0.0, decimals=2, space="pm_trailing", optimize=False
    )
"""


class TrailingHyperoptStrategy(TrailingStopMixin, ExampleStrategy):
    """The workers' strategy (STRATEGY_FILE), for re-running a trial's backtest in-process."""


@pytest.fixture(scope="module")
def postgres():
    try:
        with private_postgres() as url:
            yield url
    except PostgresUnavailable as e:
        if os.environ.get("POSMGMT_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL could not be started: {e}")
        pytest.skip(f"PostgreSQL cannot be started here, shared-study tests skipped: {e}")


def make_worker(tmp_path: Path, name: str, strategy: str = STRATEGY_FILE) -> Path:
    """A host's own user_data folder (Freqtrade allows one hyperopt per user_data folder)."""
    userdir = copy_user_data(tmp_path / name)
    (userdir / "strategies" / "trailing_hyperopt_strategy.py").write_text(strategy)
    return userdir


def hyperopt_args(userdir: Path, storage: str, epochs: int, jobs: int = 1) -> list[str]:
    return [
        "offline", "--markets", str(userdir / "markets" / "binance_spot.json"), "hyperopt",
        "--storage", storage, "--study-name", "pm-study",
        "-c", str(userdir / "config.json"), "--userdir", str(userdir),
        "--strategy", "TrailingHyperoptStrategy", "--hyperopt-loss", "SharpeHyperOptLossDaily",
        "--spaces", "pm_trailing", "-e", str(epochs), "-j", str(jobs),
        "--timerange", TIMERANGE, "-p", *PAIRS,
    ]  # fmt: skip


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(CLI), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # Its own process group: killed with its helper processes.
    )  # fmt: skip


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return out


def epochs_of(userdir: Path) -> list[dict]:
    files = list((userdir / "hyperopt_results").glob("*.fthypt"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def key(params: dict) -> str:
    return json.dumps({k: round(v, 9) for k, v in params.items()}, sort_keys=True)


def reported_params(userdir: Path) -> dict:
    export = json.loads((userdir / "strategies" / "trailing_hyperopt_strategy.json").read_text())
    return export["params"]["pm_trailing"]


def backtest_loss(params: dict, monkeypatch) -> tuple[float, dict]:
    """Freqtrade's loss of a real backtest of the strategy with these parameters."""
    monkeypatch.setattr(TrailingHyperoptStrategy, "pm_trailing_params", params, raising=False)
    bt = run_backtest(TrailingHyperoptStrategy, pairs=PAIRS, timerange=TIMERANGE)
    loss = SharpeHyperOptLossDaily.hyperopt_loss_function(
        results=bt.results,
        trade_count=len(bt.results),
        min_date=datetime.fromtimestamp(bt.stats["backtest_start_ts"] / 1000, UTC),
        max_date=datetime.fromtimestamp(bt.stats["backtest_end_ts"] / 1000, UTC),
        config=bt.config,
        processed={},
        backtest_stats=bt.stats,
        starting_balance=bt.config["dry_run_wallet"],
    )
    return loss, bt.stats


def test_two_workers_share_one_study(postgres, tmp_path, monkeypatch):
    storage = create_database(postgres, "two_workers")
    hosts = {"a": (make_worker(tmp_path, "a"), 8, 2), "b": (make_worker(tmp_path, "b"), 5, 1)}
    procs = {
        name: start(hyperopt_args(userdir, storage, epochs, jobs), tmp_path)
        for name, (userdir, epochs, jobs) in hosts.items()
    }
    outputs = {name: finish(proc) for name, proc in procs.items()}

    (summary,) = optuna.get_all_study_summaries(storage)
    assert summary.study_name == "pm-study"
    study = optuna.load_study(study_name="pm-study", storage=storage)
    trials = study.get_trials()
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    assert len(trials) == 8 + 5
    by_params = {key(t.params): t for t in trials}
    assert len(by_params) == len(trials)  # No parameter set evaluated twice.
    for trial in trials:  # Stored as the Parameters' decimals give them, without float noise.
        for name, value in trial.params.items():
            assert repr(value) == repr(rounded(trial.distributions[name], value))

    # Every trial was evaluated by exactly one host, and its stored loss is that host's epoch.
    host_of: dict[str, str] = {}
    for name, (userdir, epochs, _) in hosts.items():
        host_epochs = epochs_of(userdir)
        assert len(host_epochs) == epochs
        for epoch in host_epochs:
            assert key(epoch["params_dict"]) not in host_of
            host_of[key(epoch["params_dict"])] = name
            assert by_params[key(epoch["params_dict"])].value == epoch["loss"]
    assert set(host_of) == set(by_params)

    # Each trial's stored loss is Freqtrade's loss of a real backtest of its parameters.
    ranked = sorted(trials, key=lambda t: t.value)
    for trial in (ranked[0], ranked[len(ranked) // 2], ranked[-1]):
        loss, stats = backtest_loss(trial.params, monkeypatch)
        assert loss == pytest.approx(trial.value, rel=1e-9)
        stored = json.loads(trial.user_attrs["freqtrade_epoch"])["results_metrics"]
        assert stored["total_trades"] == stats["total_trades"]
        assert stored["profit_total_abs"] == pytest.approx(stats["profit_total_abs"])
    assert len({t.value for t in trials}) > 1  # The space matters: the check has teeth.

    # Each host reports the study's best as of its last epoch; the last to finish, the best.
    last_done = {
        name: max(t.datetime_complete for t in trials if host_of[key(t.params)] == name)
        for name in hosts
    }
    for name, (userdir, _, _) in hosts.items():
        reported = by_params[key(reported_params(userdir))]
        seen = [t.value for t in trials if t.datetime_complete <= last_done[name]]
        assert reported.value <= min(seen)
        assert f"Objective: {reported.value:.5f}" in outputs[name].split("Best result")[1]
        if host_of[key(reported.params)] != name:  # another host's trial: named as such
            worker = reported.user_attrs["freqtrade_worker"]
            assert f"study trial {reported.number}, evaluated by {worker}" in outputs[name]
    last = max(hosts, key=lambda name: last_done[name])
    assert key(reported_params(hosts[last][0])) == key(study.best_trial.params)


def test_workers_never_evaluate_a_parameter_set_twice(postgres, tmp_path):
    storage = create_database(postgres, "tiny_space")
    procs = [
        start(hyperopt_args(make_worker(tmp_path, name, TINY_SPACE_FILE), storage, 4), tmp_path)
        for name in ("a", "b")
    ]
    for proc in procs:
        finish(proc)
    trials = optuna.load_study(study_name="pm-study", storage=storage).get_trials()
    complete = [key(t.params) for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == len(set(complete)) <= 4
    skipped = [t for t in trials if t.state != TrialState.COMPLETE]
    assert skipped  # 8 epochs asked for, at most 4 evaluated.
    assert {t.state for t in skipped} == {TrialState.FAIL}
    assert {t.user_attrs["freqtrade_skipped"] for t in skipped} == {"duplicate parameters"}


def running_trials_of(storage: str, worker: str) -> list:
    try:
        study = optuna.load_study(study_name="pm-study", storage=storage)
    except KeyError:  # Not created yet.
        return []
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return [t for t in running if t.user_attrs.get("freqtrade_worker") == worker]


def test_a_killed_worker_leaves_the_study_usable(postgres, tmp_path):
    storage = create_database(postgres, "killed_worker")
    dying, survivor = make_worker(tmp_path, "dying"), make_worker(tmp_path, "survivor")
    victim = start(hyperopt_args(dying, storage, 200), tmp_path)
    other = start(hyperopt_args(survivor, storage, 10), tmp_path)
    worker = f"{socket.gethostname()}:{victim.pid}"
    deadline = time.monotonic() + 300
    while True:  # Freeze it; kill it if frozen mid-trial, else let it go on and try again.
        assert time.monotonic() < deadline and victim.poll() is None
        if epochs_of(dying):
            os.killpg(victim.pid, signal.SIGSTOP)
            if running_trials_of(storage, worker):
                break
            os.killpg(victim.pid, signal.SIGCONT)
        time.sleep(0.05)
    assert other.poll() is None  # The survivor is mid-run too.
    os.killpg(victim.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    victim.communicate()
    finish(other)
    evaluated_before_death = len(epochs_of(dying))

    # A restarted worker, once the dead one's heartbeat is stale, continues the study.
    time.sleep(max(0.0, 21 - (time.monotonic() - killed_at)))
    restarted = start(hyperopt_args(dying, storage, 3), tmp_path)
    finish(restarted)

    study = optuna.load_study(study_name="pm-study", storage=storage)
    trials = study.get_trials()
    states = [t.state for t in trials]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert [t.user_attrs["freqtrade_worker"] for t in failed] == [worker], [
        (t.number, t.state.name, t.user_attrs.get("freqtrade_worker"), t.datetime_start)
        for t in trials
    ]
    assert TrialState.RUNNING not in states
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == evaluated_before_death + 10 + 3
    assert len(epochs_of(survivor)) == 10
    assert len(epochs_of(dying)) == evaluated_before_death + 3
    assert "freqtrade_epoch" not in failed[0].user_attrs
    assert failed[0].value is None  # Not a result: the study's best is over complete trials.
    assert max(t.number for t in complete) > failed[0].number
    assert key(reported_params(dying)) == key(study.best_trial.params)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("freqtrade-posmgmt: error: ")
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(
    ("storage", "words"),
    [
        ("not a url", ["not a database URL"]),
        ("postgres9://h/db", ["unknown database kind", "postgres9"]),
        ("sqlite:////nonexistent-dir/study.db", ["cannot open the database"]),
        ("postgresql://u:secret@127.0.0.1:9/db", ["cannot open the database", "127.0.0.1:9"]),
    ],
)
def test_bad_storage_is_one_line(tmp_path, storage, words):
    userdir = make_worker(tmp_path, "w")
    proc = run_cli(*hyperopt_args(userdir, storage, 1), cwd=tmp_path)
    assert_one_line_error(proc, *words)
    assert "secret" not in proc.stderr
    assert not (userdir / "hyperopt_results").exists()


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory) -> tuple[Path, str]:
    """A SQLite study one real hyperopt worker created (pm_trailing, one epoch)."""
    tmp = tmp_path_factory.mktemp("study")
    storage = f"sqlite:///{tmp / 'study.db'}"
    finish(start(hyperopt_args(make_worker(tmp, "first"), storage, 1), tmp))
    return tmp, storage


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (["--spaces", "pm_time"], ["spaces", "['pm_trailing']", "['pm_time']"]),
        (["--strategy", "ExampleManagedStrategy"], ["strategy", "TrailingHyperoptStrategy"]),
        (["--timerange", "20250101-20250401"], ["timerange", "20250101-20250401"]),
    ],
)
def test_a_study_of_other_settings_is_refused(finished_study, change, words):
    tmp, storage = finished_study
    userdir = make_worker(tmp, f"other-{change[0].strip('-')}")
    proc = run_cli(*hyperopt_args(userdir, storage, 2), *change, cwd=tmp)
    assert_one_line_error(proc, "study pm-study", *words)
    study = optuna.load_study(study_name="pm-study", storage=storage)
    assert len(study.get_trials()) == 1
    assert study.user_attrs["freqtrade"]["spaces"] == ["pm_trailing"]


def test_a_second_worker_on_one_user_data_folder_is_refused(tmp_path):
    userdir = make_worker(tmp_path, "w")
    with FileLock(userdir / "hyperopt.lock"):
        proc = run_cli(*hyperopt_args(userdir, f"sqlite:///{tmp_path}/s.db", 1), cwd=tmp_path)
    assert_one_line_error(proc, "another hyperopt", "--userdir")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["offline", "hyperopt", "--storage", "sqlite:///x.db", "-e", "1"], ["--study-name"]),
        (["offline", "hyperopt", "--study-name", "x", "-e", "1"], ["--storage"]),
        (["hyperopt", "-c", "user_data/config.json"], ["--storage", "--study-name"]),
        (["hyperopt", "--storage", "nope", "--study-name", "x"], ["not a database URL"]),
    ],
)
def test_incomplete_study_options_are_one_line(tmp_path, args, words):
    proc = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(proc, *words)
    assert not list(tmp_path.iterdir())
