"""
Freqtrade's own hyperopt on one Optuna study shared by many processes and hosts.

``freqtrade-posmgmt [offline] hyperopt --storage URL --study-name NAME <hyperopt args>``: every
process started with the same storage and study name asks its trials from, and tells its results
to, that one study. Freqtrade still evaluates every epoch (its backtest, its loss function, its
``.fthypt`` file and ``<strategy>.json`` export on each host); only these are patched, and why:

- ``HyperOptimizer.get_optimizer``: Freqtrade creates its study in memory. Here the study is
  created, or loaded by name, in the RDB storage, with the sampler Freqtrade chose.
- The study it returns (:class:`SharedStudy`) hands Optuna plain distributions: Freqtrade's
  ``ft_*Distribution``/``SKDecimal`` subclasses are stored by class name and an RDB cannot read
  them back. It keeps a heartbeat for the trials this process evaluates, so a dead worker's
  trials are failed by the others instead of staying RUNNING forever.
- ``Hyperopt.get_asked_points``: stale trials are failed before asking, and trials Freqtrade
  skips as duplicates are failed instead of being left RUNNING in the shared study.
- ``Hyperopt.duplicate_optuna_asked_points``: Freqtrade skips parameters already COMPLETE; in a
  shared study parameters another worker is evaluating right now (RUNNING) are skipped too.
- ``Hyperopt._save_result``: before Freqtrade appends an evaluated epoch to its ``.fthypt`` file,
  the epoch is stored with its trial, so any host can report (and export) the best epoch of the
  whole study, which then becomes its current best.
- ``HyperoptTools._format_explanation_string``: such a best epoch of another worker is not an
  epoch of this host's run (its ``hyperopt-show -n`` would show another one): it is named by the
  study's trial and the worker that evaluated it.

The sampler Freqtrade chose is kept, its stepped values rounded to the step's decimals
(:class:`RoundedSampler`), so that the study stores ``0.03``, not ``0.030000000000000002``.
"""

import atexit
import copy
import logging
import os
import socket
import sys
import threading
import time
import warnings
from collections import deque
from decimal import Decimal
from typing import Any

import optuna
import rapidjson
import sqlalchemy.exc
from filelock import FileLock, Timeout
from freqtrade.commands import Arguments
from freqtrade.configuration import Configuration
from freqtrade.constants import FTHYPT_FILEVERSION
from freqtrade.enums import RunMode
from freqtrade.exceptions import FreqtradeException, OperationalException
from freqtrade.main import main as freqtrade_main
from freqtrade.optimize.hyperopt.hyperopt import Hyperopt
from freqtrade.optimize.hyperopt.hyperopt_optimizer import HyperOptimizer
from freqtrade.optimize.hyperopt_tools import HyperoptTools, hyperopt_serializer
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
)
from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
from optuna.trial import FrozenTrial, Trial, TrialState
from sqlalchemy.engine import make_url

from freqtrade_posmgmt.cli.errors import CommandError

logger = logging.getLogger(__name__)

# A trial whose heartbeat is older than the grace period belongs to a dead worker. The heartbeat
# comes from a thread of the worker's main process, so a long backtest does not delay it.
HEARTBEAT_INTERVAL = 5
GRACE_PERIOD = 20
EPOCH_ATTR = "freqtrade_epoch"
SKIPPED_ATTR = "freqtrade_skipped"
# Which process evaluates a trial, for whoever watches the study.
WORKER_ATTR = "freqtrade_worker"
WORKER = f"{socket.gethostname()}:{os.getpid()}"
SIGNATURE_ATTR = "freqtrade"
# Set on a best epoch another worker evaluated: (study trial number, worker).
FOREIGN_EPOCH = "shared_study_trial"
# The pip package that brings a database driver SQLAlchemy could not import.
DRIVER_PACKAGES = {
    "psycopg": "'freqtrade-posmgmt[distributed]'",
    "psycopg2": "psycopg2-binary",
    "MySQLdb": "mysqlclient",
    "pymysql": "pymysql",
}
JSON_MODE = rapidjson.NM_NATIVE | rapidjson.NM_NAN
# What makes two runs' epochs comparable; checked before anything is written to the study.
CONFIG_SIGNATURE = ("strategy", "spaces", "hyperopt_loss", "timerange", "timeframe", "pairs")


