"""
The report's analysis: everything it shows, computed once, as an ordered list of sections.

The story comes first: (1) the strategies side by side, with equity and drawdown; (2) what each
capability contributed (the lab's attribution, when given); (3) what each capability did;
(4) per-pair and monthly returns; (5) the excursions and the stops and targets they suggest.

Two excursions of a trade appear side by side and keep distinct names here:

- the **price excursion** (``price_mfe``, ``price_mae``, ``price_mfe_time``, ``price_mae_time``):
  the best and worst move of the price from the first entry, a ratio of the first entry price;
- the **position excursion** (``position_mfe``, ``position_mae`` and their ``_time``, ``_abs``):
  the best and worst realised + unrealised profit of the position, a ratio of its peak stake.
  For a trade with one entry and one exit they are equal.

A bot's trade database adds the **live excursion** (``live_mfe``, ``live_mae`` and their
``_time``): the price excursion the MFE/MAE recorder wrote as custom data while the trade ran
(``pm_mfe``...), NaN for a trade without it; shown beside the price excursion.

The metrics and recommendations judge the position's own money, so they read the position
excursion; :class:`~freqtrade_posmgmt.mfe_mae_analyzer.MFEMAEAnalyzer` calls its input ``mfe`` /
``mae`` (see :func:`analyzer_input`).

Renderers (``text``, ``json_report``, ``html``) only read an :class:`Analysis`, rendering each
section by its type. A new kind of content (e.g. what each position-management capability did)
is one more section type here, one more entry in each renderer's ``RENDERERS``, and one more
step in :func:`analyse`.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from freqtrade_posmgmt.excursions import edge_ratio, trade_excursions, trailing_stop_expectancy
from freqtrade_posmgmt.mfe_mae_analyzer import (
    PER_TRADE_METRICS,
    ExitRecommendation,
    MFEMAEAnalyzer,
    OptimalExitPoints,
)
from freqtrade_posmgmt.report.attribution import Attribution
from freqtrade_posmgmt.report.effects import (
    CapabilityEffects,
    StrategyComparison,
    capability_effects,
    comparison,
)
from freqtrade_posmgmt.report.loading import LoadedResult, partial_exit_tags
from freqtrade_posmgmt.report.returns import Returns, returns

# Longest edge-ratio horizon, in candles of the backtest's timeframe, and the horizons shown.
EDGE_BARS = 48
EDGE_SHOWN = (1, 2, 4, 8, 12, 24, 48)
# Trailing distances replayed on the candles for the trailing recommendation.
TRAILING_DISTANCES = np.geomspace(0.0025, 0.25, 41)
# Recommendations are shown stop first, then the trailing stop, then targets (closest first).
RECOMMENDATION_ORDER = ("stop", "trailing", "target")
UNIT_NOTE = (
    "ratios of the entry price (of the peak stake after adds/partial exits), "
    "before fees and leverage"
)
# The MFE/MAE recorder's custom data keys (``mixins.mfe_mae.KEYS``; not imported, so that the
# report does not load the mixins), and their names here.
LIVE_EXCURSION_KEYS = {
    "pm_mfe": "live_mfe",
    "pm_mae": "live_mae",
    "pm_mfe_time": "live_mfe_time",
    "pm_mae_time": "live_mae_time",
}
# trade_excursions' names for the price excursion, and the names used here.
PRICE_EXCURSION_NAMES = {
    "mfe": "price_mfe",
    "mae": "price_mae",
    "mfe_time": "price_mfe_time",
    "mae_time": "price_mae_time",
}


@dataclass(frozen=True)
class TradeExcursions:
    """Every closed trade with both excursions and the per-trade metrics."""

    trades: pd.DataFrame
    """One row per trade (all strategies): Freqtrade's ``strategy``, ``exit_reason``,
    ``enter_tag``, ``profit_ratio``, ``leverage``; the columns of ``trade_excursions`` with the
    price excursion named ``price_*``; the per-trade metrics (``PER_TRADE_METRICS``, of the
    position excursion) and ``partial_exit_tags``."""


@dataclass(frozen=True)
class MetricsTable:
    """Metrics per group (the columns of ``MFEMAEAnalyzer.summary``)."""

    key: str
    """What the rows are: ``per_strategy``, ``by_exit_reason`` or ``by_partial_exit_tag``."""
    title: str
    label: str
    """Heading of the group column."""
    table: pd.DataFrame
    """One row per group; empty when there is no group (e.g. no partial exits)."""
    strategy: str | None = None
    """The strategy the table is about; None for a table across strategies."""


@dataclass(frozen=True)
class EdgeRatios:
    """Edge ratio e(n) of each strategy's entries."""

    by_strategy: dict[str, pd.DataFrame]
    """Per strategy, ``edge_ratio``'s frame indexed by ``bars`` 1..EDGE_BARS."""
    shown: tuple[int, ...] = EDGE_SHOWN


