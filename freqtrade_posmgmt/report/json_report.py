"""
``--json``: ``{"trades": [...], "summary": {...}}`` rendered from an :class:`Analysis`.

Times are ISO 8601 UTC, durations in seconds, NaN is null. The per-trade names are the ones the
README documents: ``mfe``/``mae`` (and ``_time``) are the price excursion, ``position_*`` the
position excursion.
"""

import json
import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_posmgmt.report.analysis import (
    Analysis,
    CapabilityEffects,
    EdgeRatios,
    ExitSuggestions,
    MetricsTable,
    StrategyComparison,
    TradeExcursions,
)
from freqtrade_posmgmt.report.loading import write_text

# (name in the JSON, column of the analysis' trades)
JSON_TRADE_COLUMNS = (
    ("strategy", "strategy"),
    ("pair", "pair"),
    ("open_date", "open_date"),
    ("close_date", "close_date"),
    ("is_short", "is_short"),
    ("exit_reason", "exit_reason"),
    ("enter_tag", "enter_tag"),
    ("leverage", "leverage"),
    ("fills", "fills"),
    ("open_rate", "open_rate"),
    ("close_rate", "close_rate"),
    ("mfe", "price_mfe"),
    ("mae", "price_mae"),
    ("mfe_time", "price_mfe_time"),
    ("mae_time", "price_mae_time"),
    ("pnl", "pnl"),
    ("profit_ratio", "profit_ratio"),
    ("position_mfe", "position_mfe"),
    ("position_mae", "position_mae"),
    ("position_mfe_time", "position_mfe_time"),
    ("position_mae_time", "position_mae_time"),
    ("position_mfe_abs", "position_mfe_abs"),
    ("position_mae_abs", "position_mae_abs"),
    ("peak_stake", "peak_stake"),
    ("pnl_abs", "pnl_abs"),
    ("capture_ratio", "capture_ratio"),
    ("end_trade_drawdown", "end_trade_drawdown"),
    ("entry_efficiency", "entry_efficiency"),
    ("exit_efficiency", "exit_efficiency"),
    ("total_efficiency", "total_efficiency"),
    ("time_to_mfe", "time_to_mfe"),
    ("partial_exit_tags", "partial_exit_tags"),
)


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: ISO 8601 UTC times, durations in seconds, NaN as null."""
    durations = frame.select_dtypes("timedelta").columns
    frame = frame.assign(**{column: frame[column].dt.total_seconds() for column in durations})
    return json.loads(
        frame.to_json(orient="records", date_format="iso", date_unit="s", double_precision=15)
    )


def _grouped(summary: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return dict(zip(summary.index.astype(str), _records(summary), strict=True))


def _trades(section: TradeExcursions, document: dict[str, Any]) -> None:
    columns = [column for _, column in JSON_TRADE_COLUMNS]
    renamed = section.trades[columns].set_axis([name for name, _ in JSON_TRADE_COLUMNS], axis=1)
    document["trades"] = _records(renamed)
    document["summary"]["trades"] = len(renamed)


def _metrics(section: MetricsTable, document: dict[str, Any]) -> None:
    strategies = document["summary"]["strategies"]
    if section.strategy is None:
        # The table across strategies: one row, "metrics", per strategy.
        for name, row in zip(section.table.index, _records(section.table), strict=True):
            strategies.setdefault(str(name), {})["metrics"] = row
    else:
        strategies.setdefault(section.strategy, {})[section.key] = _grouped(section.table)


def _edge(section: EdgeRatios, document: dict[str, Any]) -> None:
    for name, edge in section.by_strategy.items():
        document["summary"]["strategies"].setdefault(name, {})["edge_ratio"] = _records(
            edge.reset_index()
        )


def _exits(section: ExitSuggestions, document: dict[str, Any]) -> None:
    strategy = document["summary"]["strategies"].setdefault(section.strategy, {})
    strategy["recommendations"] = [
        {key: _json_value(value) for key, value in asdict(item).items()}
        for item in section.recommendations
    ]
    strategy["optimal_exit"] = {
        key: _json_value(value) for key, value in asdict(section.optimal).items()
    }


def _comparison(section: StrategyComparison, document: dict[str, Any]) -> None:
    document["comparison"] = {
        "baseline": section.baseline,
        "strategies": {
            name: {key: _json_value(value) for key, value in row.items()}
            for name, row in section.table.iterrows()
        },
    }


def _effects(section: CapabilityEffects, document: dict[str, Any]) -> None:
    document.setdefault("position_management", {})[section.strategy] = {
        "capabilities": {
            capability: {key: _json_value(value) for key, value in row.items()}
            for capability, row in section.table.iterrows()
        },
        "decisions": _records(section.reasons),
    }


RENDERERS: dict[type, Callable] = {
    TradeExcursions: _trades,
    StrategyComparison: _comparison,
    CapabilityEffects: _effects,
    MetricsTable: _metrics,
    EdgeRatios: _edge,
    ExitSuggestions: _exits,
}


def json_document(analysis: Analysis) -> dict[str, Any]:
    """The whole document: ``trades`` and ``summary`` (per strategy: ``metrics``,
    ``by_exit_reason``, ``by_partial_exit_tag``, ``edge_ratio``, ``recommendations``,
    ``optimal_exit``)."""
    document: dict[str, Any] = {
        "trades": [],
        "summary": {
            "result_file": str(analysis.result_file),
            "timeframe": analysis.timeframe,
            "unit": analysis.unit,
            "trades": 0,
            "strategies": {},
        },
    }
    for section in analysis.sections:
        RENDERERS[type(section)](section, document)
    return document


def write_json(analysis: Analysis, path: Path) -> None:
    """Write :func:`json_document` to ``path``."""
    write_text(path, json.dumps(json_document(analysis), indent=1, allow_nan=False))