class SharedStudyError(CommandError):
    """A problem with the shared study's inputs, worded for one line of output."""


def take_study_options(args: list[str]) -> tuple[str | None, str | None, list[str]]:
    """
    Take ``--storage URL`` and ``--study-name NAME`` out of Freqtrade's arguments.
    :return: the storage URL, the study name (None when absent) and the remaining arguments
    """
    found: dict[str, str | None] = {"--storage": None, "--study-name": None}
    rest: list[str] = []
    words = iter(args)
    for word in words:
        option, equals, value = word.partition("=")
        if option not in found:
            rest.append(word)
            continue
        if not equals:
            value = next(words, "")
        if not value or value.startswith("-"):
            raise SharedStudyError(f"{option} needs a value")
        found[option] = value
    storage, study_name = found["--storage"], found["--study-name"]
    if (storage is None) != (study_name is None):
        raise SharedStudyError("--storage URL and --study-name NAME go together: give both")
    return storage, study_name, rest


def plain_distribution(distribution: BaseDistribution) -> BaseDistribution:
    """Freqtrade's distribution subclass as the Optuna distribution an RDB can read back."""
    if isinstance(distribution, FloatDistribution):
        return FloatDistribution(
            distribution.low, distribution.high, log=distribution.log, step=distribution.step
        )
    if isinstance(distribution, IntDistribution):
        return IntDistribution(
            distribution.low, distribution.high, log=distribution.log, step=distribution.step
        )
    if isinstance(distribution, CategoricalDistribution):
        return CategoricalDistribution(distribution.choices)
    return distribution


def config_signature(config: dict[str, Any]) -> dict[str, Any]:
    """The settings every epoch of one study must share, from a Freqtrade configuration."""
    return {
        "strategy": str(config.get("strategy")),
        "spaces": sorted(config.get("spaces", [])),
        "hyperopt_loss": config.get("hyperopt_loss"),
        "timerange": config.get("timerange"),
        "timeframe": config.get("timeframe"),
        "pairs": sorted(config.get("exchange", {}).get("pair_whitelist", [])),
    }


def signature_mismatch(stored: dict[str, Any], wanted: dict[str, Any], study_name: str) -> str:
    """The first setting where a run differs from its study, as one line; '' when none."""
    for key, value in wanted.items():
        if key in stored and stored[key] != value:
            return (
                f"study {study_name} was created with {key} {stored[key]}, this run has "
                f"{value}: use another --study-name or the study's settings"
            )
    return ""


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """
    Connect to an Optuna RDB storage, with the heartbeat on.
    :raises SharedStudyError: on a malformed URL, a missing driver or an unreachable database
    """
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError as e:
        raise SharedStudyError(
            f"--storage {url} is not a database URL (e.g. sqlite:///study.db or "
            "postgresql://user:password@host:5432/db)"
        ) from e
    try:
        for attempt in range(3):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ExperimentalWarning)  # The heartbeat is.
                    return optuna.storages.RDBStorage(
                        url, heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=GRACE_PERIOD
                    )
            except sqlalchemy.exc.IntegrityError:
                # Workers starting together on a new database race to create Optuna's tables.
                if attempt == 2:
                    raise
                time.sleep(1)
    except sqlalchemy.exc.NoSuchModuleError as e:
        raise SharedStudyError(
            f"--storage {shown}: unknown database kind '{make_url(url).drivername}' "
            "(use sqlite:///... or postgresql://...)"
        ) from e
    except ImportError as e:
        driver = _missing_module(e)
        install = f" (pip install {DRIVER_PACKAGES.get(driver, driver)})" if driver else ""
        raise SharedStudyError(
            f"--storage {shown}: its database driver {driver or ''} is not installed{install}"
        ) from e
    except sqlalchemy.exc.SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise SharedStudyError(f"--storage {shown}: cannot open the database ({reason})") from e


def _missing_module(error: BaseException | None) -> str | None:
    """The module an import error (Optuna re-raises SQLAlchemy's) could not find."""
    while error is not None:
        if isinstance(error, ImportError) and error.name:
            return error.name
        error = error.__cause__ or error.__context__
    return None


