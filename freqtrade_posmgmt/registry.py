"""
What the package knows about its capabilities, in one place and without Freqtrade: names, config
sections, the order they are asked in, the exit reasons and order tags they write, the kinds of
decision they record, and where a backtest's decisions are written. The mixins, the decisions
file (``mixins/_sidecar.py``) and the report read these instead of spelling them out.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path


class Capability(StrEnum):
    """A capability, by its section under ``posmgmt`` in config.json."""

    TIME_EXITS = "time_exits"
    CORRELATION = "correlation"
    DYNAMIC_RISK = "dynamic_risk"
    PARTIAL_EXITS = "partial_exits"
    TRAILING_STOP = "trailing_stop"
    MFE_MAE = "mfe_mae"


STACK_ORDER: tuple[Capability, ...] = tuple(Capability)
"""The order PositionManagementMixin asks the capabilities in (the first exit reason wins)."""

MIXIN_NAMES: dict[Capability, str] = {
    Capability.TIME_EXITS: "TimeExitMixin",
    Capability.CORRELATION: "CorrelationMixin",
    Capability.DYNAMIC_RISK: "DynamicRiskMixin",
    Capability.PARTIAL_EXITS: "PartialExitMixin",
    Capability.TRAILING_STOP: "TrailingStopMixin",
    Capability.MFE_MAE: "MFEMAEMixin",
}
"""Each capability's mixin, as users and the log name it."""


class ExitReason(StrEnum):
    """Exit reasons a capability gives Freqtrade (``custom_exit``)."""

    TIME_MAX_HOLDING = "time_max_holding"
    TIME_WEEKEND = "time_weekend"
    TIME_END_OF_DAY = "time_end_of_day"
    TIME_SESSION_CLOSED = "time_session_closed"


class TagPrefix(StrEnum):
    """Prefixes of the order tags a capability writes."""

    TAKE_PROFIT = "pm_tp"
    """A partial exit's order, e.g. ``pm_tp3%``."""
    SCALE_IN = "pm_add"
    """A scale-in's order, e.g. ``pm_add-5%``."""


ORDER_TAG_PREFIX = "pm_"
"""What every order tag of a capability starts with."""
TIME_EXIT_PREFIX = "time_"
"""What every time exit's reason starts with."""
STOP_EXIT_REASONS = ("stop_loss", "trailing_stop_loss")
"""Freqtrade's exit reasons (``ExitType`` values) for a stop that filled."""


def exit_capability(reason: str) -> Capability | None:
    """The capability an exit reason (or exit order tag) names, None for the strategy's own."""
    if reason.startswith(TIME_EXIT_PREFIX):
        return Capability.TIME_EXITS
    if reason.startswith(ORDER_TAG_PREFIX):
        return Capability.PARTIAL_EXITS
    if reason == "trailing_stop_loss":
        return Capability.TRAILING_STOP
    return None


class DecisionKind(StrEnum):
    """What a recorded decision did to what Freqtrade would have done."""

    REFUSED = "refused"
    """An entry refused."""
    CUT = "cut"
    """A stake cut to a cap."""
    RESIZE = "resize"
    """An entry's stake resized."""
    RESIZE_SCALE_IN = "resize_scale_in"
    """A scale-in's stake resized."""
    EXIT_REFUSED = "exit_refused"
    """An exit of a capability's that the strategy's own ``confirm_trade_exit`` refused."""


SUMMARY_PHRASES: dict[DecisionKind, str] = {
    DecisionKind.REFUSED: "entries refused",
    DecisionKind.CUT: "stakes cut",
    DecisionKind.RESIZE: "stakes resized",
    DecisionKind.RESIZE_SCALE_IN: "scale-ins resized",
    DecisionKind.EXIT_REFUSED: "exits refused by the strategy's confirm_trade_exit",
}
"""How the end-of-backtest summary line names a count of each kind."""

DECISIONS_DIRECTORY = "posmgmt"
"""The decisions file's folder, beside the exported backtest result."""
DECISIONS_VERSION = 1
"""The decisions file's format version."""


DECISIONS_LOG_SUFFIX = ".posmgmt-decisions.jsonl"
"""A dry-run or live bot's decisions log: beside its SQLite trade database, one JSON per line."""


def decisions_log_path(db_url: str) -> Path | None:
    """
    Where a dry-run or live bot with trade database ``db_url`` writes its decisions as it makes
    them: ``<database file>.posmgmt-decisions.jsonl``; None for a database that is no SQLite
    file (in memory, or a server), where none is written.
    """
    if not db_url.startswith("sqlite:///") or db_url.endswith(":memory:"):
        return None
    database = db_url.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(database + DECISIONS_LOG_SUFFIX) if database else None


def decisions_path(export_directory: Path | str, strategy: str, run_id: str) -> Path:
    """Where the decisions of ``strategy``'s backtest run ``run_id`` are written."""
    return Path(export_directory) / DECISIONS_DIRECTORY / f"{strategy}-{run_id}.json"


@dataclass(frozen=True)
class Decision:
    """One decision of a capability that changed what Freqtrade would have done."""

    capability: str
    """e.g. ``"dynamic_risk"`` (:class:`~freqtrade_posmgmt.registry.Capability`)"""
    kind: str
    """e.g. ``"resize"`` (:class:`~freqtrade_posmgmt.registry.DecisionKind`)"""
    reason: str
    stake_not_deployed: float
    """Stake currency the decision kept out of the market (proposed minus placed)."""
    pair: str
    candle: datetime
