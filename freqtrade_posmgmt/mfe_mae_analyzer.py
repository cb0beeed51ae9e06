"""
MFE/MAE analysis of closed trades: per-group metrics and exit recommendations.

Unit, for every input and output ratio: ratios of the entry price (for a trade with scale-ins or
partial exits, of its peak stake), side-aware, before fees and without leverage. ``mfe >= 0`` is
the best excursion in the trade's favour, ``mae <= 0`` the worst against it, ``pnl`` the trade's
result, so ``mae <= pnl <= mfe``. Stop distances are positive ratios (a stop at 0.03 sits 3%
below a long's entry); targets are positive ratios above it.

Formulas (Sweeney; Tomasini; Faith), per trade with ``range = mfe - mae``:
capture ratio ``pnl / mfe``; end-trade drawdown ``mfe - pnl``; entry efficiency
``mfe / range``; exit efficiency ``(pnl - mae) / range``; total efficiency ``pnl / range``
(= entry + exit - 1); time to MFE ``mfe_time - open_date``.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from pandas.api.typing import DataFrameGroupBy

from freqtrade_posmgmt.validation import fail

# More distinct stop candidates than this are searched at this many quantiles.
MAX_STOP_CANDIDATES = 200


@dataclass(frozen=True)
class TradeMFERecord:
    """
    Excursions and result of one closed trade (units: see the module docstring).

    :param strategy: Strategy that made the trade.
    :param pair: Traded pair, ``BASE/QUOTE``.
    :param is_short: True for a short.
    :param open_date: Entry time (UTC).
    :param close_date: Exit time (UTC).
    :param mfe: Maximum favourable excursion, >= 0.
    :param mae: Maximum adverse excursion, <= 0.
    :param pnl: The trade's result.
    :param mfe_time: When the MFE was reached.
    :param mae_time: When the MAE was reached.
    :param exit_reason: Freqtrade's exit reason.
    """

    strategy: str
    pair: str
    is_short: bool
    open_date: datetime
    close_date: datetime
    mfe: float
    mae: float
    pnl: float
    mfe_time: datetime
    mae_time: datetime
    exit_reason: str = ""


@dataclass(frozen=True)
class OptimalExitPoints:
    """
    The stop and target that maximise expectancy on the recorded excursions.

    :param stop: Stop distance, positive ratio; None when no stop improves expectancy.
    :param target: Take-profit level, positive ratio; None when no target improves it.
    :param expectancy: Mean result per trade with this stop and target.
    :param baseline_expectancy: Mean result per trade of the trades' own exits.
    :param trades: Number of trades searched.
    """

    stop: float | None
    target: float | None
    expectancy: float
    baseline_expectancy: float
    trades: int


@dataclass(frozen=True)
class ExitRecommendation:
    """
    One exit level suggested by the excursions, with what it would have given.

    :param name: What the level is, e.g. ``"stop keeping 90% of winners"``.
    :param kind: ``"stop"``, ``"trailing"`` or ``"target"``.
    :param level: Distance (stop, trailing) or profit level (target), positive ratio.
    :param expectancy: Mean result per trade had this exit been used on these trades.
    """

    name: str
    kind: str
    level: float
    expectancy: float


REQUIRED_COLUMNS = ("strategy", "open_date", "mfe", "mae", "pnl", "mfe_time", "mae_time")
# Columns the analyzer adds to each trade.
PER_TRADE_METRICS = (
    "capture_ratio",
    "entry_efficiency",
    "exit_efficiency",
    "total_efficiency",
    "end_trade_drawdown",
    "time_to_mfe",
)


class MFEMAEAnalyzer:
    """
    Metrics and exit recommendations over a set of closed trades.

    :param trades: One row per trade with at least the columns of :class:`TradeMFERecord`
        named in ``REQUIRED_COLUMNS``; other columns (``pair``, ``exit_reason``, ...) can be
        grouped by. The frame is copied; the per-trade metrics are added as columns of
        :attr:`trades`.
    """

    def __init__(self, trades: pd.DataFrame) -> None:
        missing = [column for column in REQUIRED_COLUMNS if column not in trades.columns]
        if missing:
            raise fail("trades", rule=f"missing columns {missing}; need {list(REQUIRED_COLUMNS)}")
        frame = trades.reset_index(drop=True)
        frame[["mfe", "mae", "pnl"]] = frame[["mfe", "mae", "pnl"]].astype(np.float64)
        for column in ("open_date", "mfe_time", "mae_time"):
            moments = pd.to_datetime(frame[column])
            if moments.dt.tz is None and len(moments):
                raise fail(column, rule="naive datetimes; must be timezone-aware (UTC)")
            frame[column] = moments.dt.tz_localize("UTC") if moments.dt.tz is None else moments
        for column, rule, bad in (
            ("mfe", ">= 0", ~(frame["mfe"] >= 0)),
            ("mae", "<= 0", ~(frame["mae"] <= 0)),
            ("pnl", "finite", ~np.isfinite(frame["pnl"])),
        ):
            if bad.any():
                value = frame.loc[bad.idxmax(), column]
                raise fail(
                    f"{column}={value} (trade row {bad.idxmax()})",
                    rule=f"must be {rule} (ratio of the entry price)",
                )
        span = frame["mfe"] - frame["mae"]
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["capture_ratio"] = (frame["pnl"] / frame["mfe"]).where(frame["mfe"] > 0)
            usable = span > 0
            frame["entry_efficiency"] = (frame["mfe"] / span).where(usable)
            frame["exit_efficiency"] = ((frame["pnl"] - frame["mae"]) / span).where(usable)
            frame["total_efficiency"] = (frame["pnl"] / span).where(usable)
        frame["end_trade_drawdown"] = frame["mfe"] - frame["pnl"]
        frame["time_to_mfe"] = frame["mfe_time"] - frame["open_date"]
        self.trades = frame

    @classmethod
    def from_records(cls, records: Iterable[TradeMFERecord]) -> "MFEMAEAnalyzer":
        """
        Build an analyzer from :class:`TradeMFERecord` objects.
        """
        rows = [asdict(record) for record in records]
        columns = list(TradeMFERecord.__dataclass_fields__)
        return cls(pd.DataFrame(rows, columns=columns))

    def _groups(self, by: str | None) -> DataFrameGroupBy:
        key = self.trades[by] if by else pd.Series("all", index=self.trades.index, name="group")
        return self.trades.groupby(key, sort=True)

    def calculate_avg_mfe_mae_by_strategy(self, by: str | None = "strategy") -> pd.DataFrame:
        """
        Trade count, win rate and mean / median MFE and MAE per group.
        :param by: Column to group by (``"strategy"``, ``"exit_reason"``, ...); None for one
            row named ``all``.
        :return: One row per group: ``trades``, ``win_rate`` (share with ``pnl > 0``),
            ``mean_mfe``, ``median_mfe``, ``mean_mae``, ``median_mae``.
        """
        groups = self._groups(by)
        return pd.DataFrame(
            {
                "trades": groups.size(),
                "win_rate": groups["pnl"].apply(lambda pnl: float((pnl > 0).mean())),
                "mean_mfe": groups["mfe"].mean(),
                "median_mfe": groups["mfe"].median(),
                "mean_mae": groups["mae"].mean(),
                "median_mae": groups["mae"].median(),
            }
        )

    def calculate_mfe_mae_ratios(self, by: str | None = "strategy") -> pd.DataFrame:
        """
        MFE/MAE ratio per group: ``mean(mfe) / mean(|mae|)``, a ratio of means so that trades
        that never went against the position (``mae == 0``) count instead of being dropped.
        :param by: Column to group by; None for one row named ``all``.
        :return: One row per group: ``mfe_mae_ratio`` (inf when no trade had an adverse
            excursion) and ``zero_mae_trades``.
        """
        groups = self._groups(by)
        favourable = groups["mfe"].mean()
        adverse = -groups["mae"].mean()
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = favourable / adverse
        return pd.DataFrame(
            {
                "mfe_mae_ratio": ratio,
                "zero_mae_trades": groups["mae"].apply(lambda mae: int((mae == 0).sum())),
            }
        )

    def analyze_exit_timing_efficiency(self, by: str | None = "strategy") -> pd.DataFrame:
        """
        How much of the favourable move the exits kept, per group.
        :param by: Column to group by; None for one row named ``all``.
        :return: One row per group: ``capture_ratio`` (``sum(pnl) / sum(mfe)``, so trades with
            no favourable excursion count too), ``mean_end_trade_drawdown``, the mean
            ``entry_efficiency``, ``exit_efficiency``, ``total_efficiency`` (over trades whose
            price moved at all) and ``median_time_to_mfe``.
        """
        groups = self._groups(by)
        with np.errstate(divide="ignore", invalid="ignore"):
            capture = groups["pnl"].sum() / groups["mfe"].sum()
        return pd.DataFrame(
            {
                "capture_ratio": capture,
                "mean_end_trade_drawdown": groups["end_trade_drawdown"].mean(),
                "entry_efficiency": groups["entry_efficiency"].mean(),
                "exit_efficiency": groups["exit_efficiency"].mean(),
                "total_efficiency": groups["total_efficiency"].mean(),
                "median_time_to_mfe": groups["time_to_mfe"].median(),
            }
        )

    def summary(self, by: str | None = "strategy") -> pd.DataFrame:
        """
        All metrics per group: the columns of :meth:`calculate_avg_mfe_mae_by_strategy`,
        :meth:`calculate_mfe_mae_ratios` and :meth:`analyze_exit_timing_efficiency`.
        """
        return pd.concat(
            [
                self.calculate_avg_mfe_mae_by_strategy(by),
                self.calculate_mfe_mae_ratios(by),
                self.analyze_exit_timing_efficiency(by),
            ],
            axis=1,
        )

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frame = self.trades
        return (
            frame["mfe"].to_numpy(dtype=np.float64),
            frame["mae"].to_numpy(dtype=np.float64),
            frame["pnl"].to_numpy(dtype=np.float64),
        )

    def evaluate_exits(self, stop: float | None = None, target: float | None = None) -> float:
        """
        Expectancy these trades would have had with a fixed stop and take-profit.

        A stop fires on trades whose adverse excursion went beyond it (``-mae > stop``), a
        target on trades whose favourable excursion reached it (``mfe >= target``). When both
        lie within a trade's excursions the stop is taken: the excursions do not tell which
        level the price crossed first, and the times of the extremes do not either (a tight
        stop is crossed long before the worst point). Other trades keep their own result, so
        only exits inside the trades' own excursions can be judged.
        :param stop: Stop distance, positive ratio; None for none.
        :param target: Take-profit level, positive ratio; None for none.
        :return: Mean result per trade (0.0 for no trades).
        """
        for name, value in (("stop", stop), ("target", target)):
            if value is not None and not value > 0:
                raise fail(f"{name}={value}", rule="must be > 0 (ratio of the entry price)")
        mfe, mae, pnl = self._arrays()
        if len(pnl) == 0:
            return 0.0
        result = pnl
        if target is not None:
            result = np.where(mfe >= target, target, result)
        if stop is not None:
            result = np.where(-mae > stop, -stop, result)
        return float(result.mean())

    def identify_optimal_exit_points(self) -> OptimalExitPoints:
        """
        Search the stop distance and take-profit level that maximise expectancy on these
        trades, judged as in :meth:`evaluate_exits`. Every trade's adverse excursion is a
        candidate stop (at most ``MAX_STOP_CANDIDATES``, as quantiles, beyond that), every
        favourable excursion a candidate target: the optimum lies at one of them.
        :return: The best stop and target, with its expectancy and the trades' own.
        """
        mfe, mae, pnl = self._arrays()
        trades = len(pnl)
        if trades == 0:
            return OptimalExitPoints(None, None, 0.0, 0.0, 0)
        baseline = float(pnl.mean())
        distances = np.unique(-mae[mae < 0])
        if len(distances) > MAX_STOP_CANDIDATES:
            distances = np.unique(
                np.quantile(distances, np.linspace(0, 1, MAX_STOP_CANDIDATES), method="lower")
            )
        # Trades by favourable excursion, largest first; for a target t the trades reaching
        # it are a prefix ending at the last trade with mfe == t.
        order = np.argsort(-mfe, kind="stable")
        mfe_sorted = mfe[order]
        prefix_end = np.flatnonzero(np.r_[mfe_sorted[1:] != mfe_sorted[:-1], True])
        prefix_end = prefix_end[mfe_sorted[prefix_end] > 0]
        levels = mfe_sorted[prefix_end]

        best = OptimalExitPoints(None, None, baseline, baseline, trades)
        for stop in [None, *distances]:
            stopped = -mae[order] > stop if stop is not None else np.zeros(trades, dtype=bool)
            # Sum of results for each target: stopped trades give -stop whatever the target;
            # the others give the target if they reach it, else their own result.
            stopped_sum = -stop * stopped.sum() if stop is not None else 0.0
            free = ~stopped
            free_pnl = np.where(free, pnl[order], 0.0)
            reach_count = np.cumsum(free)[prefix_end]
            reach_pnl = np.cumsum(free_pnl)[prefix_end]
            no_target = stopped_sum + free_pnl.sum()
            totals = np.r_[no_target, no_target + levels * reach_count - reach_pnl]
            pick = int(np.argmax(totals))
            expectancy = float(totals[pick] / trades)
            if expectancy > best.expectancy:
                target = float(levels[pick - 1]) if pick else None
                stop = float(stop) if stop is not None else None
                best = OptimalExitPoints(stop, target, expectancy, baseline, trades)
        return best

    def recommendations(self) -> list[ExitRecommendation]:
        """
        Exit levels read off the excursions, each with the expectancy it would have given:
        the stop that keeps 90% of winners (Sweeney: just beyond their adverse excursions) and
        the profit levels reached by 75%, 50% and 25% of trades used as targets. (A trailing
        stop needs the price path: :func:`freqtrade_posmgmt.excursions.trailing_stop_expectancy`.)
        :return: The recommendations that these trades define (none for no trades; no stop
            without winners).
        """
        mfe, mae, pnl = self._arrays()
        found = []
        winners_mae = np.sort(-mae[pnl > 0])
        if len(winners_mae) and winners_mae[-1] > 0:
            # The smallest distance that at least 90% of winners' excursions stay within.
            stop = float(winners_mae[int(np.ceil(0.9 * len(winners_mae))) - 1])
            stop = stop if stop > 0 else float(winners_mae[winners_mae > 0][0])
            found.append(
                ExitRecommendation(
                    "stop keeping 90% of winners", "stop", stop, self.evaluate_exits(stop=stop)
                )
            )
        ranked = np.sort(mfe)[::-1]
        for share in (0.75, 0.5, 0.25):
            level = float(ranked[int(np.ceil(share * len(ranked))) - 1]) if len(ranked) else 0.0
            if level > 0:
                found.append(
                    ExitRecommendation(
                        f"target reached by {share:.0%} of trades",
                        "target",
                        level,
                        self.evaluate_exits(target=level),
                    )
                )
        return found
