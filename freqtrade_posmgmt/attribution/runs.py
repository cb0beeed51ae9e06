"""
The backtests of an attribution: Freqtrade's backtester, in-process, on candles loaded once.

Freqtrade's ``--strategy-list`` runs several strategies on one loaded dataset with one
:class:`Backtesting`: each strategy is loaded from its own copy of the config and backtested by
``backtest_one_strategy``, which resets trades, locks, wallets and the data provider's cache
first. The runs here go the same way, each variant being the strategy loaded from a config whose
``posmgmt`` switches one capability off; what they share (exchange, markets, candles) no run
changes. So every run equals a separate ``freqtrade backtesting`` of that config, at the cost of
a backtest and not of a process start.
"""

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from freqtrade.configuration import validate_config_consistency
from freqtrade.data.metrics import calculate_calmar, calculate_max_drawdown
from freqtrade.optimize.backtesting import Backtesting
from freqtrade.resolvers import StrategyResolver
from freqtrade.strategy import IStrategy
from freqtrade.util import get_dry_run_wallet

from freqtrade_posmgmt.attribution import METRICS, NOT_IN_BACKTESTS


class AttributionError(Exception):
    """Nothing to attribute (e.g. a strategy without position management), in one line."""


@dataclass(frozen=True)
class Run:
    """One backtest of an attribution."""

    name: str
    """``all_on``, a capability's section (that one off), or ``baseline``."""
    strategy: str
    results: pd.DataFrame
    """Freqtrade's per-trade results frame."""
    metrics: dict[str, Any]
    """The run's :data:`~freqtrade_posmgmt.attribution.METRICS`, plain JSON values."""
    capabilities: tuple[str, ...]
    """The sections of the capabilities that were on."""


def capabilities_on(strategy: IStrategy) -> list[str]:
    """
    The ``posmgmt`` sections of ``strategy``'s capabilities that are on, outermost mixin first
    (read as the decisions file reads them, ``mixins._sidecar.document``).
    :return: empty for a strategy without position management
    """
    if not hasattr(strategy, "pm_resolved_policies"):
        return []
    resolved = strategy.pm_resolved_policies()
    sections = [cls.pm_section for cls in strategy.pm_capabilities()]
    return [s for s in sections if s in resolved and resolved[s].policy is not None]


def switched_off(config: dict[str, Any], section: str) -> dict[str, Any]:
    """A copy of ``config`` whose ``posmgmt`` section switches ``section``'s capability off."""
    variant = copy.deepcopy(config)
    variant["posmgmt"] = {**(variant.get("posmgmt") or {}), section: None}
    return variant


def backtest_runs(
    config: dict[str, Any], strategy: str, baseline: str | None = None
) -> Iterator[Run]:
    """
    Backtest ``strategy`` with every capability as configured, then with each capability that
    is on and acts in backtests switched off in turn, then ``baseline``.
    :param config: Freqtrade's configuration for a backtest (``RunMode.BACKTEST``)
    :param strategy: the strategy's name, as ``--strategy`` takes it
    :param baseline: the plain strategy's name, if any
    :return: the runs, in that order (``all_on`` first)
    :raise AttributionError: the strategy has no capability on that acts in backtests
    """
    config = copy.deepcopy(config)
    config["export"] = "none"  # writes no result and no decisions file
    config["strategy"] = strategy
    config["strategy_list"] = [strategy] + ([baseline] if baseline else [])
    config["dry_run"] = True  # as Backtesting sets it before loading its strategies
    # Schema defaults, as `freqtrade backtesting` fills them before the Backtesting is built.
    validate_config_consistency(config, preliminary=True)
    # The variants load from the config as Backtesting's own strategies did, not from the
    # config it goes on to change (e.g. its startup_candle_count).
    pristine = copy.deepcopy(config)
    backtesting = Backtesting(config)
    try:
        managed, *plain = backtesting.strategylist
        sections = [s for s in capabilities_on(managed) if s not in NOT_IN_BACKTESTS]
        if not sections:
            raise AttributionError(
                f"strategy {managed.get_strategy_name()} has no position-management capability "
                "on that acts in backtests: nothing to attribute"
            )
        data, timerange = backtesting.load_bt_data()
        yield _run(backtesting, "all_on", managed, data, timerange)
        for section in sections:
            variant = switched_off(pristine, section)
            loaded = StrategyResolver.load_strategy(variant)
            validate_config_consistency(variant)
            yield _run(backtesting, section, loaded, data, timerange)
        for loaded in plain:
            yield _run(backtesting, "baseline", loaded, data, timerange)
    finally:
        backtesting.exchange.close()
        Backtesting.cleanup()


