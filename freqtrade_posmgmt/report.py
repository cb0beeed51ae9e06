"""
``freqtrade-posmgmt analyze``: MFE/MAE report of a Freqtrade backtest result.

Reads an exported backtest result (the latest in the backtest directory by default) and the
candles it was run on, located the way Freqtrade locates them (``--userdir``, ``-c/--config``,
``--datadir``). Prints per-strategy, per-exit-reason and per-partial-exit-tag tables, the edge
ratio of the entries and exit recommendations; ``--json`` and ``--html`` write the same for other
tools and for the eye.

Unit: ratios of the entry price (of the peak stake for trades with scale-ins or partial exits),
side-aware, before fees and without leverage; see :mod:`freqtrade_posmgmt.excursions`.
"""

import argparse
import json
import logging
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from freqtrade.configuration import Configuration
from freqtrade.data.btanalysis import (
    get_latest_backtest_filename,
    load_backtest_data,
    load_backtest_stats,
)
from freqtrade.data.history import load_pair_history
from freqtrade.enums import CandleType, RunMode
from freqtrade.exceptions import FreqtradeException
from rich.console import Console
from rich.table import Table

from freqtrade_posmgmt.excursions import (
    PairCandles,
    edge_ratio,
    trade_excursions,
    trailing_stop_expectancy,
)
from freqtrade_posmgmt.mfe_mae_analyzer import (
    PER_TRADE_METRICS,
    ExitRecommendation,
    MFEMAEAnalyzer,
    OptimalExitPoints,
)

PROG = "freqtrade-posmgmt analyze"
# Longest edge-ratio horizon, in candles of the backtest's timeframe, and the horizons shown.
EDGE_BARS = 48
EDGE_SHOWN = (1, 2, 4, 8, 12, 24, 48)
# Trailing distances replayed on the candles for the trailing recommendation.
TRAILING_DISTANCES = np.geomspace(0.0025, 0.25, 41)
RECOMMENDATION_ORDER = ("stop", "trailing", "target")
UNIT_NOTE = (
    "ratios of the entry price (of the peak stake after adds/partial exits), "
    "before fees and leverage"
)


class ReportError(Exception):
    """Bad input: reported as one line, with a non-zero exit status."""


@dataclass
class StrategyAnalysis:
    analyzer: MFEMAEAnalyzer
    edge: pd.DataFrame
    recommendations: list[ExitRecommendation]
    optimal: OptimalExitPoints


@dataclass
class Analysis:
    result_file: Path
    timeframe: str
    trades: pd.DataFrame
    """Every trade's excursions and metrics (all strategies)."""
    partial_tags: pd.DataFrame
    """One row per (trade, partial-exit tag), for the per-tag table."""
    strategies: dict[str, StrategyAnalysis]


