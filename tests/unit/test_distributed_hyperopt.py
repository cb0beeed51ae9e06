"""The shared study's pieces that need no backtest: options, distributions, signature, tells."""

import optuna
import pytest
from freqtrade.optimize.space import SKDecimal, ft_CategoricalDistribution, ft_IntDistribution
from hypothesis import given
from hypothesis import strategies as st
from optuna.trial import TrialState

from freqtrade_posmgmt.cli.distributed_hyperopt import (
    EPOCH_ATTR,
    SharedStudy,
    SharedStudyError,
    open_storage,
    signature_mismatch,
    take_study_options,
)

FREQTRADE_ARGS = st.lists(
    st.sampled_from(["hyperopt", "-e", "5", "--spaces", "pm_trailing", "-j", "2", "--storage2"])
)


@given(FREQTRADE_ARGS, st.booleans())
def test_the_study_options_are_taken_out_and_nothing_else(args, equals_form):
    options = (
        ["--storage=sqlite:///s.db", "--study-name=s"]
        if equals_form
        else ["--storage", "sqlite:///s.db", "--study-name", "s"]
    )
    assert take_study_options(args) == (None, None, args)
    assert take_study_options(args[:1] + options + args[1:]) == ("sqlite:///s.db", "s", args)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--storage", "sqlite:///s.db"], "go together"),
        (["--study-name", "s", "-e", "5"], "go together"),
        (["--storage", "--study-name", "s"], "--storage needs a value"),
        (["--storage", "sqlite:///s.db", "--study-name"], "--study-name needs a value"),
    ],
)
def test_incomplete_study_options(args, words):
    with pytest.raises(SharedStudyError, match=words):
        take_study_options(args)


@pytest.fixture
def study(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}")
    optuna.create_study(storage=storage, study_name="s", direction="minimize")
    return SharedStudy("s", storage, optuna.samplers.RandomSampler(seed=1))


def test_freqtrade_distributions_are_stored_as_ones_a_database_reads_back(study, tmp_path):
    trial = study.ask(
        {
            "decimal": SKDecimal(0.0, 0.1, decimals=3, name="decimal"),
            "integer": ft_IntDistribution(6, 336, name="integer"),
            "choice": ft_CategoricalDistribution([True, False], name="choice"),
        }
    )
    study.tell(trial, 1.5)
    study.complete({"loss": 1.5})
    # A fresh process reading the study (Freqtrade's classes would fail here).
    (stored,) = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 's.db'}").trials
    assert stored.state == TrialState.COMPLETE and stored.value == 1.5
    assert stored.distributions["decimal"] == optuna.distributions.FloatDistribution(
        0.0, 0.1, step=0.001
    )
    assert stored.distributions["integer"] == optuna.distributions.IntDistribution(6, 336)
    assert stored.params == trial.params


def test_a_tell_waits_for_its_epoch(study):
    trial = study.ask({"x": SKDecimal(0.0, 1.0, decimals=2, name="x")})
    study.tell(trial, 2.0)
    assert study.trials[0].state == TrialState.RUNNING
    study.complete({"loss": 2.0, "params_dict": trial.params})
    assert study.trials[0].state == TrialState.COMPLETE
    assert study.best_epoch() == {"loss": 2.0, "params_dict": trial.params}


def test_a_result_of_a_trial_failed_meanwhile_is_added_anew(study):
    trial = study.ask({"x": SKDecimal(0.0, 1.0, decimals=2, name="x")})
    study.tell(trial, 3.0)
    study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # Stale, elsewhere.
    study.complete({"loss": 3.0})
    failed, added = study.trials
    assert failed.state == TrialState.FAIL and EPOCH_ATTR not in failed.user_attrs
    assert added.state == TrialState.COMPLETE and added.value == 3.0
    assert added.params == trial.params and EPOCH_ATTR in added.user_attrs


def test_stopping_fails_the_trials_in_flight(study):
    trial = study.ask({"x": SKDecimal(0.0, 1.0, decimals=2, name="x")})
    study.fail_in_flight()
    (stored,) = study.trials
    assert stored.number == trial.number and stored.state == TrialState.FAIL
    assert stored.user_attrs["freqtrade_skipped"] == "worker stopped"


def test_a_signature_mismatch_names_the_setting():
    stored = {"strategy": "A", "spaces": ["pm_trailing"]}
    assert signature_mismatch(stored, {"strategy": "A", "spaces": ["pm_trailing"]}, "s") == ""
    line = signature_mismatch(stored, {"strategy": "A", "spaces": ["pm_time"]}, "s")
    assert line.startswith("study s was created with spaces ['pm_trailing'], this run has")
