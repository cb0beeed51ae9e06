"""The attribution as a terminal table (rich), rendered from :func:`.runs.attribute`'s dict."""

import math
from typing import Any

from rich.console import Console
from rich.table import Table

COLUMNS = (
    "Switched off",
    "Trades",
    "Profit",
    "Profit %",
    "Max DD",
    "Calmar",
    "Contribution",
    "to max DD",
    "Share",
)
NOTE = (
    "Contribution: all on minus that capability off, to profit and to the max drawdown (DD, "
    "percentage points); share: of the gain over the plain strategy. Contributions need not add "
    "up: capabilities interact."
)


def _money(value: float, sign: str = "") -> str:
    return f"{value:{sign},.2f}"


def _share(value: float) -> str:
    return f"{value:.0%}" if round(value * 100) else "0%"


def _pct(value: float) -> str:
    return f"{value:.2%}"


def _num(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else str(value)


def _metrics(metrics: dict[str, Any]) -> list[str]:
    return [
        str(metrics["trades"]),
        _money(metrics["profit_abs"]),
        _pct(metrics["profit_ratio"]),
        _pct(metrics["max_drawdown"]),
        _num(metrics["calmar"]),
    ]


def rows(attribution: dict[str, Any]) -> list[list[str]]:
    """
    One row per run: nothing off (all on), each capability off with its contribution, all off
    (the plain strategy, when there is one), a capability not run with dashes. The share
    of the gain (all on minus baseline) is shown when there is a baseline and a gain.
    """
    all_on = attribution["all_on"]
    baseline = attribution.get("baseline")
    gain = all_on["profit_abs"] - baseline["profit_abs"] if baseline else 0.0
    table = [["nothing", *_metrics(all_on), "", "", ""]]
    for capability in attribution["capabilities"]:
        delta = capability["delta_profit_abs"]
        table.append(
            [
                capability["name"],
                *_metrics(capability["off"]),
                _money(delta, "+"),
                f"{capability['delta_max_drawdown'] * 100:+.2f}",
                _share(delta / gain) if gain else "-",
            ]
        )
    for name in attribution["not_run"]:
        table.append([name, *["-"] * (len(COLUMNS) - 1)])
    if baseline:
        table.append([f"all: {baseline['strategy']}", *_metrics(baseline), "", "", ""])
    return table


def title(attribution: dict[str, Any]) -> str:
    span = f", {attribution['timerange']}" if attribution["timerange"] else ""
    return (
        f"What each capability contributed to {attribution['strategy']}{span} "
        f"(profits in {attribution['stake_currency']})"
    )


def print_attribution(attribution: dict[str, Any], console: Console) -> None:
    """Print the attribution table and what it means."""
    table = Table(title=title(attribution), title_justify="left")
    for i, column in enumerate(COLUMNS):
        table.add_column(column, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows(attribution):
        table.add_row(*row)
    console.print(table)
    for name, why in attribution["not_run"].items():
        console.print(f"{name}: not run, it {why}.")
    console.print(NOTE)
