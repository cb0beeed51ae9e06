"""
The decisions of the capabilities that changed what Freqtrade would have done (an entry refused, a
stake cut or resized, an exit the strategy refused), for the log and the report.

Each is recorded once per capability, pair and candle in ``strategy.pm_decisions``, which the
decisions file (``_sidecar``) writes beside a backtest's result; a dry-run or live bot keeps only
the current candle's there, and appends each to its decisions log beside the trade database
(``registry.decisions_log_path``) as it is made. Dry-run and live log each decision
at INFO; backtesting and hyperopt log them at DEBUG (hundreds per run would flood the log and
Freqtrade's progress bar) and each capability logs one summary line when the run ends: when the
next backtest or epoch of the same strategy starts, or when the process ends.
"""

import atexit
import json
import logging
from collections import Counter
from dataclasses import asdict
from datetime import UTC

from freqtrade.enums import RunMode
from freqtrade.strategy import IStrategy

from freqtrade_posmgmt.notifications import notify
from freqtrade_posmgmt.registry import (
    MIXIN_NAMES,
    SUMMARY_PHRASES,
    Decision,
    decisions_log_path,
)

logger = logging.getLogger(__name__)

# Strategies whose decisions since their last summary are not summarised yet.
_UNSUMMARISED: dict[int, IStrategy] = {}


def optimising(strategy: IStrategy) -> bool:
    """True in backtesting and hyperopt, where decisions are logged at DEBUG and summarised."""
    return strategy.config.get("runmode") in (RunMode.BACKTEST, RunMode.HYPEROPT)


def record_decision(
    strategy: IStrategy, decision: Decision, details: str = "", log: bool = True
) -> None:
    """
    Log ``decision`` once per capability, pair and candle (Freqtrade may ask again for the same
    candle; ``log=False`` for a capability that logs its own) and append it to
    ``strategy.pm_decisions``. The list restarts when a decision is older than the last one
    recorded: a new backtest or hyperopt epoch began, and the last one is summarised.
    """
    decisions: list[Decision] = strategy.__dict__.setdefault("pm_decisions", [])
    logged: dict = strategy.__dict__.setdefault("_pm_decisions_logged", {})
    if decisions and decision.candle < decisions[-1].candle:
        log_summary(strategy)
        decisions.clear()
        logged.clear()
    elif decisions and decision.candle > decisions[-1].candle and not optimising(strategy):
        # A bot running for months keeps only the current candle's decisions in memory: the
        # ones before it are logged (and written to the decisions log, see ``persist``).
        decisions[:] = [d for d in decisions if d.candle >= decision.candle]
    key = (decision.capability, decision.pair)
    if logged.get(key) == decision.candle:
        return
    logged[key] = decision.candle
    decisions.append(decision)
    if not optimising(strategy):
        persist(strategy, decision)
        notify(strategy, decision)
    if optimising(strategy):
        if not _UNSUMMARISED:
            atexit.register(log_summaries)
        _UNSUMMARISED[id(strategy)] = strategy
    if not log:
        return
    logger.log(
        decision_log_level(strategy),
        "%s %s %s at %s: %s%s",
        decision.capability,
        decision.kind,
        decision.pair,
        decision.candle.astimezone(UTC).isoformat(),
        decision.reason,
        f" ({details})" if details else "",
    )


def persist(strategy: IStrategy, decision: Decision) -> None:
    """
    Append ``decision`` to the bot's decisions log (``registry.decisions_log_path``), as it is
    made, so that a restart loses none and ``freqtrade-posmgmt analyze --db-url`` shows them.
    Each line carries the strategy and which capabilities were on, as a backtest's decisions
    file does.
    """
    path = decisions_log_path(str(strategy.config.get("db_url", "")))
    if path is None:
        return
    resolved = getattr(strategy, "pm_resolved_policies", dict)()
    line = {
        "strategy": strategy.get_strategy_name(),
        "capabilities": {
            section: resolution.policy is not None for section, resolution in resolved.items()
        },
        **asdict(decision),
        "candle": decision.candle.isoformat(),
    }
    try:
        with path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")
    except OSError as e:
        logger.warning("position management: cannot write %s: %s", path, e)


def decision_log_level(strategy: IStrategy) -> int:
    """The level a capability logs a decision of its own at (see the module's docstring)."""
    return logging.DEBUG if optimising(strategy) else logging.INFO


def log_summary(strategy: IStrategy) -> None:
    """One line per capability: what its recorded decisions did, e.g.
    ``DynamicRiskMixin: 682 stakes resized; 1,234.56 USDT of stake not deployed``."""
    if _UNSUMMARISED.pop(id(strategy), None) is None:
        return
    decisions: list[Decision] = strategy.__dict__.get("pm_decisions", [])
    for capability in dict.fromkeys(d.capability for d in decisions):
        mine = [d for d in decisions if d.capability == capability]
        kinds = Counter(d.kind for d in mine)
        # The registry's enums are strings: a plain string finds its entry.
        counts = ", ".join(f"{n} {SUMMARY_PHRASES.get(kind, kind)}" for kind, n in kinds.items())
        name = MIXIN_NAMES.get(capability, capability)
        kept_out = sum(d.stake_not_deployed for d in mine)
        logger.info(
            "%s: %s; %s %s of stake not deployed (sum over the decisions)",
            name,
            counts,
            f"{kept_out:,.2f}",
            strategy.config.get("stake_currency", ""),
        )


def log_summaries() -> None:
    """Summarise every strategy's decisions not summarised yet (at the end of the process)."""
    for strategy in list(_UNSUMMARISED.values()):
        log_summary(strategy)
