"""
Walk-forward over lab variants: K folds, each choosing the in-sample best and showing its
out-of-sample result, and how stable each chosen parameter is across folds. Framework-free.
"""

import dataclasses
import html
import statistics
from typing import Any

import numpy as np

from freqtrade_posmgmt.lab import kernel
from freqtrade_posmgmt.lab.runner import run_metrics

SLICED = (
    "times",
    "opens",
    "highs",
    "lows",
    "closes",
    "valid",
    "enter_long",
    "exit_long",
    "enter_short",
    "exit_short",
    "leverage_long",
    "leverage_short",
)


class _Slice:
    """A LabData restricted to candles [start, stop): a backtest of that span on the same
    signals (the last candle of the span forces the exits)."""

    def __init__(self, data: Any, start: int, stop: int) -> None:
        self._data = data
        self._start, self._stop = start, stop
        for name in SLICED:
            value = getattr(data, name)
            setattr(self, name, value[start:stop] if value.ndim == 1 else value[:, start:stop])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._data, name)

    def atr(self, period: int) -> np.ndarray:
        return self._data.atr(period)[:, self._start : self._stop]

    @property
    def years(self) -> float:
        return float(self.times[-1] - self.times[0]) / (365.25 * 86400e6)


@dataclasses.dataclass
class Fold:
    in_sample: tuple[int, int]
    out_of_sample: tuple[int, int]
    best: int
    in_sample_metrics: np.ndarray
    out_of_sample_metrics: np.ndarray


def varied_fields(variants: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(section, field) of every value that differs between the variants."""
    fields = []
    for section in ("strategy", *variants[0]["posmgmt"]):
        values = [
            v["strategy"] if section == "strategy" else (v["posmgmt"].get(section) or {})
            for v in variants
        ]
        names = sorted({name for value in values for name in value})
        for name in names:
            if len({repr(value.get(name)) for value in values}) > 1:
                fields.append((section, name))
    return fields


def field_value(variant: dict[str, Any], section: str, name: str) -> Any:
    values = variant["strategy"] if section == "strategy" else variant["posmgmt"].get(section)
    return None if values is None else values.get(name)


def walk_forward(
    data: Any, variants: list[dict[str, Any]], folds: int, score: int = kernel.M_PROFIT_ABS
) -> list[Fold]:
    """
    Cut the span into ``folds + 1`` equal windows; fold i chooses the best variant (by
    ``score``) on window i and runs it on window i + 1.
    """
    edges = np.linspace(0, len(data.times), folds + 2).astype(int)
    result = []
    for i in range(folds):
        ins = _Slice(data, edges[i], edges[i + 1])
        outs = _Slice(data, edges[i + 1], edges[i + 2])
        metrics = run_metrics(ins, variants)
        best = int(np.argmax(metrics[:, score]))
        oos = run_metrics(outs, [variants[best]])[0]
        result.append(
            Fold(
                (edges[i], edges[i + 1]),
                (edges[i + 1], edges[i + 2]),
                best,
                metrics[best],
                oos,
            )
        )
    return result


def stability(variants: list[dict[str, Any]], folds: list[Fold]) -> list[dict[str, Any]]:
    """Per varied field: the chosen value in each fold and how much it moved."""
    rows = []
    for section, name in varied_fields(variants):
        chosen = [field_value(variants[fold.best], section, name) for fold in folds]
        numbers = [v for v in chosen if isinstance(v, int | float) and not isinstance(v, bool)]
        spread = (
            statistics.pstdev(numbers) / abs(statistics.mean(numbers))
            if len(numbers) == len(chosen) and statistics.mean(numbers)
            else None
        )
        rows.append(
            {
                "field": f"{section}.{name}",
                "chosen": chosen,
                "distinct": len({repr(v) for v in chosen}),
                "relative_spread": spread,
            }
        )
    return rows


def html_page(title: str, fold_rows: list[dict[str, Any]], stable: list[dict[str, Any]]) -> str:
    """A self-contained page: in-sample vs out-of-sample profit per fold, and the tables."""
    import plotly.graph_objects as go

    labels = [row["fold"] for row in fold_rows]
    figure = go.Figure(
        [
            go.Bar(name="in-sample best", x=labels, y=[r["is_profit_pct"] for r in fold_rows]),
            go.Bar(name="out-of-sample", x=labels, y=[r["oos_profit_pct"] for r in fold_rows]),
        ]
    )
    figure.update_layout(title=title, yaxis_title="profit %", barmode="group")

    def table(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "<p>(none)</p>"
        head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>"
            for row in rows
        )
        return f"<table border=1 cellpadding=4><tr>{head}</tr>{body}</table>"

    return (
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
        + figure.to_html(full_html=False, include_plotlyjs=True)
        + "<h2>Folds</h2>"
        + table(fold_rows)
        + "<h2>Parameter stability</h2>"
        + table(stable)
        + "</body></html>"
    )
