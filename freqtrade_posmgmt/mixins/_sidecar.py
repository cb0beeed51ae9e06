"""
What the mixins decided in a backtest, written next to Freqtrade's exported result.

Freqtrade's result holds trades and orders, not the entries a capability refused or the stakes
it cut. Each strategy run by ``freqtrade backtesting`` with an export keeps its decisions in
memory (``strategy.pm_decisions``) and writes them once, when the process ends (or when
:func:`flush` is called, as ``freqtrade-posmgmt demo`` does before analysing), to
``<backtest directory>/posmgmt/<strategy>-<run_id>.json`` (``registry.decisions_path``).
``run_id`` is Freqtrade's own (``get_strategy_run_id``, a hash of the config, timerange included,
and the strategy file), which Freqtrade stores in the result's ``.meta.json``:
``freqtrade-posmgmt analyze`` matches the two by it. Nothing happens per candle, and hyperopt writes nothing.
"""

import atexit
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from freqtrade.enums import RunMode
from freqtrade.optimize.backtest_caching import get_strategy_run_id
from freqtrade.strategy import IStrategy

from freqtrade_posmgmt.registry import DECISIONS_VERSION, decisions_path

logger = logging.getLogger(__name__)

_PENDING: dict[int, tuple[IStrategy, Path]] = {}


def register(strategy: IStrategy) -> None:
    """
    Have ``strategy``'s decisions written when the process ends; only for a backtest that
    exports its result (hyperopt and ``--export none`` write nothing).
    """
    config = strategy.config
    if config.get("runmode") != RunMode.BACKTEST or config.get("export", "none") == "none":
        return
    if "exportdirectory" not in config or not getattr(strategy, "__file__", None):
        return
    try:
        run_id = get_strategy_run_id(strategy)
    except Exception:
        logger.warning("position management: no run id, decisions not written", exc_info=True)
        return
    path = decisions_path(config["exportdirectory"], strategy.get_strategy_name(), run_id)
    if not _PENDING:
        atexit.register(flush)
    _PENDING[id(strategy)] = (strategy, path)


def document(strategy: IStrategy) -> dict[str, Any]:
    """The sidecar's content: which capabilities were on, and every decision recorded."""
    resolved = strategy.pm_resolved_policies()
    return {
        "version": DECISIONS_VERSION,
        "strategy": strategy.get_strategy_name(),
        "timerange": strategy.config.get("timerange"),
        "capabilities": {
            section: resolution.policy is not None for section, resolution in resolved.items()
        },
        "decisions": [
            {**asdict(d), "candle": d.candle.isoformat()}
            for d in strategy.__dict__.get("pm_decisions", [])
        ],
    }


def flush() -> None:
    """Write every registered strategy's decisions now (idempotent)."""
    while _PENDING:
        _, (strategy, path) = _PENDING.popitem()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".tmp")
            partial.write_text(json.dumps(document(strategy), indent=1), encoding="utf-8")
            partial.replace(path)
        except OSError as e:
            logger.warning("position management: cannot write %s: %s", path, e)