DESCRIPTION = "MFE/MAE analysis of a Freqtrade backtest result."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The report's options, on its own parser or on the ``analyze`` subcommand's."""
    parser.add_argument(
        "result",
        nargs="?",
        type=Path,
        help="backtest result (.zip or .json) or a directory of results; "
        "default: the latest in the backtest directory",
    )
    parser.add_argument(
        "--html",
        nargs="?",
        const="",
        type=str,
        metavar="PATH",
        help="write an HTML report (plotly); without PATH, next to the result",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write excursions and summary")
    parser.add_argument(
        "--userdir",
        "--user-data-dir",
        dest="user_data_dir",
        type=Path,
        metavar="PATH",
        help="Freqtrade's user data directory (default: user_data)",
    )
    parser.add_argument(
        "-c",
        "--config",
        action="append",
        type=Path,
        metavar="PATH",
        help="Freqtrade config file(s) (default: <userdir>/config.json, else ./config.json)",
    )
    parser.add_argument(
        "-d",
        "--datadir",
        "--data-dir",
        dest="datadir",
        type=Path,
        metavar="PATH",
        help="candle data directory (default: the config's)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """
    Run the report.
    :param argv: Arguments after ``analyze``.
    :return: Exit status: 0, or 2 after printing one line on bad input.
    """
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """
    Run the report for parsed arguments (:func:`add_arguments`).
    :return: Exit status: 0, or 2 after printing one line on bad input.
    """
    # Piped output gets Freqtrade-report width instead of rich's 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 160)
    # Freqtrade's loaders log at INFO; the report is the output here.
    logging.disable(logging.INFO)
    try:
        config = resolve_config(args)
        result_file = locate_result(args.result, config)
        analysis = analyse_result(result_file, config)
        print_report(analysis, console)
        if args.json:
            write_json(analysis, args.json)
            console.print(f"Excursions and summary written to {args.json}")
        if args.html is not None:
            html = Path(args.html) if args.html else default_html_path(result_file)
            write_html(analysis, html)
            console.print(f"HTML report written to {html}")
    except ReportError as e:
        console.file.flush()
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    finally:
        logging.disable(logging.NOTSET)
    return 0


def default_html_path(result_file: Path) -> Path:
    return result_file.with_name(f"{result_file.stem}_mfe_mae.html")


def resolve_config(args: argparse.Namespace) -> dict[str, Any]:
    """
    Freqtrade's configuration for the given options: the config files (default, as Freqtrade:
    ``<userdir>/config.json``, else ``./config.json``), then ``--userdir`` and ``--datadir``.
    """
    files = args.config
    if not files:
        default = (args.user_data_dir or Path("user_data")) / "config.json"
        files = [path for path in (default, Path("config.json")) if path.is_file()][:1]
    if not files:
        raise ReportError(
            "no config found (user_data/config.json or ./config.json): pass -c CONFIG "
            "so the candle data can be located"
        )
    for path in files:
        if not path.is_file():
            raise ReportError(f"config {path} does not exist")
    options = {
        "config": [str(path) for path in files],
        "user_data_dir": str(args.user_data_dir) if args.user_data_dir else None,
        "datadir": str(args.datadir) if args.datadir else None,
    }
    try:
        return Configuration(
            {key: value for key, value in options.items() if value is not None}, RunMode.OTHER
        ).get_config()
    except (FreqtradeException, ValueError, OSError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReportError(f"config {', '.join(map(str, files))}: {first_line}") from e


def locate_result(result: Path | None, config: dict[str, Any]) -> Path:
    """The result file: as given, the latest in a given directory, or the latest in the
    backtest directory (``<userdir>/backtest_results``)."""
    directory = Path(config["exportdirectory"]) if result is None else result
    if result is not None and not result.exists():
        raise ReportError(f"backtest result {result} does not exist")
    if not directory.is_dir():
        if result is None:
            raise ReportError(f"no backtest results directory {directory}: run a backtest first")
        return result
    try:
        return directory / get_latest_backtest_filename(directory)
    except ValueError as e:
        raise ReportError(
            f"no backtest result in {directory}: run a backtest with --export trades "
            "or pass the result file"
        ) from e


def _load_strategy_trades(result_file: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    try:
        stats = load_backtest_stats(result_file)
        strategies = stats["strategy"]
        frames = []
        for name in strategies:
            trades = load_backtest_data(result_file, strategy=name)
            frames.append(trades.assign(strategy=name))
    except Exception as e:  # a corrupt file can fail anywhere in the loaders
        raise ReportError(
            f"{result_file} is not a readable Freqtrade backtest result ({type(e).__name__}: "
            f"{str(e).strip().splitlines()[0] if str(e).strip() else 'no detail'})"
        ) from e
    trades = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if trades.empty:
        raise ReportError(f"{result_file}: the backtest made no trades; nothing to analyse")
    return strategies, trades


def _fills(trades: pd.DataFrame) -> pd.DataFrame:
    """One row per filled order (from the exported orders; entry and exit if there are none)."""
    rows = []
    for trade_id, trade in trades.iterrows():
        orders = trade["orders"] if isinstance(trade["orders"], list) else []
        filled = [order for order in orders if order.get("order_filled_timestamp")]
        if not filled:
            filled = [
                {
                    "ft_is_entry": True,
                    "amount": trade["amount"],
                    "safe_price": trade["open_rate"],
                    "order_filled_timestamp": trade["open_timestamp"],
                },
                {
                    "ft_is_entry": False,
                    "amount": trade["amount"],
                    "safe_price": trade["close_rate"],
                    "order_filled_timestamp": trade["close_timestamp"],
                },
            ]
        for order in filled:
            rows.append(
                (
                    trade_id,
                    trade["pair"],
                    bool(trade["is_short"]),
                    order["order_filled_timestamp"],
                    bool(order["ft_is_entry"]),
                    float(order["amount"]),
                    float(order["safe_price"]),
                )
            )
    fills = pd.DataFrame(
        rows, columns=["trade_id", "pair", "is_short", "date", "is_entry", "amount", "price"]
    )
    fills["date"] = pd.to_datetime(fills["date"], unit="ms", utc=True)
    return fills


def _partial_tags(trades: pd.DataFrame) -> pd.Series:
    """Tags of each trade's partial exits (exit fills before the last fill)."""

    def tags(orders: Any) -> list[str]:
        if not isinstance(orders, list):
            return []
        filled = [order for order in orders if order.get("order_filled_timestamp")]
        return sorted(
            {
                order.get("ft_order_tag") or "(untagged)"
                for order in filled[:-1]
                if not order.get("ft_is_entry")
            }
        )

    return trades["orders"].map(tags)


