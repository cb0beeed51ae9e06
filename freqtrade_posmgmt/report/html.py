"""
``--html``: one self-contained page (plotly.js inline), rendered from an :class:`Analysis`, in
the story's chapters (``<section id=...>`` in :data:`~.analysis.CHAPTERS` order).

Colours speak of roles, not of name order: a strategy without position management is always
the same neutral grey, a managed one always an accent (:func:`colours`), the same in every plot
and named in the legend at the top. Each strategy's trades get their own panel, so none hides
another's; winners are filled dots, losers crosses, both in the legend. Plot toolbars are off
(double-click resets a zoom), so none sits over a title.
"""

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from freqtrade_posmgmt.report.loading import ReportError, write_text

BASELINE_GREYS = ("#868e96", "#495057", "#ced4da")
"""Strategies without position management: neutral, the first one always this grey."""
ACCENTS = ("#e8590c", "#1971c2", "#2f9e44", "#9c36b5", "#c2255c", "#0c8599")
"""Strategies with position management (and any strategy when none is known to have it)."""
LOSS_COLOUR = "#c92a2a"
PLOT_CONFIG = {"responsive": True, "displayModeBar": False}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.3em; } h2 { font-size: 1.15em; margin: 1.8em 0 0.3em;
       border-bottom: 2px solid #dee2e6; } h3 { font-size: 1em; margin: 1.2em 0 0.3em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; white-space: nowrap; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin: 0 0.3em 0 1em;
          vertical-align: middle; border-radius: 2px; }
.note { color: #555; font-size: 0.85em; max-width: 70em; }
.side { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }
td.text { text-align: left; }
"""


def managed_strategies(analysis: Analysis) -> set[str]:
    return {section.strategy for section in analysis.sections_of(CapabilityEffects)}


def colours(analysis: Analysis) -> dict[str, str]:
    """Each strategy's colour by its role, the same in every plot and every report."""
    managed = managed_strategies(analysis)
    if not managed:
        return {name: ACCENTS[i % len(ACCENTS)] for i, name in enumerate(analysis.strategies)}
    plain = [name for name in analysis.strategies if name not in managed]
    found = {name: BASELINE_GREYS[i % len(BASELINE_GREYS)] for i, name in enumerate(plain)}
    for i, name in enumerate(sorted(managed)):
        found[name] = ACCENTS[i % len(ACCENTS)]
    # The baseline first, in every legend.
    return found


def _role(analysis: Analysis, name: str) -> str:
    managed = managed_strategies(analysis)
    if not managed:
        return ""
    return " (position management on)" if name in managed else " (no position management)"


def _rgba(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _plotly() -> tuple[Any, Any]:
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as e:
        raise ReportError("--html needs plotly: pip install plotly") from e
    return go, make_subplots


def _cell(cell: str) -> str:
    # Numbers right, words (reasons, kinds) left.
    numeric = cell[:1] in "-+0123456789" or cell in ("inf", "yes", "no", "on", "off")
    return (
        f"<td>{html.escape(cell)}</td>" if numeric else f'<td class="text">{html.escape(cell)}</td>'
    )


def _rows(rows: list[list[str]]) -> str:
    return "".join("<tr>" + "".join(_cell(cell) for cell in row) + "</tr>" for row in rows)


def _table(headers: list[str] | tuple[str, ...], rows: list[list[str]], title: str) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in headers)
    body = _rows(rows)
    return f"<h3>{html.escape(title)}</h3><table><tr>{head}</tr>{body}</table>"


def _grouped_table(groups: Any, columns: tuple[str, ...], rows: list[list[str]], title: str) -> str:
    """A table whose columns repeat per group (e.g. per strategy), the group named once above."""
    top = "".join(
        f'<th colspan="{len(columns)}" style="text-align:center">{html.escape(str(group))}</th>'
        for group in groups
    )
    sub = "".join(f"<th>{html.escape(column)}</th>" for column in columns) * len(groups)
    body = _rows(rows)
    return (
        f"<h3>{html.escape(title)}</h3><table><tr><th></th>{top}</tr><tr><th>Pair</th>{sub}</tr>"
        f"{body}</table>"
    )


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _figure_html(figure: Any) -> str:
    # plotly.js is inline once, in the page's head.
    figure.update_layout(template="plotly_white", font={"size": 12})
    return figure.to_html(include_plotlyjs=False, full_html=False, config=PLOT_CONFIG)


def _comparison(section: StrategyComparison, analysis: Analysis) -> str:
    go, make_subplots = _plotly()
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.05
    )
    for name, colour in colours(analysis).items():
        equity, drawdown = section.equity.get(name), section.drawdown.get(name)
        if equity is None:
            continue
        label = f"{name}{_role(analysis, name)}"
        figure.add_trace(
            go.Scatter(
                x=equity.index, y=equity.values, mode="lines", line={"color": colour, "width": 2},
                name=label, legendgroup=name,
            ),
            row=1, col=1,
        )  # fmt: skip
        figure.add_trace(
            go.Scatter(
                x=drawdown.index, y=drawdown.values, mode="lines", fill="tozeroy",
                line={"color": colour, "width": 1.5}, fillcolor=_rgba(colour, 0.18),
                name=label, legendgroup=name, showlegend=False,
            ),
            row=2, col=1,
        )  # fmt: skip
    figure.update_yaxes(
        title_text=f"realised equity ({section.stake_currency})", tickformat=",.0f", row=1
    )
    figure.update_yaxes(title_text="drawdown below peak", tickformat=".0%", row=2)
    figure.update_layout(
        height=520,
        margin={"t": 10, "b": 30, "l": 80, "r": 20},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        hovermode="x unified",
    )
    rows = formatting.comparison_rows(section)
    table = _table(formatting.COMPARISON_COLUMNS, rows, formatting.comparison_title(section))
    curves = "<h3>Realised equity and drawdown (after each close)</h3>"
    return f"{table}{curves}{_figure_html(figure)}"


