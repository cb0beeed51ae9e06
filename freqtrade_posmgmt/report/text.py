"""The report in the terminal (rich tables), rendered from an :class:`Analysis`."""

from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from freqtrade_posmgmt.report import formatting
from freqtrade_posmgmt.report.analysis import (
    Analysis,
    CapabilityEffects,
    EdgeRatios,
    ExitSuggestions,
    MetricsTable,
    StrategyComparison,
    TradeExcursions,
)


def _trades(section: TradeExcursions, analysis: Analysis, console: Console) -> None:
    trades = section.trades
    console.print(
        f"[bold]MFE/MAE analysis[/] of {analysis.result_file.name}: {len(trades)} trades, "
        f"{trades['pair'].nunique()} pairs, {analysis.timeframe} candles. "
        f"Unit: {analysis.unit}."
    )


def _metrics(section: MetricsTable, analysis: Analysis, console: Console) -> None:
    if section.table.empty:
        return
    table = Table(title=section.title, title_justify="left")
    table.add_column(section.label)
    for header, _ in formatting.METRIC_COLUMNS:
        table.add_column(header, justify="right")
    for row in formatting.metric_rows(section.table):
        table.add_row(*row)
    console.print(table)


def _edge(section: EdgeRatios, analysis: Analysis, console: Console) -> None:
    table = Table(title=formatting.edge_title(analysis.timeframe), title_justify="left")
    table.add_column("Strategy")
    for bars in section.shown:
        table.add_column(f"e({bars})", justify="right")
    for name, edge in section.by_strategy.items():
        table.add_row(
            name, *(formatting.num(edge.loc[bars, "edge_ratio"]) for bars in section.shown)
        )
    console.print(table)


def _exits(section: ExitSuggestions, analysis: Analysis, console: Console) -> None:
    table = Table(title=formatting.exits_title(section, analysis.unit), title_justify="left")
    for column in formatting.EXIT_COLUMNS:
        table.add_column(column, justify="left" if column == "Exit" else "right")
    for row in formatting.exit_rows(section):
        table.add_row(*row)
    console.print(table)


def _rich_table(title: str, columns: tuple[str, ...], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def _comparison(section: StrategyComparison, analysis: Analysis, console: Console) -> None:
    rows = formatting.comparison_rows(section)
    console.print(
        _rich_table(formatting.comparison_title(section), formatting.COMPARISON_COLUMNS, rows)
    )


def _effects(section: CapabilityEffects, analysis: Analysis, console: Console) -> None:
    rows = formatting.effect_rows(section)
    console.print(_rich_table(formatting.effects_title(section), formatting.EFFECT_COLUMNS, rows))
    if not section.reasons.empty:
        reasons = formatting.reason_rows(section)
        console.print(
            _rich_table("Entries refused and stakes resized", formatting.REASON_COLUMNS, reasons)
        )


RENDERERS: dict[type, Callable] = {
    TradeExcursions: _trades,
    StrategyComparison: _comparison,
    CapabilityEffects: _effects,
    MetricsTable: _metrics,
    EdgeRatios: _edge,
    ExitSuggestions: _exits,
}


def print_report(analysis: Analysis, console: Console) -> None:
    """Print every section, in order, then what the exit suggestions are worth."""
    for section in analysis.sections:
        RENDERERS[type(section)](section, analysis, console)
    if analysis.sections_of(ExitSuggestions):
        console.print(formatting.EXITS_NOTE)
