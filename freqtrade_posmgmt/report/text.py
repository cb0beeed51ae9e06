"""The report in the terminal (rich tables), rendered from an :class:`Analysis`."""

from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from freqtrade_posmgmt.report import formatting
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


def _rich_table(title: str, columns: tuple[str, ...], rows: list[list[str]]) -> Table:
    """A table whose first column (strategy, pair, capability...) is never cut or wrapped:
    on a narrow terminal the numbers' headers wrap instead."""
    table = Table(title=title, title_justify="left")
    first = max((len(row[0]) for row in rows), default=0)
    table.add_column(columns[0], no_wrap=True, min_width=max(first, len(columns[0])))
    for column in columns[1:]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*row)
    return table


def _comparison(section: StrategyComparison, analysis: Analysis, console: Console) -> None:
    rows = formatting.comparison_rows(section)
    console.print(
        _rich_table(formatting.comparison_title(section), formatting.COMPARISON_COLUMNS, rows)
    )
    curves = formatting.curve_rows(section)
    title = f"Realised equity ({section.stake_currency}) and drawdown, first to last close"
    console.print(_rich_table(title, formatting.CURVE_COLUMNS, curves))


def _attribution(section: Attribution, analysis: Analysis, console: Console) -> None:
    rows = formatting.attribution_rows(section)
    console.print(_rich_table(formatting.ATTRIBUTION_TITLE, formatting.ATTRIBUTION_COLUMNS, rows))
    for note in formatting.attribution_notes(section):
        console.print(note)


def _effects(section: CapabilityEffects, analysis: Analysis, console: Console) -> None:
    rows = formatting.effect_rows(section)
    console.print(_rich_table(formatting.effects_title(section), formatting.EFFECT_COLUMNS, rows))
    console.print(formatting.effects_note(section))
    if section.decisions_known and not section.reasons.empty:
        reasons = formatting.reason_rows(section)
        console.print(
            _rich_table("Entries refused and stakes resized", formatting.REASON_COLUMNS, reasons)
        )


def _returns(section: Returns, analysis: Analysis, console: Console) -> None:
    console.print(
        _rich_table(
            "Per pair (best total first); won: share of trades with a profit after fees",
            formatting.returns_pair_columns(section),
            formatting.returns_pair_rows(section),
        )
    )
    console.print(
        _rich_table(
            "Per month of close",
            formatting.returns_month_columns(section),
            formatting.returns_month_rows(section),
        )
    )


def _trades(section: TradeExcursions, analysis: Analysis, console: Console) -> None:
    console.print(f"Excursions of {len(section.trades)} trades, in {analysis.unit}.")
    if formatting.has_live_excursions(section.trades):
        rows = formatting.live_excursion_rows(section.trades)
        console.print(
            _rich_table(formatting.LIVE_EXCURSION_TITLE, formatting.LIVE_EXCURSION_COLUMNS, rows)
        )


def _metrics(section: MetricsTable, analysis: Analysis, console: Console) -> None:
    if section.table.empty:
        return
    headers = (section.label, *(header for header, _ in formatting.METRIC_COLUMNS))
    console.print(_rich_table(section.title, headers, formatting.metric_rows(section.table)))


def _edge(section: EdgeRatios, analysis: Analysis, console: Console) -> None:
    headers = ("Strategy", *(f"e({bars})" for bars in section.shown))
    rows = [
        [name, *(formatting.num(edge.loc[bars, "edge_ratio"]) for bars in section.shown)]
        for name, edge in section.by_strategy.items()
    ]
    console.print(_rich_table(formatting.edge_title(analysis.timeframe), headers, rows))


def _exits(section: ExitSuggestions, analysis: Analysis, console: Console) -> None:
    title = formatting.exits_title(section, analysis.unit)
    console.print(_rich_table(title, formatting.EXIT_COLUMNS, formatting.exit_rows(section)))


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


def print_report(analysis: Analysis, console: Console) -> None:
    """Print the title, then every section in order under its chapter's heading, then what
    the exit suggestions are worth."""
    console.print(
        f"[bold]{formatting.report_title(analysis)}[/]: {formatting.report_intro(analysis)}"
    )
    for number, (_, title, sections) in enumerate(analysis.chapters(), start=1):
        console.rule(f"[bold]{number}. {title}", align="left")
        for section in sections:
            RENDERERS[type(section)](section, analysis, console)
    if analysis.sections_of(ExitSuggestions):
        console.print(formatting.EXITS_NOTE)