def check_study(storage: optuna.storages.RDBStorage, study_name: str, config: dict) -> None:
    """
    Refuse a run whose settings differ from those its (existing) study was created with.
    :raises SharedStudyError: naming the first differing setting
    """
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return
    stored = storage.get_study_user_attrs(study_id).get(SIGNATURE_ATTR, {})
    if problem := signature_mismatch(stored, config_signature(config), study_name):
        raise SharedStudyError(problem)


def preflight(url: str, study_name: str, freqtrade_args: list[str]) -> None:
    """
    Check storage, study and user_data lock before Freqtrade starts; writes nothing to a study.
    :raises SharedStudyError: with the one line to show
    """
    storage = open_storage(url)
    try:
        parsed = Arguments(freqtrade_args).get_parsed_arg()
        logging.disable(logging.CRITICAL)  # Freqtrade logs, and reports, its own config errors.
        try:
            config = Configuration(parsed, RunMode.HYPEROPT).get_config()
        except FreqtradeException:
            return
        finally:
            logging.disable(logging.NOTSET)
        check_study(storage, study_name, config)
    finally:
        storage.engine.dispose()  # Its connections: the run opens its own.
    # Freqtrade allows one hyperopt per user_data folder and, when it is taken, quits with
    # status 0 having done nothing: a worker that silently does no work. Say so instead.
    lock = FileLock(Hyperopt.get_lock_filename(config))
    try:
        lock.acquire(timeout=0)
    except Timeout as e:
        raise SharedStudyError(
            f"another hyperopt runs in the user_data folder {config['user_data_dir']}: "
            "give each worker on one host its own --userdir"
        ) from e
    lock.release()


def _decimals(step: float) -> int:
    """Decimals of a step as written: 0.001 -> 3, 0.5 -> 1, 1 -> 0."""
    return max(0, -int(Decimal(str(step)).as_tuple().exponent))


def rounded(distribution: BaseDistribution, value: Any) -> Any:
    """A stepped float rounded to its step's decimals (Optuna computes ``low + k * step``)."""
    if isinstance(distribution, FloatDistribution) and distribution.step is not None:
        return round(value, _decimals(distribution.step))
    return value


class RoundedSampler(optuna.samplers.BaseSampler):
    """Freqtrade's sampler, its stepped floats rounded to the step's decimals."""

    def __init__(self, sampler: optuna.samplers.BaseSampler) -> None:
        self.sampler = sampler

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.sampler.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        values = self.sampler.sample_relative(study, trial, search_space)
        return {name: rounded(search_space[name], value) for name, value in values.items()}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        value = self.sampler.sample_independent(study, trial, param_name, param_distribution)
        return rounded(param_distribution, value)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: list[float] | None,
    ) -> None:
        self.sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.sampler.reseed_rng()


def explanation(results: dict[str, Any], total_epochs: int) -> str:
    """
    Freqtrade's one-line summary of an epoch; a best epoch of another worker is named by the
    study's trial and that worker, not by an epoch number of this run.
    """
    if FOREIGN_EPOCH not in results:
        return format_explanation(results, total_epochs)
    trial, worker = results[FOREIGN_EPOCH]
    return (
        f"  study trial {trial}, evaluated by {worker} (not an epoch of this run: "
        f"hyperopt-show here shows other ones): {results['results_explanation']} "
        f"Objective: {results['loss']:.5f}"
    )


format_explanation = HyperoptTools._format_explanation_string