def _attribution(section: Attribution, analysis: Analysis) -> str:
    go, _ = _plotly()
    table = section.table
    helped = table["delta_profit_abs"] >= 0
    # The managed strategy's accent (the last colour: the baseline comes first).
    accent = list(colours(analysis).values())[-1]
    # The value goes in the bar's label: text on a short bar would sit over its neighbour.
    labels = [
        f"{name} {formatting.signed_money(delta)}"
        for name, delta in table["delta_profit_abs"].items()
    ]
    figure = go.Figure()
    for mask, colour, label in (
        (helped, accent, "added profit (all on minus this off)"),
        (~helped, LOSS_COLOUR, "cost profit (all on minus this off)"),
    ):
        figure.add_trace(
            go.Bar(
                x=table.loc[mask, "delta_profit_abs"],
                y=[text for text, keep in zip(labels, mask, strict=True) if keep],
                orientation="h", marker={"color": colour}, name=label,
            )
        )  # fmt: skip
    figure.update_layout(
        height=110 + 36 * len(table),
        margin={"t": 30, "b": 40, "l": 140, "r": 60},
        xaxis_title="contribution to profit",
        # The document's order, top to bottom, whichever trace a bar is in.
        yaxis={"categoryorder": "array", "categoryarray": labels[::-1]},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        barmode="relative",
    )
    table = _table(
        formatting.ATTRIBUTION_COLUMNS,
        formatting.attribution_rows(section),
        formatting.ATTRIBUTION_TITLE,
    )
    notes = "".join(_note(note) for note in formatting.attribution_notes(section))
    return (
        f'<div class="side"><div>{table}</div><div style="flex:1;min-width:380px">'
        f"<h3>Contribution per capability</h3>{_figure_html(figure)}</div></div>{notes}"
    )


def _effects(section: CapabilityEffects, analysis: Analysis) -> str:
    rows = formatting.effect_rows(section)
    parts = [
        _table(formatting.EFFECT_COLUMNS, rows, formatting.effects_title(section)),
        _note(formatting.effects_note(section)),
    ]
    if section.decisions_known and not section.reasons.empty:
        reasons = formatting.reason_rows(section)
        parts.append(
            _table(formatting.REASON_COLUMNS, reasons, "Entries refused and stakes resized")
        )
    return "".join(parts)