@dataclass(frozen=True)
class ExitSuggestions:
    """The exits a strategy's excursions suggest, in :data:`RECOMMENDATION_ORDER`."""

    strategy: str
    recommendations: tuple[ExitRecommendation, ...]
    optimal: OptimalExitPoints

    @property
    def stop(self) -> ExitRecommendation | None:
        """The stop recommendation, if the trades define one."""
        return next((item for item in self.recommendations if item.kind == "stop"), None)


Section = (
    StrategyComparison
    | Attribution
    | CapabilityEffects
    | Returns
    | TradeExcursions
    | MetricsTable
    | EdgeRatios
    | ExitSuggestions
)
SECTION_TYPES: tuple[type, ...] = (
    StrategyComparison,
    Attribution,
    CapabilityEffects,
    Returns,
    TradeExcursions,
    MetricsTable,
    EdgeRatios,
    ExitSuggestions,
)
# The story's chapters, in order, and the section types each holds.
CHAPTERS: tuple[tuple[str, str, tuple[type, ...]], ...] = (
    ("comparison", "The strategies side by side", (StrategyComparison,)),
    ("attribution", "What each capability contributed", (Attribution,)),
    ("capabilities", "What each capability did", (CapabilityEffects,)),
    ("returns", "Per-pair and monthly returns", (Returns,)),
    (
        "excursions",
        "Excursions, and the stops and targets they suggest",
        (TradeExcursions, MetricsTable, EdgeRatios, ExitSuggestions),
    ),
)


def chapter_of(section: object) -> str:
    """The id of the chapter a section belongs to."""
    return next(key for key, _, kinds in CHAPTERS if isinstance(section, kinds))


@dataclass(frozen=True)
class Analysis:
    result_file: Path
    timeframe: str
    strategies: tuple[str, ...]
    """Strategy names, sorted."""
    sections: tuple[Section, ...]
    """What the report shows, in the order it shows it."""
    unit: str = UNIT_NOTE

    @property
    def trades(self) -> pd.DataFrame:
        """Every trade's excursions and metrics (the :class:`TradeExcursions` section's)."""
        return next(s for s in self.sections if isinstance(s, TradeExcursions)).trades

    def chapters(self) -> list[tuple[str, str, list]]:
        """The chapters that have sections, in order: ``(id, title, sections)``."""
        found = []
        for key, title, _ in CHAPTERS:
            mine = [section for section in self.sections if chapter_of(section) == key]
            if mine:
                found.append((key, title, mine))
        return found

    def sections_of(self, kind: type) -> list:
        """The sections of one type, in order."""
        return [section for section in self.sections if isinstance(section, kind)]


def analyzer_input(trades: pd.DataFrame) -> pd.DataFrame:
    """
    The analyzer's input: the metrics judge the position's own money, so its ``mfe`` / ``mae``
    are the position excursion (for a single-entry trade the same as the price excursion).
    """
    return trades.assign(
        mfe=trades["position_mfe"],
        mae=trades["position_mae"],
        mfe_time=trades["position_mfe_time"],
        mae_time=trades["position_mae_time"],
    )


def order_recommendations(found: list[ExitRecommendation]) -> tuple[ExitRecommendation, ...]:
    """
    Recommendations in :data:`RECOMMENDATION_ORDER` of their kind; within a kind, as given.
    :raise ValueError: a kind that has no place in the order
    """
    unknown = sorted({item.kind for item in found} - set(RECOMMENDATION_ORDER))
    if unknown:
        raise ValueError(f"recommendation kind(s) {unknown}: must be in {RECOMMENDATION_ORDER}")
    return tuple(sorted(found, key=lambda item: RECOMMENDATION_ORDER.index(item.kind)))


def analyse(loaded: LoadedResult, attribution: Attribution | None = None) -> Analysis:
    """
    Compute everything the report shows, once: each step adds its sections, in the story's
    order (:data:`CHAPTERS`).
    :param attribution: the lab's attribution, shown as given; None: no such section
    """
    trades, analyzers = _trades_and_analyzers(loaded)
    sections: tuple[Section, ...] = (
        *_comparison(loaded),
        *((attribution,) if attribution is not None else ()),
        *capability_effects(loaded),
        *((returns(loaded),) if "profit_abs" in loaded.trades else ()),
        TradeExcursions(trades),
        *_metrics_tables(trades, analyzers),
        _edge_ratios(loaded, trades),
        *_exit_suggestions(loaded, analyzers),
    )
    return Analysis(loaded.result_file, loaded.timeframe, tuple(analyzers), sections)


