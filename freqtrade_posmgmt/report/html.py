"""
``--html``: one self-contained page (plotly.js inline), rendered from an :class:`Analysis`.

Each strategy has its own colour in every plot; winners are filled, losers hatched or crossed.
"""

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from freqtrade_posmgmt.report.loading import ReportError, write_text

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
HISTOGRAM_BINS = 30
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.05em; margin: 1.4em 0 0.4em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; }
"""


def colours(analysis: Analysis) -> dict[str, str]:
    """Each strategy's colour, the same in every plot."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(analysis.strategies)}


def _plotly() -> tuple[Any, Any]:
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as e:
        raise ReportError("--html needs plotly: pip install plotly") from e
    return go, make_subplots


def _table(headers: list[str] | tuple[str, ...], rows: list[list[str]], title: str) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<h2>{html.escape(title)}</h2><table><tr>{head}</tr>{body}</table>"


def _figure_html(figure: Any) -> str:
    # plotly.js is inline once, in the page's head.
    return figure.to_html(include_plotlyjs=False, full_html=False, config={"responsive": True})


def _trades(section: TradeExcursions, analysis: Analysis) -> str:
    go, make_subplots = _plotly()
    trades = section.trades
    figure = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=(
            "MAE vs result (Sweeney): winners' MAE sets the stop",
            "MFE vs result: what the exits left on the table",
            "MFE distribution",
            "MAE distribution",
        ),
        vertical_spacing=0.12,
        horizontal_spacing=0.07,
    )
    hover = (
        trades["strategy"]
        + " "
        + trades["pair"]
        + " "
        + trades["open_date"].dt.strftime("%Y-%m-%d %H:%M")
        + " "
        + trades["exit_reason"].astype(str)
    )
    # Shared bins across strategies and outcomes, so bars line up; the last bin ends past the
    # largest value, which a bin edge at the maximum would leave out.
    bins = {}
    for column in ("position_mfe", "position_mae"):
        size = trades[column].abs().max() / HISTOGRAM_BINS or 1.0
        bins[column] = {"start": 0.0, "end": trades[column].abs().max() + size, "size": size}
    for name, colour in colours(analysis).items():
        mine = trades["strategy"] == name
        for outcome, mask in (
            ("winners", mine & (trades["pnl"] > 0)),
            ("losers", mine & ~(trades["pnl"] > 0)),
        ):
            group = f"{name} {outcome}"
            won = outcome == "winners"
            for column, col in (("position_mae", 1), ("position_mfe", 2)):
                figure.add_trace(
                    go.Scattergl(
                        x=trades.loc[mask, column].abs(),
                        y=trades.loc[mask, "pnl"],
                        mode="markers",
                        marker={
                            "color": colour,
                            "size": 6 if won else 5,
                            "opacity": 0.6,
                            "symbol": "circle" if won else "x",
                        },
                        name=group,
                        legendgroup=group,
                        showlegend=col == 1,
                        text=hover[mask],
                    ),
                    row=1,
                    col=col,
                )
            for column, col in (("position_mfe", 1), ("position_mae", 2)):
                figure.add_trace(
                    go.Histogram(
                        x=trades.loc[mask, column].abs(),
                        xbins=bins[column],
                        name=group,
                        legendgroup=group,
                        showlegend=False,
                        marker={
                            "color": colour,
                            "pattern": {"shape": "" if won else "/", "fgcolor": "#fff"},
                        },
                        opacity=0.8,
                    ),
                    row=2,
                    col=col,
                )
    # Each strategy's stop line gets its own corner for its label, so that labels do not overlap.
    corners = ("bottom right", "top right", "bottom left", "top left")
    palette = colours(analysis)
    for index, exits in enumerate(analysis.sections_of(ExitSuggestions)):
        if exits.stop is not None:
            figure.add_vline(
                x=exits.stop.level,
                line_dash="dash",
                line_color=palette[exits.strategy],
                row=1,
                col=1,
                annotation_text=f"{exits.strategy}: stop keeping 90% of winners",
                annotation_position=corners[index % len(corners)],
            )
    for row, col, title in ((1, 1, "|MAE|"), (1, 2, "MFE"), (2, 1, "MFE"), (2, 2, "|MAE|")):
        figure.update_xaxes(title_text=title, tickformat=".1%", row=row, col=col)
    for col in (1, 2):
        figure.update_yaxes(title_text="result (pnl)", tickformat=".1%", row=1, col=col)
        figure.update_yaxes(title_text="trades", row=2, col=col)
    figure.update_layout(
        height=820,
        # Side by side: each strategy's winners and losers in a bin, none hidden behind another.
        barmode="group",
        bargap=0.15,
        template="plotly_white",
        margin={"t": 40, "b": 40, "l": 60, "r": 20},
        legend={"orientation": "h", "y": -0.08},
    )
    return (
        f"<h2>Excursions of {len(trades)} trades (position excursions)</h2>{_figure_html(figure)}"
    )