class SharedStudy(optuna.Study):
    """
    Freqtrade's study, in a shared storage. Freqtrade asks a batch, tells each loss, then
    evaluates each result; the tell is held until the result is evaluated, so a trial turns
    COMPLETE together with the epoch another host may report.
    """

    def __init__(self, study_name: str, storage: Any, sampler: optuna.samplers.BaseSampler):
        super().__init__(study_name=study_name, storage=storage, sampler=sampler)
        self._in_flight: dict[int, Trial] = {}
        self._told: deque[tuple[Trial, float]] = deque()
        self._best: tuple[int, dict[str, Any]] | None = None
        threading.Thread(target=self._beat, name="study-heartbeat", daemon=True).start()
        atexit.register(self.fail_in_flight)

    def _beat(self) -> None:
        while True:
            time.sleep(HEARTBEAT_INTERVAL)
            for trial_id in list(self._in_flight):
                try:
                    self._storage.record_heartbeat(trial_id)
                except sqlalchemy.exc.SQLAlchemyError as e:  # Keep beating: it may come back.
                    logger.warning(f"Heartbeat of trial {trial_id} failed: {e}")

    def ask(self, fixed_distributions: dict[str, BaseDistribution] | None = None) -> Trial:
        plain = {k: plain_distribution(d) for k, d in (fixed_distributions or {}).items()}
        with warnings.catch_warnings():
            # Optuna meant its heartbeat for Study.optimize; here it serves ask and tell.
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
            trial = super().ask(plain)
        self._storage.record_heartbeat(trial._trial_id)
        self._storage.set_trial_user_attr(trial._trial_id, WORKER_ATTR, WORKER)
        self._in_flight[trial._trial_id] = trial
        return trial

    def tell(
        self,
        trial: Trial | int,
        values: float | list[float] | None = None,
        state: TrialState | None = None,
        skip_if_finished: bool = False,
    ) -> FrozenTrial | None:
        if state is None and isinstance(trial, Trial) and trial._trial_id in self._in_flight:
            self._told.append((trial, values))  # Completed by complete(), with its epoch.
            return None
        return super().tell(trial, values, state, skip_if_finished)

    def fail_stale_trials(self) -> None:
        """Fail the RUNNING trials of workers whose heartbeat stopped."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            optuna.storages.fail_stale_trials(self)

    def drop(self, trial: Trial, reason: str) -> None:
        """Fail an asked trial that will not be evaluated."""
        self._in_flight.pop(trial._trial_id, None)
        self._storage.set_trial_user_attr(trial._trial_id, SKIPPED_ATTR, reason)
        super().tell(trial, state=TrialState.FAIL, skip_if_finished=True)

    def complete(self, epoch: dict[str, Any]) -> None:
        """Finish the oldest told trial with Freqtrade's evaluated epoch stored beside it."""
        trial, told = self._told.popleft()
        loss = told[0] if isinstance(told, list | tuple) else told
        self._in_flight.pop(trial._trial_id, None)
        text = rapidjson.dumps(epoch, default=hyperopt_serializer, number_mode=JSON_MODE)
        try:
            self._storage.set_trial_user_attr(trial._trial_id, EPOCH_ATTR, text)
            super().tell(trial, loss)
        except (UpdateFinishedTrialError, ValueError):
            # Failed as stale by another worker (this host lost the database for a while):
            # the evaluation is still good, so it goes in as a new trial.
            logger.warning(f"Trial {trial.number} was failed meanwhile; adding its result anew.")
            self.add_trial(
                optuna.trial.create_trial(
                    params=trial.params,
                    distributions=trial.distributions,
                    value=loss,
                    user_attrs={EPOCH_ATTR: text},
                )
            )

    def best_epoch(self) -> dict[str, Any] | None:
        """Freqtrade's epoch of the study's best trial (over every worker), or None."""
        try:
            best = self.best_trial
        except ValueError:  # No complete trial yet.
            return None
        if self._best is None or self._best[0] != best.number:
            if EPOCH_ATTR not in best.user_attrs:
                return None
            epoch = rapidjson.loads(best.user_attrs[EPOCH_ATTR], number_mode=JSON_MODE)
            worker = best.user_attrs.get(WORKER_ATTR)
            if worker != WORKER:
                epoch[FOREIGN_EPOCH] = (best.number, worker or "another worker")
            self._best = (best.number, epoch)
        return self._best[1]

    def fail_in_flight(self) -> None:
        """Fail this process's unfinished trials at exit (Ctrl+C), not waiting for staleness."""
        for trial in list(self._in_flight.values()):
            try:
                self.drop(trial, "worker stopped")
            except (sqlalchemy.exc.SQLAlchemyError, RuntimeError) as e:
                logger.warning(f"Could not fail trial {trial.number}: {e}")