def _comparison(loaded: LoadedResult) -> tuple[StrategyComparison, ...]:
    """The strategies side by side (one alone has its equity and drawdown too)."""
    return (comparison(loaded),) if loaded.stats else ()


def _trades_and_analyzers(
    loaded: LoadedResult,
) -> tuple[pd.DataFrame, dict[str, MFEMAEAnalyzer]]:
    """Every trade with both excursions and its metrics, and one analyzer per strategy."""
    raw = loaded.trades
    excursions = trade_excursions(loaded.fill_candles, loaded.fills).rename(
        columns=PRICE_EXCURSION_NAMES
    )
    trades = pd.concat(
        [raw[["strategy", "exit_reason", "enter_tag", "profit_ratio", "leverage"]], excursions],
        axis=1,
    )
    trades["partial_exit_tags"] = partial_exit_tags(raw)
    if "custom_data" in raw:
        trades = trades.join(live_excursions(raw["custom_data"]))
    groups = dict(list(trades.groupby("strategy", sort=True)))
    analyzers = {name: MFEMAEAnalyzer(analyzer_input(group)) for name, group in groups.items()}
    metrics = pd.concat(
        [
            analyzer.trades[list(PER_TRADE_METRICS)].set_axis(groups[name].index)
            for name, analyzer in analyzers.items()
        ]
    )
    return trades.join(metrics), analyzers


def live_excursions(custom_data: pd.Series) -> pd.DataFrame:
    """The excursions recorded live, from each trade's custom data (``{key: value}``)."""
    live = pd.DataFrame(
        [
            {name: data.get(key) for key, name in LIVE_EXCURSION_KEYS.items()}
            for data in custom_data
        ],
        index=custom_data.index,
        columns=list(LIVE_EXCURSION_KEYS.values()),
    )
    for column in ("live_mfe", "live_mae"):
        live[column] = live[column].astype(float)
    for column in ("live_mfe_time", "live_mae_time"):
        live[column] = pd.to_datetime(live[column], utc=True)
    return live


def _metrics_tables(
    trades: pd.DataFrame, analyzers: dict[str, MFEMAEAnalyzer]
) -> list[MetricsTable]:
    per_strategy = pd.concat(
        [
            analyzer.summary(None).set_axis(pd.Index([name], name="strategy"))
            for name, analyzer in analyzers.items()
        ]
    )
    tables = [MetricsTable("per_strategy", "Per strategy", "Strategy", per_strategy)]
    for name, analyzer in analyzers.items():
        by_reason = analyzer.summary("exit_reason")
        by_tag = _per_partial_exit_tag(analyzer.trades, trades.loc[trades["strategy"] == name])
        tables += [
            MetricsTable(
                "by_exit_reason", f"{name}: per exit reason", "Exit reason", by_reason, name
            ),
            MetricsTable(
                "by_partial_exit_tag",
                f"{name}: trades per partial-exit tag",
                "Partial-exit tag",
                by_tag,
                name,
            ),
        ]
    return tables


def _edge_ratios(loaded: LoadedResult, trades: pd.DataFrame) -> EdgeRatios:
    return EdgeRatios(
        {
            name: edge_ratio(loaded.candles, group, EDGE_BARS)
            for name, group in trades.groupby("strategy", sort=True)
        }
    )


def _exit_suggestions(
    loaded: LoadedResult, analyzers: dict[str, MFEMAEAnalyzer]
) -> list[ExitSuggestions]:
    found = []
    for name, analyzer in analyzers.items():
        trailing = trailing_stop_expectancy(
            loaded.fill_candles, analyzer.trades, TRAILING_DISTANCES
        )
        best = trailing.idxmax()
        recommendations = [
            *analyzer.recommendations(),
            ExitRecommendation("trailing stop (replayed)", "trailing", best, trailing[best]),
        ]
        found.append(
            ExitSuggestions(
                name,
                order_recommendations(recommendations),
                analyzer.identify_optimal_exit_points(),
            )
        )
    return found


def _per_partial_exit_tag(analyzed: pd.DataFrame, trades: pd.DataFrame) -> pd.DataFrame:
    """Metrics of the trades that had each partial-exit tag (a trade counts once per tag)."""
    tags = trades["partial_exit_tags"].reset_index(drop=True).explode().dropna()
    if tags.empty:
        return pd.DataFrame()
    tagged = analyzed.loc[tags.index].assign(partial_exit_tag=tags.to_numpy())
    return MFEMAEAnalyzer(tagged).summary("partial_exit_tag")