def _returns(section: Returns, analysis: Analysis) -> str:
    go, make_subplots = _plotly()
    figure = make_subplots(
        rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.12,
        subplot_titles=(
            f"Profit per month of close ({section.stake_currency})",
            f"Profit per pair ({section.stake_currency})",
        ),
    )  # fmt: skip
    palette = colours(analysis)
    for name in [name for name in palette if name in section.monthly.columns]:
        figure.add_trace(
            go.Bar(
                x=section.monthly.index.strftime("%Y-%m"), y=section.monthly[name],
                marker={"color": palette.get(name, ACCENTS[0])},
                name=f"{name}{_role(analysis, name)}", legendgroup=name,
            ),
            row=1, col=1,
        )  # fmt: skip
    profit = section.by_pair.xs("profit_abs", axis=1, level=1).fillna(0.0)
    for name in [name for name in palette if name in profit.columns]:
        figure.add_trace(
            go.Bar(
                y=profit.index, x=profit[name], orientation="h",
                marker={"color": palette.get(name, ACCENTS[0])},
                name=name, legendgroup=name, showlegend=False,
            ),
            row=1, col=2,
        )  # fmt: skip
    figure.update_yaxes(autorange="reversed", row=1, col=2)
    figure.update_yaxes(tickformat=",.0f", row=1, col=1)
    figure.update_xaxes(tickformat=",.0f", row=1, col=2)
    figure.update_layout(
        height=max(380, 120 + 26 * len(profit)),
        barmode="group",
        margin={"t": 40, "b": 40, "l": 70, "r": 20},
        legend={"orientation": "h", "y": -0.12},
    )
    pairs = _grouped_table(
        section.by_pair.columns.get_level_values(0).unique(),
        ("trades", "profit", "won"),
        formatting.returns_pair_rows(section),
        "Per pair (best total first); won: share of trades with a profit after fees",
    )
    months = _table(
        formatting.returns_month_columns(section),
        formatting.returns_month_rows(section),
        "Per month of close",
    )
    return f'{_figure_html(figure)}<div class="side"><div>{pairs}</div><div>{months}</div></div>'