def use_shared_study(url: str, study_name: str) -> None:
    """
    Make Freqtrade's hyperopt in this process run on the study ``study_name`` in ``url``.
    :param url: an Optuna RDB storage URL (sqlite:///..., postgresql://...)
    :param study_name: the study every cooperating worker names
    """
    get_optimizer = HyperOptimizer.get_optimizer
    get_asked_points = Hyperopt.get_asked_points
    duplicate_optuna_asked_points = Hyperopt.duplicate_optuna_asked_points
    save_result = Hyperopt._save_result

    def shared_get_optimizer(self: HyperOptimizer, random_state: int) -> SharedStudy:
        sampler = RoundedSampler(get_optimizer(self, random_state).sampler)  # Freqtrade's choice
        signature = config_signature(self.config) | {
            "strategy": self.get_strategy_name(),
            "search_space": {
                name: distribution_to_json(plain_distribution(d))
                for name, d in self.o_dimensions.items()
            },
        }
        storage = open_storage(url)
        try:
            stored = storage.get_study_user_attrs(storage.get_study_id_from_name(study_name))
        except KeyError:
            stored = {}
        if problem := signature_mismatch(stored.get(SIGNATURE_ATTR, {}), signature, study_name):
            raise OperationalException(problem)
        optuna.create_study(
            storage=storage, study_name=study_name, direction="minimize", load_if_exists=True
        )
        study = SharedStudy(study_name, storage, sampler)
        if not stored:
            study.set_user_attr(SIGNATURE_ATTR, signature)
        study.fail_stale_trials()
        done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        logger.info(f"Shared study {study_name}: {done} complete trials so far.")
        return study

    def shared_get_asked_points(self: Hyperopt, n_points: int, dimensions: dict) -> tuple:
        self.opt.fail_stale_trials()
        before = set(self.opt._in_flight)
        asked, is_random = get_asked_points(self, n_points, dimensions)
        kept = {trial._trial_id for trial in asked}
        for trial_id in set(self.opt._in_flight) - before - kept:
            self.opt.drop(self.opt._in_flight[trial_id], "duplicate parameters")
        return asked, is_random

    def shared_duplicate(self: Hyperopt, trial: Trial, asked_trials: list) -> bool:
        if duplicate_optuna_asked_points(self, trial, asked_trials):
            return True
        # The earlier of two RUNNING trials with the same parameters is the one evaluated.
        batch = {t.number for t in asked_trials}
        running = trial.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        return any(
            t.number < trial.number and t.number not in batch and t.params == trial.params
            for t in running
        )

    def shared_save_result(self: Hyperopt, epoch: dict[str, Any]) -> None:
        # The study first: a results file never lists an epoch the study lacks.
        epoch[FTHYPT_FILEVERSION] = 2  # What Freqtrade's own line gets; the export needs it.
        self.opt.complete(epoch)
        save_result(self, epoch)
        best = self.opt.best_epoch()
        if best is not None and best["loss"] < self.current_best_loss:
            self.current_best_loss = best["loss"]
            self.current_best_epoch = copy.deepcopy(best)

    HyperOptimizer.get_optimizer = shared_get_optimizer
    Hyperopt.get_asked_points = shared_get_asked_points
    Hyperopt.duplicate_optuna_asked_points = shared_duplicate
    Hyperopt._save_result = shared_save_result
    HyperoptTools._format_explanation_string = staticmethod(explanation)


def prepare(freqtrade_args: list[str]) -> list[str]:
    """
    For ``hyperopt`` with ``--storage`` and ``--study-name``: check them and patch Freqtrade.
    :return: the arguments left for Freqtrade (unchanged for anything else)
    """
    if not freqtrade_args or freqtrade_args[0] != "hyperopt":
        return freqtrade_args
    url, study_name, rest = take_study_options(freqtrade_args)
    if url is None or study_name is None:
        return rest
    preflight(url, study_name, rest)
    use_shared_study(url, study_name)
    return rest


def main(hyperopt_args: list[str]) -> int:
    """
    ``freqtrade-posmgmt hyperopt --storage URL --study-name NAME <args>``: Freqtrade's hyperopt
    (with its network) on a shared study.
    :return: the exit status
    """
    try:
        args = ["hyperopt", *hyperopt_args]
        if take_study_options(args)[0] is None:
            raise SharedStudyError("hyperopt needs --storage URL and --study-name NAME")
        args = prepare(args)
    except SharedStudyError as e:
        print(f"freqtrade-posmgmt: error: {e}", file=sys.stderr)
        return 2
    try:
        freqtrade_main(args)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else int(e.code is not None)
    return 0