def _metrics(section: MetricsTable, analysis: Analysis) -> str:
    if section.table.empty:
        return ""
    headers = [section.label, *(header for header, _ in formatting.METRIC_COLUMNS)]
    return _table(headers, formatting.metric_rows(section.table), section.title)


def _edge(section: EdgeRatios, analysis: Analysis) -> str:
    go, _ = _plotly()
    figure = go.Figure()
    for name, colour in colours(analysis).items():
        edge = section.by_strategy[name]
        figure.add_trace(
            go.Scatter(
                x=edge.index,
                y=edge["edge_ratio"],
                mode="lines+markers",
                line={"color": colour},
                name=name,
            )
        )
    figure.add_hline(y=1.0, line_dash="dot", line_color="#888")
    figure.update_layout(
        height=380,
        template="plotly_white",
        margin={"t": 20, "b": 40, "l": 60, "r": 20},
        xaxis_title=f"n ({analysis.timeframe} candles after entry)",
        yaxis_title="e(n)",
    )
    title = f"Edge ratio e(n), n in {analysis.timeframe} candles"
    return f"<h2>{html.escape(title)}</h2>{_figure_html(figure)}"


def _exits(section: ExitSuggestions, analysis: Analysis) -> str:
    title = formatting.exits_title(section, analysis.unit)
    return _table(formatting.EXIT_COLUMNS, formatting.exit_rows(section), title)


def _comparison(section: StrategyComparison, analysis: Analysis) -> str:
    go, _ = _plotly()
    figure = go.Figure()
    for name, colour in colours(analysis).items():
        curve = section.equity.get(name)
        if curve is not None:
            figure.add_trace(
                go.Scatter(
                    x=curve.index, y=curve.values, mode="lines", line={"color": colour}, name=name
                )
            )
    figure.update_layout(
        height=360,
        template="plotly_white",
        margin={"t": 20, "b": 40, "l": 60, "r": 20},
        yaxis_title=f"realised equity ({section.stake_currency})",
    )
    rows = formatting.comparison_rows(section)
    table = _table(formatting.COMPARISON_COLUMNS, rows, formatting.comparison_title(section))
    return f"{table}<h2>Realised equity</h2>{_figure_html(figure)}"


def _effects(section: CapabilityEffects, analysis: Analysis) -> str:
    rows = formatting.effect_rows(section)
    parts = [_table(formatting.EFFECT_COLUMNS, rows, formatting.effects_title(section))]
    if not section.reasons.empty:
        reasons = formatting.reason_rows(section)
        parts.append(
            _table(formatting.REASON_COLUMNS, reasons, "Entries refused and stakes resized")
        )
    return "".join(parts)


RENDERERS: dict[type, Callable] = {
    TradeExcursions: _trades,
    StrategyComparison: _comparison,
    CapabilityEffects: _effects,
    MetricsTable: _metrics,
    EdgeRatios: _edge,
    ExitSuggestions: _exits,
}


def html_page(analysis: Analysis) -> str:
    """The whole page: every section, in order."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as e:
        raise ReportError("--html needs plotly: pip install plotly") from e
    body = "\n".join(RENDERERS[type(section)](section, analysis) for section in analysis.sections)
    legend = " ".join(
        f'<span class="swatch" style="background:{colour}"></span>{html.escape(name)}'
        for name, colour in colours(analysis).items()
    )
    title = f"MFE/MAE analysis of {analysis.result_file.name}"
    note = html.escape(formatting.EXITS_NOTE) if analysis.sections_of(ExitSuggestions) else ""
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{analysis.timeframe} candles. Unit: {html.escape(analysis.unit)}. {legend}</p>"
        f"{body}<p>{note}</p></body></html>"
    )


def write_html(analysis: Analysis, path: Path) -> None:
    """Write :func:`html_page` to ``path``."""
    write_text(path, html_page(analysis))
