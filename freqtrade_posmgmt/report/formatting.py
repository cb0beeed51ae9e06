"""Cells of the report's tables, as text: shared by the terminal and the HTML renderers."""

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from freqtrade_posmgmt.report.analysis import Analysis, ExitSuggestions
from freqtrade_posmgmt.report.attribution import Attribution
from freqtrade_posmgmt.report.effects import CapabilityEffects, StrategyComparison
from freqtrade_posmgmt.report.returns import Returns


def pct(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2%}"


def signed_pct(value: float) -> str:
    return f"{value:+.2%}"


def num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "inf" if math.isinf(value) else f"{value:.2f}"


def money(value: float | None) -> str:
    """An amount of stake currency, with thousands separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.2f}"


def duration(value: pd.Timedelta) -> str:
    """``h:mm`` below 72 hours (so 15m candles read 0:45, not 0 h), days beyond."""
    if pd.isna(value):
        return "-"
    if value >= pd.Timedelta(hours=72):
        return f"{value / pd.Timedelta(days=1):.1f} d"
    minutes = round(value / pd.Timedelta(minutes=1))
    return f"{minutes // 60}:{minutes % 60:02d}"


METRIC_COLUMNS: tuple[tuple[str, Callable[[pd.Series], str]], ...] = (
    ("Trades", lambda row: str(int(row["trades"]))),
    # Not Freqtrade's win rate (after fees, in the comparison): pnl > 0 before fees.
    ("Won before fees", lambda row: pct(row["win_rate"])),
    ("MFE avg", lambda row: pct(row["mean_mfe"])),
    ("MFE med", lambda row: pct(row["median_mfe"])),
    ("MAE avg", lambda row: pct(row["mean_mae"])),
    ("MAE med", lambda row: pct(row["median_mae"])),
    ("MFE/MAE", lambda row: num(row["mfe_mae_ratio"])),
    ("Capture", lambda row: pct(row["capture_ratio"])),
    ("ETD avg", lambda row: pct(row["mean_end_trade_drawdown"])),
    ("Entry eff", lambda row: pct(row["entry_efficiency"])),
    ("Exit eff", lambda row: pct(row["exit_efficiency"])),
    ("Total eff", lambda row: pct(row["total_efficiency"])),
    ("To MFE", lambda row: duration(row["median_time_to_mfe"])),
)


def metric_rows(table: pd.DataFrame) -> list[list[str]]:
    """One row of cells per group: the group, then :data:`METRIC_COLUMNS`."""
    return [
        [str(group), *(cell(row) for _, cell in METRIC_COLUMNS)] for group, row in table.iterrows()
    ]


EXIT_COLUMNS = ("Exit", "Level", "Expectancy", "vs own exits")


def exit_rows(section: ExitSuggestions) -> list[list[str]]:
    """The strategy's own exits, each recommendation, then the best stop + target."""
    baseline = section.optimal.baseline_expectancy
    rows = [["the strategy's own exits", "-", pct(baseline), "-"]]
    for item in section.recommendations:
        rows.append(
            [
                item.name,
                pct(item.level),
                pct(item.expectancy),
                signed_pct(item.expectancy - baseline),
            ]
        )
    optimal = section.optimal
    rows.append(
        [
            "best stop + target on these excursions",
            f"stop {pct(optimal.stop)} / target {pct(optimal.target)}"
            if optimal.stop or optimal.target
            else "own exits",
            pct(optimal.expectancy),
            signed_pct(optimal.expectancy - baseline),
        ]
    )
    return rows


def report_title(analysis: Analysis) -> str:
    return f"Position management and MFE/MAE analysis of {analysis.result_file.name}"


def report_intro(analysis: Analysis) -> str:
    trades = analysis.trades
    return (
        f"{len(trades)} trades, {trades['pair'].nunique()} pairs, {analysis.timeframe} candles. "
        f"Excursions in {analysis.unit}."
    )


def edge_title(timeframe: str) -> str:
    return (
        f"Edge ratio e(n) of the entries, n in {timeframe} candles "
        "(mean MFE / mean MAE over n candles, in ATR at entry; above 1 = edge)"
    )


def exits_title(section: ExitSuggestions, unit: str) -> str:
    return f"{section.strategy}: exits the excursions suggest (expectancy per trade, {unit})"


EXITS_NOTE = (
    "Stops and targets are judged on the recorded excursions (a stop wins when both were "
    "within reach); the trailing stop is replayed on the candles. Fitted to these trades: "
    "check them out of sample."
)