def _run(
    backtesting: Backtesting, name: str, strategy: IStrategy, data: dict, timerange: Any
) -> Run:
    min_date, max_date = backtesting.backtest_one_strategy(strategy, data, timerange)
    strategy_name = strategy.get_strategy_name()
    content = backtesting.all_bt_content.pop(strategy_name)
    results = content["results"]
    metrics = run_metrics(results, get_dry_run_wallet(content["config"]), min_date, max_date)
    return Run(name, strategy_name, results, metrics, tuple(capabilities_on(strategy)))


def run_metrics(
    results: pd.DataFrame, start_balance: float, min_date: datetime, max_date: datetime
) -> dict[str, Any]:
    """
    A run's :data:`~freqtrade_posmgmt.attribution.METRICS`, computed by Freqtrade's functions as
    its statistics compute them (``generate_strategy_stats``: ``total_trades``,
    ``profit_total_abs``, ``profit_total``, ``max_drawdown_account``, ``calmar``), without the
    rest of its statistics, which cost a sixth of a backtest.
    """
    profit = results["profit_abs"].sum()
    try:
        drawdown = calculate_max_drawdown(
            results, value_col="profit_abs", starting_balance=start_balance
        ).relative_account_drawdown
    except ValueError:  # no losing trade: Freqtrade's statistics say 0
        drawdown = 0.0
    values = (
        len(results),
        profit,
        profit / start_balance,
        drawdown,
        calculate_calmar(results, min_date, max_date, start_balance),
    )
    return {key: _plain(value) for key, value in zip(METRICS, values, strict=True)}


def attribute(
    config: dict[str, Any],
    strategy: str,
    baseline: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """
    What each capability of ``strategy`` contributed: all on minus that one off.
    :param config: Freqtrade's configuration for a backtest (``RunMode.BACKTEST``)
    :param strategy: the strategy's name, as ``--strategy`` takes it
    :param baseline: the plain strategy's name, backtested beside it if given
    :param progress: told each run's name (``all_on``, a section, ``baseline``) as it finishes
    :return: ``{"strategy", "timerange", "stake_currency", "all_on": METRICS, "capabilities":
        [{"name", "off": METRICS, "delta_profit_abs", "delta_max_drawdown"}, ...],
        "not_run": {section: why}}``, and ``"baseline": {"strategy", METRICS}`` when given
    """
    runs = []
    for run in backtest_runs(config, strategy, baseline):
        runs.append(run)
        progress(run.name)
    return summarise(runs, config)


def summarise(runs: list[Run], config: dict[str, Any]) -> dict[str, Any]:
    """The attribution of :func:`backtest_runs`' runs (see :func:`attribute`)."""
    all_on = runs[0].metrics
    capabilities = [
        {
            "name": run.name,
            "off": (off := run.metrics),
            "delta_profit_abs": all_on["profit_abs"] - off["profit_abs"],
            "delta_max_drawdown": all_on["max_drawdown"] - off["max_drawdown"],
        }
        for run in runs
        if run.name not in ("all_on", "baseline")
    ]
    attribution: dict[str, Any] = {
        "strategy": runs[0].strategy,
        "timerange": config.get("timerange"),
        "stake_currency": config["stake_currency"],
        "all_on": all_on,
        "capabilities": capabilities,
        "not_run": {s: NOT_IN_BACKTESTS[s] for s in runs[0].capabilities if s in NOT_IN_BACKTESTS},
    }
    for run in runs:
        if run.name == "baseline":
            attribution["baseline"] = {"strategy": run.strategy, **run.metrics}
    return attribution


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, so that the attribution serialises to JSON."""
    return value.item() if hasattr(value, "item") else value