def _candles(
    pairs: list[str], timeframe: str, config: dict[str, Any], trading_mode: str
) -> dict[str, PairCandles]:
    datadir = Path(config["datadir"])
    candle_type = CandleType.get_default(trading_mode)
    found = {}
    for pair in pairs:
        frame = load_pair_history(
            pair,
            timeframe,
            datadir,
            data_format=config.get("dataformat_ohlcv"),
            candle_type=candle_type,
        )
        if frame.empty:
            raise ReportError(
                f"pair {pair} has no {timeframe} {candle_type.value} candles in {datadir}: "
                "pass the --datadir the backtest used"
            )
        found[pair] = PairCandles(frame)
    return found


def _check_coverage(candles: dict[str, PairCandles], trades: pd.DataFrame) -> None:
    for pair, span in trades.groupby("pair")[["open_date", "close_date"]]:
        dates = candles[pair].dates
        first, last = span["open_date"].min(), span["close_date"].max()
        if first.value < dates[0] or last.value > dates[-1]:
            raise ReportError(
                f"pair {pair}: candles cover {pd.Timestamp(dates[0], tz='UTC')} .. "
                f"{pd.Timestamp(dates[-1], tz='UTC')} but its trades run {first} .. {last}"
            )


def analyse_result(result_file: Path, config: dict[str, Any]) -> Analysis:
    """Load a backtest result and its candles and compute everything the report shows."""
    strategies, raw = _load_strategy_trades(result_file)
    raw = raw[~raw["is_open"].astype(bool)].reset_index(drop=True)
    if raw.empty:
        raise ReportError(f"{result_file}: no closed trades; nothing to analyse")
    first = next(iter(strategies.values()))
    timeframe = first["timeframe"]
    # With a detail timeframe the fills sit inside the main candles: use the detail candles.
    fill_timeframe = first.get("timeframe_detail") or timeframe
    trading_mode = first.get("trading_mode", "spot")
    pairs = sorted(raw["pair"].unique())
    candles = _candles(pairs, fill_timeframe, config, trading_mode)
    _check_coverage(candles, raw)
    main_candles = (
        candles if fill_timeframe == timeframe else _candles(pairs, timeframe, config, trading_mode)
    )

    trades = pd.concat(
        [
            raw[["strategy", "exit_reason", "enter_tag", "profit_ratio", "leverage"]],
            trade_excursions(candles, _fills(raw)),
        ],
        axis=1,
    )
    analyzer = MFEMAEAnalyzer(position_view(trades))
    for column in PER_TRADE_METRICS:
        trades[column] = analyzer.trades[column].to_numpy()
    trades["partial_exit_tags"] = _partial_tags(raw)

    analyses = {}
    for name, group in analyzer.trades.groupby("strategy", sort=True):
        strategy = MFEMAEAnalyzer(group)
        optimal = strategy.identify_optimal_exit_points()
        trailing = trailing_stop_expectancy(candles, group, TRAILING_DISTANCES)
        best = trailing.idxmax()
        found = [
            *strategy.recommendations(),
            ExitRecommendation("trailing stop (replayed)", "trailing", best, trailing[best]),
        ]
        found.sort(key=lambda item: RECOMMENDATION_ORDER.index(item.kind))
        analyses[name] = StrategyAnalysis(
            strategy, edge_ratio(main_candles, group, EDGE_BARS), found, optimal
        )
    tags = trades["partial_exit_tags"].explode().dropna()
    partial = analyzer.trades.loc[tags.index].assign(partial_exit_tag=tags.to_numpy())
    return Analysis(result_file, timeframe, trades, partial, analyses)