COMPARISON_COLUMNS = (
    "Strategy",
    "Trades",
    "Profit",
    "Profit %",
    "Max drawdown",
    "Calmar",
    "Win rate after fees",
    "Profit factor",
    "Position management",
)


def comparison_rows(section: StrategyComparison) -> list[list[str]]:
    """One row per strategy, Freqtrade's own statistics."""
    return [
        [
            name,
            str(int(row["trades"])),
            f"{money(row['profit_total_abs'])} {section.stake_currency}",
            pct(row["profit_total"]),
            pct(row["max_drawdown_account"]),
            num(row["calmar"]),
            pct(row["winrate"]),
            num(row["profit_factor"]),
            "on" if row["managed"] else "off",
        ]
        for name, row in section.table.iterrows()
    ]


def comparison_title(section: StrategyComparison) -> str:
    base = f" (baseline: {section.baseline})" if section.baseline else ""
    return f"Strategies side by side{base}"


EFFECT_COLUMNS = (
    "Capability",
    "On",
    "Exits",
    "Exit profit",
    "Partial fills",
    "Partial stake",
    "Partial profit",
    "Adds",
    "Add stake",
    "Refused",
    "Cut",
    "Raised",
    "Stake held back (sum)",
)


# What a source without decisions (a bot's database) cannot tell: shown as such, not as zero.
UNKNOWN = "n/a"


def effect_rows(section: CapabilityEffects) -> list[list[str]]:
    """One row per capability: what it did in this strategy's backtest."""
    rows = [
        [
            capability,
            "yes" if row["on"] else "no",
            str(row["exits"]),
            money(row["exit_profit_abs"]),
            str(row["partial_fills"]),
            money(row["partial_stake"]),
            money(row["partial_profit_abs"]),
            str(row["adds"]),
            money(row["add_stake"]),
            str(row["refused"]),
            str(row["cut"]),
            str(row["raised"]),
            money(row["stake_not_deployed"]),
        ]
        for capability, row in section.table.iterrows()
    ]
    if section.decisions_known:
        return rows
    return [[row[0], UNKNOWN, *row[2:9], *[UNKNOWN] * 4] for row in rows]


def effects_title(section: CapabilityEffects) -> str:
    return f"What position management did in {section.strategy}"


NO_DECISIONS_NOTE = (
    "No decisions recorded: no decisions log beside this trade database (a bot writes one in "
    "dry-run and live, <database file>.posmgmt-decisions.jsonl, once it decides something), so which "
    "capabilities were on and the entries they refused or resized are unknown (n/a). Exits and "
    "fills are the database's."
)


def effects_note(section: CapabilityEffects) -> str:
    """What the held-back sum is: not a balance, so it can exceed the account."""
    if not section.decisions_known:
        return NO_DECISIONS_NOTE
    return (
        f"Stake held back (sum): for each of the {section.decision_count:,} decisions that "
        "refused or cut an entry, the stake Freqtrade proposed minus the stake placed "
        f"({section.stake_currency}), summed. The same money is counted again at each "
        "decision, so the sum can exceed the account. Partial profit: the partial exits' "
        "profit after fees, against the average entry price."
    )


REASON_COLUMNS = ("Capability", "Decision", "Reason", "Count", "Stake held back (sum)")


def reason_rows(section: CapabilityEffects) -> list[list[str]]:
    """Entries refused and stakes resized, by capability and reason."""
    return [
        [
            row.capability,
            row.kind,
            row.reason,
            f"{row.count:,}",
            money(row.stake_not_deployed),
        ]
        for row in section.reasons.itertuples()
    ]


def signed_money(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:+,.2f}"


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: pd.Series, width: int = 40) -> str:
    """A curve in one line of text: ``width`` samples, each an eighth-block of its range."""
    if values.empty:
        return ""
    samples = values.iloc[np.linspace(0, len(values) - 1, min(width, len(values))).astype(int)]
    low, high = float(samples.min()), float(samples.max())
    if high - low <= 0:
        return SPARKS[0] * len(samples)
    scaled = (samples - low) / (high - low) * (len(SPARKS) - 1)
    return "".join(SPARKS[round(level)] for level in scaled)


CURVE_COLUMNS = ("Strategy", "Realised equity", "Drawdown (below its peak)")


