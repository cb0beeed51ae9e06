"""
What a shared-study host shows and stores: another worker's best epoch named by its study trial
and worker, parameters without float noise, a driver error that says what to install.
"""

import subprocess

import optuna
import pytest
from freqtrade.optimize.hyperopt_tools import HyperoptTools
from freqtrade.optimize.space import SKDecimal

from freqtrade_posmgmt.cli.distributed_hyperopt import (
    WORKER,
    WORKER_ATTR,
    RoundedSampler,
    SharedStudy,
    SharedStudyError,
    explanation,
    open_storage,
)
from tests.support.backtest_harness import REPO


@pytest.fixture
def study(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}")
    optuna.create_study(storage=storage, study_name="s", direction="minimize")
    return SharedStudy("s", storage, RoundedSampler(optuna.samplers.TPESampler(seed=3)))


def epoch(loss: float, current: int) -> dict:
    return {
        "loss": loss,
        "current_epoch": current,
        "is_initial_point": True,
        "results_explanation": "12 trades.",
        "params_dict": {},
    }


def test_stepped_parameters_are_stored_at_their_decimals(study):
    decimals = {"a": 3, "b": 2, "c": 1}
    space = {n: SKDecimal(0.01, 0.3, decimals=d, name=n) for n, d in decimals.items()}
    for n in range(30):  # random points first, then TPE's
        trial = study.ask(space)
        study.tell(trial, float(n % 7))
        study.complete(epoch(float(n % 7), n + 1))
    for stored in study.trials:
        for name, value in stored.params.items():
            assert repr(value) == repr(round(value, decimals[name])), (name, value)


def test_another_workers_best_epoch_is_named_by_its_study_trial_and_worker(study):
    space = {"x": SKDecimal(0.0, 1.0, decimals=2, name="x")}
    for loss, worker in ((5.0, WORKER), (1.0, "host-b:4242"), (3.0, WORKER)):
        trial = study.ask(space)
        study._storage.set_trial_user_attr(trial._trial_id, WORKER_ATTR, worker)
        study.tell(trial, loss)
        study.complete(epoch(loss, 9))
    best = study.best_epoch()
    line = explanation(best, 10)
    assert line.startswith("  study trial 1, evaluated by host-b:4242 (not an epoch of this run")
    assert "9/10" not in line and line.endswith("12 trades. Objective: 1.00000")
    # This worker's own epochs keep Freqtrade's line.
    own = epoch(5.0, 9)
    assert explanation(own, 10) == HyperoptTools._format_explanation_string(own, 10)


@pytest.mark.parametrize(
    ("url", "module", "package"),
    [
        ("mysql://u:secret@127.0.0.1/db", "MySQLdb", "mysqlclient"),
        ("mysql+pymysql://u:secret@127.0.0.1/db", "pymysql", "pymysql"),
    ],
)
def test_a_missing_driver_says_which_and_what_to_install(url, module, package):
    with pytest.raises(SharedStudyError) as error:
        open_storage(url)
    message = str(error.value)
    assert message.endswith(
        f"its database driver {module} is not installed (pip install {package})"
    )
    assert "secret" not in message and "[distributed]" not in message


def test_the_hyperopt_lock_is_not_tracked_by_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "user_data/hyperopt.lock"], cwd=REPO, check=False
    )
    assert ignored.returncode == 0