def position_view(trades: pd.DataFrame) -> pd.DataFrame:
    """
    The analyzer's input: metrics judge the position's own money, so the position-aware
    excursion (for a single-entry trade the same as the price excursion).
    """
    return trades.assign(
        mfe=trades["position_mfe"],
        mae=trades["position_mae"],
        mfe_time=trades["position_mfe_time"],
        mae_time=trades["position_mae_time"],
    )


# --- output --------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2%}"


def _num(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "inf" if math.isinf(value) else f"{value:.2f}"


def _duration(value: pd.Timedelta) -> str:
    if pd.isna(value):
        return "-"
    hours = value / pd.Timedelta(hours=1)
    return f"{hours:.0f} h" if hours < 72 else f"{hours / 24:.1f} d"


METRIC_COLUMNS = (
    ("Trades", lambda row: str(int(row["trades"]))),
    ("Win %", lambda row: _pct(row["win_rate"])),
    ("MFE avg", lambda row: _pct(row["mean_mfe"])),
    ("MFE med", lambda row: _pct(row["median_mfe"])),
    ("MAE avg", lambda row: _pct(row["mean_mae"])),
    ("MAE med", lambda row: _pct(row["median_mae"])),
    ("MFE/MAE", lambda row: _num(row["mfe_mae_ratio"])),
    ("Capture", lambda row: _pct(row["capture_ratio"])),
    ("ETD avg", lambda row: _pct(row["mean_end_trade_drawdown"])),
    ("Entry eff", lambda row: _pct(row["entry_efficiency"])),
    ("Exit eff", lambda row: _pct(row["exit_efficiency"])),
    ("Total eff", lambda row: _pct(row["total_efficiency"])),
    ("To MFE", lambda row: _duration(row["median_time_to_mfe"])),
)


def _metrics_table(title: str, summary: pd.DataFrame, label: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    for header, _ in METRIC_COLUMNS:
        table.add_column(header, justify="right")
    for group, row in summary.iterrows():
        table.add_row(str(group), *(cell(row) for _, cell in METRIC_COLUMNS))
    return table


def print_report(analysis: Analysis, console: Console) -> None:
    """Print the tables and recommendations."""
    trades = analysis.trades
    console.print(
        f"[bold]MFE/MAE analysis[/] of {analysis.result_file.name}: {len(trades)} trades, "
        f"{trades['pair'].nunique()} pairs, {analysis.timeframe} candles. "
        f"Unit: {UNIT_NOTE}."
    )
    everything = MFEMAEAnalyzer(position_view(trades))
    console.print(_metrics_table("Per strategy", everything.summary("strategy"), "Strategy"))
    for name, strategy in analysis.strategies.items():
        console.print(
            _metrics_table(
                f"{name}: per exit reason", strategy.analyzer.summary("exit_reason"), "Exit reason"
            )
        )
        tags = analysis.partial_tags[analysis.partial_tags["strategy"] == name]
        if not tags.empty:
            console.print(
                _metrics_table(
                    f"{name}: trades per partial-exit tag",
                    MFEMAEAnalyzer(tags).summary("partial_exit_tag"),
                    "Partial-exit tag",
                )
            )
    edge = Table(
        title=f"Edge ratio e(n) of the entries, n in {analysis.timeframe} candles "
        "(mean MFE / mean MAE over n candles, in ATR at entry; above 1 = edge)",
        title_justify="left",
    )
    edge.add_column("Strategy")
    for bars in EDGE_SHOWN:
        edge.add_column(f"e({bars})", justify="right")
    for name, strategy in analysis.strategies.items():
        edge.add_row(name, *(_num(strategy.edge.loc[bars, "edge_ratio"]) for bars in EDGE_SHOWN))
    console.print(edge)
    for name, strategy in analysis.strategies.items():
        table = Table(
            title=f"{name}: exits the excursions suggest (expectancy per trade, {UNIT_NOTE})",
            title_justify="left",
        )
        for column in ("Exit", "Level", "Expectancy", "vs own exits"):
            table.add_column(column, justify="left" if column == "Exit" else "right")
        baseline = strategy.optimal.baseline_expectancy
        table.add_row("the strategy's own exits", "-", _pct(baseline), "-")
        for item in strategy.recommendations:
            table.add_row(
                item.name,
                _pct(item.level),
                _pct(item.expectancy),
                _signed(item.expectancy - baseline),
            )
        optimal = strategy.optimal
        table.add_row(
            "best stop + target on these excursions",
            f"stop {_pct(optimal.stop)} / target {_pct(optimal.target)}"
            if optimal.stop or optimal.target
            else "own exits",
            _pct(optimal.expectancy),
            _signed(optimal.expectancy - baseline),
        )
        console.print(table)
    console.print(
        "Stops and targets are judged on the recorded excursions (a stop wins when both were "
        "within reach); the trailing stop is replayed on the candles. Fitted to these trades: "
        "check them out of sample."
    )


def _signed(value: float) -> str:
    return f"{value:+.2%}"


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


def summary_dict(analysis: Analysis) -> dict[str, Any]:
    """The summary section of ``--json``."""
    strategies = {}
    for name, strategy in analysis.strategies.items():
        tags = analysis.partial_tags[analysis.partial_tags["strategy"] == name]
        strategies[name] = {
            "metrics": _records(strategy.analyzer.summary(None))[0],
            "by_exit_reason": _grouped(strategy.analyzer.summary("exit_reason")),
            "by_partial_exit_tag": _grouped(MFEMAEAnalyzer(tags).summary("partial_exit_tag"))
            if not tags.empty
            else {},
            "edge_ratio": _records(strategy.edge.reset_index()),
            "recommendations": [
                {key: _json_value(value) for key, value in asdict(item).items()}
                for item in strategy.recommendations
            ],
            "optimal_exit": {
                key: _json_value(value) for key, value in asdict(strategy.optimal).items()
            },
        }
    return {
        "result_file": str(analysis.result_file),
        "timeframe": analysis.timeframe,
        "unit": UNIT_NOTE,
        "trades": len(analysis.trades),
        "strategies": strategies,
    }


JSON_TRADE_COLUMNS = [
    "strategy",
    "pair",
    "open_date",
    "close_date",
    "is_short",
    "exit_reason",
    "enter_tag",
    "leverage",
    "fills",
    "open_rate",
    "close_rate",
    "mfe",
    "mae",
    "mfe_time",
    "mae_time",
    "pnl",
    "profit_ratio",
    "position_mfe",
    "position_mae",
    "position_mfe_time",
    "position_mae_time",
    "position_mfe_abs",
    "position_mae_abs",
    "peak_stake",
    "pnl_abs",
    "capture_ratio",
    "end_trade_drawdown",
    "entry_efficiency",
    "exit_efficiency",
    "total_efficiency",
    "time_to_mfe",
    "partial_exit_tags",
]


def write_json(analysis: Analysis, path: Path) -> None:
    """
    Write ``{"trades": [...], "summary": {...}}``: times ISO 8601 UTC, ``time_to_mfe`` in
    seconds, NaN as null.
    """
    document = {
        "trades": _records(analysis.trades[JSON_TRADE_COLUMNS]),
        "summary": summary_dict(analysis),
    }
    _write(path, json.dumps(document, indent=1, allow_nan=False))


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise ReportError(f"cannot write {path}: {e.strerror or e}") from e


def write_html(analysis: Analysis, path: Path) -> None:
    """Write one self-contained HTML file (plotly): Sweeney scatters, distributions, e(n)."""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as e:
        raise ReportError("--html needs plotly: pip install plotly") from e
    trades = analysis.trades
    won = trades["pnl"] > 0
    figure = make_subplots(
        rows=3,
        cols=2,
        specs=[[{}, {}], [{}, {}], [{"colspan": 2}, None]],
        subplot_titles=(
            "MAE vs result (Sweeney): winners' MAE sets the stop",
            "MFE vs result: what the exits left on the table",
            "MFE distribution",
            "MAE distribution",
            f"Edge ratio e(n), n in {analysis.timeframe} candles",
        ),
        vertical_spacing=0.08,
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
    for outcome, mask, colour in (("winners", won, "#2ca02c"), ("losers", ~won, "#d62728")):
        for column, col in (("position_mae", 1), ("position_mfe", 2)):
            figure.add_trace(
                go.Scattergl(
                    x=trades.loc[mask, column].abs(),
                    y=trades.loc[mask, "pnl"],
                    mode="markers",
                    marker={"color": colour, "size": 5, "opacity": 0.6},
                    name=outcome,
                    legendgroup=outcome,
                    showlegend=col == 1,
                    text=hover[mask],
                ),
                row=1,
                col=col,
            )
        for column, col in (("position_mfe", 1), ("position_mae", 2)):
            values = trades[column].abs()
            figure.add_trace(
                go.Histogram(
                    x=values[mask],
                    # Shared bins, so winners' and losers' bars line up.
                    xbins={"start": 0.0, "end": values.max(), "size": values.max() / 50 or 1.0},
                    name=outcome,
                    legendgroup=outcome,
                    showlegend=False,
                    marker_color=colour,
                    opacity=0.6,
                ),
                row=2,
                col=col,
            )
    # Each strategy's stop line gets its own corner for its label, so that labels do not overlap.
    corners = ("bottom right", "top right", "bottom left", "top left")
    for index, (name, strategy) in enumerate(analysis.strategies.items()):
        stop = next((item for item in strategy.recommendations if item.kind == "stop"), None)
        if stop is not None:
            figure.add_vline(
                x=stop.level,
                line_dash="dash",
                line_color="#555",
                row=1,
                col=1,
                annotation_text=f"{name}: stop keeping 90% of winners",
                annotation_position=corners[index % len(corners)],
            )
        figure.add_trace(
            go.Scatter(
                x=strategy.edge.index,
                y=strategy.edge["edge_ratio"],
                mode="lines+markers",
                line={"color": "#1f77b4"} if len(analysis.strategies) == 1 else None,
                name=f"{name} e(n)",
            ),
            row=3,
            col=1,
        )
    figure.add_hline(y=1.0, line_dash="dot", line_color="#888", row=3, col=1)
    figure.update_layout(
        title=f"MFE/MAE analysis of {analysis.result_file.name} ({UNIT_NOTE})",
        height=1400,
        barmode="overlay",
        template="plotly_white",
    )
    for row, col, title in ((1, 1, "|MAE|"), (1, 2, "MFE"), (2, 1, "MFE"), (2, 2, "|MAE|")):
        figure.update_xaxes(title_text=title, tickformat=".1%", row=row, col=col)
    for col in (1, 2):
        figure.update_yaxes(title_text="result (pnl)", tickformat=".1%", row=1, col=col)
        figure.update_yaxes(title_text="trades", row=2, col=col)
    figure.update_xaxes(title_text="n (candles after entry)", row=3, col=1)
    figure.update_yaxes(title_text="e(n)", row=3, col=1)
    _write(path, figure.to_html(include_plotlyjs=True, full_html=True))