def curve_rows(section: StrategyComparison) -> list[list[str]]:
    """Per strategy, its equity and drawdown curves as text, with their ends."""
    rows = []
    for name, equity in section.equity.items():
        drawdown = section.drawdown[name]
        rows.append(
            [
                name,
                f"{money(equity.iloc[0])} {sparkline(equity)} {money(equity.iloc[-1])}",
                f"{sparkline(drawdown)} worst {pct(drawdown.min())}",
            ]
        )
    return rows


ATTRIBUTION_TITLE = (
    "What each capability contributed: the backtest with all on, then with each switched off"
)
ATTRIBUTION_COLUMNS = (
    "Run",
    "Contribution",
    "to max DD",
    "Trades",
    "Profit",
    "Profit %",
    "Max drawdown",
    "Calmar",
)
ATTRIBUTION_NOTE = (
    "Contribution: profit with every capability on minus profit with this one off "
    "(positive: it helped); to max DD: the same for the max drawdown, in percentage points "
    "(negative: it lowered the drawdown). Capabilities interact: contributions need not add up."
)


def attribution_rows(section: Attribution) -> list[list[str]]:
    def run(values: dict | pd.Series) -> list[str]:
        return [
            str(int(values["trades"])) if math.isfinite(values["trades"]) else "-",
            money(values["profit_abs"]),
            pct(values["profit_ratio"]),
            pct(values["max_drawdown"]),
            num(values["calmar"]),
        ]

    def points(value: float) -> str:
        return "-" if math.isnan(value) else f"{value * 100:+.2f}"

    rows = [["all capabilities on", "-", "-", *run(section.all_on)]]
    for name, row in section.table.iterrows():
        rows.append(
            [
                f"{name} off",
                signed_money(row["delta_profit_abs"]),
                points(row["delta_max_drawdown"]),
                *run(row),
            ]
        )
    if section.baseline is not None:
        label = f"all off: {section.baseline_name}" if section.baseline_name else "all off"
        rows.append([label, "-", "-", *run(section.baseline)])
    return rows


def attribution_notes(section: Attribution) -> list[str]:
    """What the table means, and the capabilities not run (they do nothing in a backtest)."""
    return [
        *(f"{name}: not run, it {why}." for name, why in section.not_run.items()),
        ATTRIBUTION_NOTE,
    ]


def returns_pair_columns(section: Returns) -> tuple[str, ...]:
    strategies = section.by_pair.columns.get_level_values(0).unique()
    return (
        "Pair",
        *(f"{name} {label}" for name in strategies for label in ("trades", "profit", "won")),
    )


def returns_pair_rows(section: Returns) -> list[list[str]]:
    """Per pair (best total first), each strategy's trades, profit and share won after fees."""
    strategies = section.by_pair.columns.get_level_values(0).unique()
    rows = []
    for pair, row in section.by_pair.iterrows():
        cells = [str(pair)]
        for name in strategies:
            trades = row[(name, "trades")]
            if pd.isna(trades):
                cells += ["0", "-", "-"]
            else:
                cells += [
                    str(int(trades)),
                    money(row[(name, "profit_abs")]),
                    pct(row[(name, "won")]),
                ]
        rows.append(cells)
    return rows


def returns_month_columns(section: Returns) -> tuple[str, ...]:
    return ("Month", *(f"{name} ({section.stake_currency})" for name in section.monthly.columns))


def returns_month_rows(section: Returns) -> list[list[str]]:
    return [
        [month.strftime("%Y-%m"), *(money(value) for value in row)]
        for month, row in section.monthly.iterrows()
    ]


LIVE_EXCURSION_COLUMNS = (
    "Strategy",
    "Pair",
    "Open",
    "MFE (candles)",
    "MFE (live)",
    "MAE (candles)",
    "MAE (live)",
)
LIVE_EXCURSION_TITLE = "Price excursions measured on the candles and recorded live"


def has_live_excursions(trades: pd.DataFrame) -> bool:
    """Whether the trades carry the MFE/MAE recorded live (a bot's database)."""
    return "live_mfe" in trades


def live_excursion_rows(trades: pd.DataFrame) -> list[list[str]]:
    """Per trade, the price excursion measured on the candles beside the one recorded live."""
    return [
        [
            str(trade["strategy"]),
            str(trade["pair"]),
            trade["open_date"].strftime("%Y-%m-%d %H:%M"),
            pct(trade["price_mfe"]),
            pct(trade["live_mfe"]),
            pct(trade["price_mae"]),
            pct(trade["live_mae"]),
        ]
        for _, trade in trades.iterrows()
    ]
