"""
``--json``: the report's sections as one document, its keys in the story's order:
``comparison`` (with ``equity`` and ``drawdown`` curves), ``attribution`` (when given),
``position_management``, ``returns``, then ``trades`` and ``summary`` (the excursions).

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
    Attribution,
    CapabilityEffects,
    EdgeRatios,
    ExitSuggestions,
    MetricsTable,
    Returns,
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
# A bot's database adds the excursions recorded live (see ``analysis.LIVE_EXCURSION_KEYS``).
JSON_LIVE_COLUMNS = (
    ("live_mfe", "live_mfe"),
    ("live_mae", "live_mae"),
    ("live_mfe_time", "live_mfe_time"),
    ("live_mae_time", "live_mae_time"),
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


def _curve(series: pd.Series) -> list[list[Any]]:
    """``[[ISO 8601 UTC time, value], ...]``."""
    return [
        [time.isoformat().replace("+00:00", "Z"), _json_value(value)]
        for time, value in series.items()
    ]


def _trades(section: TradeExcursions, document: dict[str, Any]) -> None:
    shown = [
        *JSON_TRADE_COLUMNS,
        *(pair for pair in JSON_LIVE_COLUMNS if pair[1] in section.trades),
    ]
    columns = [column for _, column in shown]
    renamed = section.trades[columns].set_axis([name for name, _ in shown], axis=1)
    document["trades"] = _records(renamed)
    document["summary"] = {**document.pop("summary"), "trades": len(renamed)}


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
        "stake_currency": section.stake_currency,
        "strategies": {
            name: {key: _json_value(value) for key, value in row.items()}
            for name, row in section.table.iterrows()
        },
        "equity": {name: _curve(curve) for name, curve in section.equity.items()},
        "drawdown": {name: _curve(curve) for name, curve in section.drawdown.items()},
    }


def _attribution(section: Attribution, document: dict[str, Any]) -> None:
    document["attribution"] = {
        "capabilities": [
            {
                "name": name,
                "off": {key: _json_value(row[key]) for key in section.all_on},
                "delta_profit_abs": _json_value(row["delta_profit_abs"]),
                "delta_max_drawdown": _json_value(row["delta_max_drawdown"]),
            }
            for name, row in section.table.iterrows()
        ],
        "all_on": {key: _json_value(value) for key, value in section.all_on.items()},
        "not_run": dict(section.not_run),
    }
    if section.baseline is not None:
        document["attribution"]["baseline"] = {
            "strategy": section.baseline_name,
            **{key: _json_value(value) for key, value in section.baseline.items()},
        }


def _returns(section: Returns, document: dict[str, Any]) -> None:
    by_pair: dict[str, dict[str, Any]] = {}
    for (name, metric), column in section.by_pair.items():
        for pair, value in column.items():
            if not pd.isna(section.by_pair.loc[pair, (name, "trades")]):
                by_pair.setdefault(name, {}).setdefault(str(pair), {})[metric] = _json_value(value)
    document["returns"] = {
        "stake_currency": section.stake_currency,
        "by_pair": by_pair,
        "monthly": {
            name: {month.strftime("%Y-%m"): _json_value(value) for month, value in column.items()}
            for name, column in section.monthly.items()
        },
    }


def _effects(section: CapabilityEffects, document: dict[str, Any]) -> None:
    document.setdefault("position_management", {})[section.strategy] = {
        "capabilities": {
            capability: {key: _json_value(value) for key, value in row.items()}
            for capability, row in section.table.iterrows()
        },
        "decisions": _records(section.reasons) if section.decisions_known else None,
        "decisions_recorded": section.decisions_known,
    }


RENDERERS: dict[type, Callable] = {
    StrategyComparison: _comparison,
    Attribution: _attribution,
    CapabilityEffects: _effects,
    Returns: _returns,
    TradeExcursions: _trades,
    MetricsTable: _metrics,
    EdgeRatios: _edge,
    ExitSuggestions: _exits,
}


def json_document(analysis: Analysis) -> dict[str, Any]:
    """The whole document, in the story's order (see the module docstring); ``summary`` holds
    per strategy ``metrics``, ``by_exit_reason``, ``by_partial_exit_tag``, ``edge_ratio``,
    ``recommendations`` and ``optimal_exit``."""
    # The summary's place is after the trades: _trades moves it there.
    document: dict[str, Any] = {
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