def _trades(section: TradeExcursions, analysis: Analysis) -> str:
    go, make_subplots = _plotly()
    trades = section.trades
    names = list(colours(analysis))
    titles = []
    for name in names:
        titles += [
            f"{name}: worst excursion (|MAE|) vs result",
            f"{name}: best excursion (MFE) vs result",
        ]
    figure = make_subplots(
        rows=len(names), cols=2, subplot_titles=titles, vertical_spacing=0.28 / len(names),
        horizontal_spacing=0.08,
    )  # fmt: skip
    hover = (
        trades["pair"]
        + " "
        + trades["open_date"].dt.strftime("%Y-%m-%d %H:%M")
        + " "
        + trades["exit_reason"].astype(str)
    )
    stops = {s.strategy: s.stop for s in analysis.sections_of(ExitSuggestions)}
    for row, (name, colour) in enumerate(colours(analysis).items(), start=1):
        mine = trades["strategy"] == name
        for outcome, mask, marker in (
            ("winners", mine & (trades["pnl"] > 0), {"symbol": "circle", "size": 6}),
            ("losers", mine & ~(trades["pnl"] > 0), {"symbol": "x-thin-open", "size": 7,
                                                     "line": {"width": 1.5, "color": colour}}),
        ):  # fmt: skip
            group = f"{name} {outcome}"
            for column, col in (("position_mae", 1), ("position_mfe", 2)):
                figure.add_trace(
                    go.Scattergl(
                        x=trades.loc[mask, column].abs(), y=trades.loc[mask, "pnl"],
                        mode="markers", marker={"color": colour, "opacity": 0.55, **marker},
                        name=f"{group} ({'dots' if outcome == 'winners' else 'crosses'})",
                        legendgroup=group, showlegend=col == 1, text=hover[mask],
                        hovertemplate="%{text}<br>excursion %{x:.2%}<br>result %{y:.2%}",
                    ),
                    row=row, col=col,
                )  # fmt: skip
        stop = stops.get(name)
        if stop is not None:
            figure.add_vline(
                x=stop.level, line_dash="dash", line_color="#222", row=row, col=1,
                annotation_text=f"stop keeping 90% of winners: {formatting.pct(stop.level)}",
                annotation_position="top right",
            )  # fmt: skip
        figure.update_xaxes(title_text="|MAE|", tickformat=".1%", row=row, col=1)
        figure.update_xaxes(title_text="MFE", tickformat=".1%", row=row, col=2)
        figure.update_yaxes(title_text="result (pnl)", tickformat=".1%", row=row)
    figure.update_layout(
        height=120 + 360 * len(names),
        margin={"t": 40, "b": 40, "l": 70, "r": 20},
        legend={"orientation": "h", "yanchor": "bottom", "x": 0, "y": 1.03},
    )
    live = (
        _table(
            formatting.LIVE_EXCURSION_COLUMNS,
            formatting.live_excursion_rows(trades),
            formatting.LIVE_EXCURSION_TITLE,
        )
        if formatting.has_live_excursions(trades)
        else ""
    )
    return (
        f"<h3>Excursions of {len(trades)} trades (position excursions), one row per strategy"
        "</h3>"
        + _note(
            "MAE vs result (Sweeney): the winners' worst excursion sets the stop; "
            "MFE vs result: what the exits left on the table."
        )
        + _figure_html(figure)
        + live
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
                x=edge.index, y=edge["edge_ratio"], mode="lines+markers",
                line={"color": colour}, name=f"{name}{_role(analysis, name)}",
            )
        )  # fmt: skip
    figure.add_hline(y=1.0, line_dash="dot", line_color="#888")
    figure.update_layout(
        height=360,
        margin={"t": 10, "b": 40, "l": 70, "r": 20},
        xaxis_title=f"n ({analysis.timeframe} candles after entry)",
        yaxis_title="e(n)",
        legend={"orientation": "h", "y": -0.2},
    )
    title = f"Edge ratio e(n), n in {analysis.timeframe} candles (above the dotted 1: an edge)"
    return f"<h3>{html.escape(title)}</h3>{_figure_html(figure)}"


def _exits(section: ExitSuggestions, analysis: Analysis) -> str:
    # The unit is in the page's introduction; the strategies' tables sit side by side.
    title = f"{section.strategy}: exits its excursions suggest"
    table = _table(formatting.EXIT_COLUMNS, formatting.exit_rows(section), title)
    return "<div>" + table + "</div>"


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


def html_page(analysis: Analysis) -> str:
    """The whole page: the title and legend, then each chapter's sections, in order."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as e:
        raise ReportError("--html needs plotly: pip install plotly") from e
    chapters = []
    for number, (key, title, sections) in enumerate(analysis.chapters(), start=1):
        parts = [RENDERERS[type(section)](section, analysis) for section in sections]
        exits = [part for part, section in zip(parts, sections, strict=True)
                 if isinstance(section, ExitSuggestions)]  # fmt: skip
        others = [part for part in parts if part not in exits]
        # The strategies' exit suggestions side by side, after the rest of the chapter.
        side = f'<div class="side">{"".join(exits)}</div>' if exits else ""
        body = "\n".join(others) + side
        chapters.append(
            f'<section id="{key}"><h2>{number}. {html.escape(title)}</h2>{body}</section>'
        )
    if analysis.sections_of(ExitSuggestions):
        chapters.append(_note(formatting.EXITS_NOTE))
    legend = "".join(
        f'<span class="swatch" style="background:{colour}"></span>'
        f"{html.escape(name + _role(analysis, name))}"
        for name, colour in colours(analysis).items()
    )
    title = formatting.report_title(analysis)
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(formatting.report_intro(analysis))}</p><p>Strategies:{legend}</p>"
        + "\n".join(chapters)
        + "</body></html>"
    )


def write_html(analysis: Analysis, path: Path) -> None:
    """Write :func:`html_page` to ``path``."""
    write_text(path, html_page(analysis))
