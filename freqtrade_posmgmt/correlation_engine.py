"""
Correlation gating: a framework-free policy.

Pairs whose returns move together are one bet. `CorrelationEngine` groups the candidate of an
entry with the pairs held, by the correlation of their returns, and limits the group's net
exposure to a fraction of equity.

Conventions:
- **No lookahead.** A decision at candle time T uses the Pearson correlation of simple
  close-to-close returns of the last ``window`` candles that closed before T: candles that open
  at T or later are never read. The return of a candle is its close over the previous candle's
  close, minus one; a missing candle leaves a gap (no return on either side of it). Two pairs
  with fewer than ``sample_min_size`` returns in common correlate with nothing.
- **Groups** are the connected components of the graph ``rho >= correlation_threshold`` over
  the candidate and the pairs held: a chain runs only through pairs held. Negative correlation
  never groups: a pair that moves against another is not the same bet. A candidate that
  correlates with no pair held is in no group and is not limited.
- **Defaults** (threshold 0.7, cap 0.5, 30 days): pairs moving together at ``rho >= 0.7`` are
  one bet, and at most half the account goes into one bet. A cap below one normal stake would
  refuse every entry correlated with a full position; at 0.5 no ordinary configuration has a
  stake that large (``stake_amount: unlimited`` with two or more slots gives at most
  ``tradable_balance_ratio / 2`` of equity), so by default a correlated pair joins at full size
  while its group holds less than half the account, and is cut to what is left beyond that.
- **Exposure** is signed notional: longs positive, shorts negative. A group's exposure is its net.
  A long candidate may add at most ``cap - net``, a short one at most ``cap + net``
  (``cap = max_correlated_exposure x equity``), so a cut entry fills its group exactly to the cap
  and a hedge is never cut by the group it hedges.
- Symbols are accepted as ``ETH/USDT``, ``ETH/USDT:USDT`` or ``ETHUSDT``; they are compared in
  the last form.
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import pandas as pd

from freqtrade_posmgmt import validation

BASIS_RETURNS = "returns"
BASIS_RESIDUAL = "residual"

_DAY_SECONDS = 86_400
_NS = 1_000_000_000
# Float noise allowed when a size is compared with what is left under the cap.
_SIZE_TOLERANCE = 1e-9


def symbol_key(symbol: str) -> str:
    """``ETH/USDT``, ``ETH/USDT:USDT`` and ``ETHUSDT`` all become ``ETHUSDT``."""
    return symbol.split(":")[0].replace("/", "").upper()


@validation.validated_policy
@dataclass(frozen=True)
class CorrelationConfig:
    """
    :param correlation_window_days: Length of the return window, in days of candles.
    :param correlation_threshold: Pairs with ``rho >= threshold`` are one bet; in (0, 1].
    :param max_correlated_exposure: Cap on a group's net notional, a fraction of equity; in (0, 1].
        The default, half the account, is above one stake of any ordinary configuration.
    :param sample_min_size: Fewest returns in common for two pairs to correlate at all.
    :param basis: ``"returns"``: raw returns. ``"residual"``: returns minus the mean return of
        the whole universe at each candle, so that one market factor does not put every pair
        in one group.
    """

    correlation_window_days: float = 30
    correlation_threshold: float = 0.7
    max_correlated_exposure: float = 0.5
    sample_min_size: int = 20
    basis: str = BASIS_RETURNS

    def __post_init__(self) -> None:
        validation.coerce(
            self,
            correlation_window_days=validation.number(
                "correlation_window_days", self.correlation_window_days, above=0
            ),
            correlation_threshold=validation.number(
                "correlation_threshold", self.correlation_threshold, above=0, at_most=1
            ),
            max_correlated_exposure=validation.number(
                "max_correlated_exposure", self.max_correlated_exposure, above=0, at_most=1
            ),
            # Pearson needs three points to mean anything.
            sample_min_size=validation.whole("sample_min_size", self.sample_min_size, 3),
        )
        validation.one_of("basis", self.basis, (BASIS_RETURNS, BASIS_RESIDUAL))

    def window_candles(self, timeframe_seconds: int) -> int:
        """
        Returns in the window for candles of ``timeframe_seconds``.
        :raises ValueError: when the window holds fewer than ``sample_min_size`` returns
        """
        candles = int(self.correlation_window_days * _DAY_SECONDS // timeframe_seconds)
        if candles < self.sample_min_size:
            raise validation.fail(
                "correlation_window_days",
                self.correlation_window_days,
                f"holds {candles} candles of {timeframe_seconds} s, fewer than "
                f"sample_min_size={self.sample_min_size}",
            )
        return candles


@dataclass(frozen=True)
class EntryLimit:
    """How much of a candidate an entry may take, and why."""

    candidate: str
    size: float
    """Requested size, signed (negative = short)."""
    adjusted_size: float
    """Allowed size, signed like ``size``; 0 when refused."""
    group: tuple[str, ...]
    """Pairs held in the candidate's group (the candidate itself if held); empty: no group."""
    net: float
    """The group's net exposure before the entry."""
    cap: float
    """The cap, in the units of the sizes."""
    correlations: Mapping[tuple[str, str], float] = field(default_factory=dict)
    """Every correlation computed for this decision (NaN: too few common returns)."""

    @property
    def room(self) -> float:
        """Most the entry may add in its direction (infinite outside any group)."""
        if not self.group:
            return math.inf
        return max(self.cap - self.net if self.size >= 0 else self.cap + self.net, 0.0)

    @property
    def allowed(self) -> bool:
        return self.adjusted_size != 0 or self.size == 0

    @property
    def is_cut(self) -> bool:
        return abs(self.adjusted_size) < abs(self.size)

    def resized(self, size: float) -> "EntryLimit":
        """The same group, net and cap for another requested size (of the same side)."""
        limit = replace(self, size=size, adjusted_size=size)
        if abs(size) <= limit.room * (1 + _SIZE_TOLERANCE):
            return limit
        return replace(limit, adjusted_size=math.copysign(limit.room, size))


def aligned_returns(
    candles: Mapping[str, tuple[np.ndarray, np.ndarray]],
    symbols: Iterable[str],
    end: int,
    step: int,
    window: int,
) -> dict[str, np.ndarray]:
    """
    Each symbol's returns of the ``window`` candles that open in ``[end - window*step, end)``,
    on one grid: entry i of every array is the same candle; NaN where a candle or the one before
    it is missing. Rows at or after ``end`` are never read.
    :param candles: symbol -> (candle open times as int64, closes), ascending
    :param end: the decision candle's open time, in the unit of the dates
    :param step: the timeframe, in the unit of the dates
    """
    start = end - (window + 1) * step
    out = {}
    for symbol in symbols:
        dates, closes = candles[symbol]
        lo, hi = np.searchsorted(dates, [start, end], side="left")
        if hi - lo == window + 1 and dates[lo] == start:
            # No gap (the usual case): the slice is the grid.
            window_closes = closes[lo:hi]
            out[symbol] = window_closes[1:] / window_closes[:-1] - 1.0
            continue
        grid = np.full(window + 1, np.nan)
        offsets = (dates[lo:hi] - start) // step
        grid[offsets] = closes[lo:hi]
        out[symbol] = grid[1:] / grid[:-1] - 1.0
    return out


def residualise(returns: Mapping[str, np.ndarray], universe: Mapping[str, np.ndarray]) -> dict:
    """Each series minus the cross-sectional mean return of ``universe`` at each candle."""
    stacked = np.vstack(list(universe.values()))
    valid = ~np.isnan(stacked)
    counts = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        market = np.where(valid, stacked, 0.0).sum(axis=0) / counts
    return {symbol: series - market for symbol, series in returns.items()}


def correlations(x: np.ndarray, others: np.ndarray, sample_min_size: int) -> np.ndarray:
    """
    Pearson correlation of ``x`` with each column of ``others`` over the rows where both are
    present; NaN where fewer than ``sample_min_size`` rows are, or a series is constant there.
    """
    both = ~np.isnan(x)[:, None] & ~np.isnan(others)
    n = both.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xs = np.where(both, x[:, None], 0.0)
        ys = np.where(both, others, 0.0)
        dx = np.where(both, xs - xs.sum(axis=0) / n, 0.0)
        dy = np.where(both, ys - ys.sum(axis=0) / n, 0.0)
        rho = (dx * dy).sum(axis=0) / np.sqrt((dx * dx).sum(axis=0) * (dy * dy).sum(axis=0))
    rho[n < sample_min_size] = np.nan
    return np.clip(rho, -1.0, 1.0)


class CorrelationEngine:
    """
    Group candidates with the pairs held by return correlation and cap each group's net exposure.

    Sizes are signed fractions of equity (negative = short) unless a ``scale`` is given.
    """

    def __init__(self, config: CorrelationConfig | None = None) -> None:
        self.config = config or CorrelationConfig()
        self.correlation_matrix = pd.DataFrame()
        """The matrix last computed by :meth:`calculate_position_correlations`."""

    # -- correlations ---------------------------------------------------------------------

    def calculate_position_correlations(
        self, series_by_symbol: Mapping[str, pd.Series], now: datetime
    ) -> pd.DataFrame:
        """
        Correlation matrix of the symbols' returns over the window before ``now``.
        :param series_by_symbol: symbol -> closes indexed by candle open time (tz-aware)
        :param now: decision time; candles opening at or after it are not read
        :return: the matrix (symbols in ``ETHUSDT`` form), also kept for
            :meth:`check_entry_allowed`; empty with fewer than two symbols
        """
        candles = {
            symbol_key(symbol): _as_arrays(series) for symbol, series in series_by_symbol.items()
        }
        symbols = sorted(candles)
        step = _common_step(candles.values())
        if len(symbols) < 2 or step is None:
            self.correlation_matrix = pd.DataFrame()
            return self.correlation_matrix
        window = self.config.window_candles(step // _NS)
        end = pd.Timestamp(now).as_unit("ns").value
        returns = self.window_returns(candles, symbols, symbols, end, step, window)
        columns = np.column_stack([returns[s] for s in symbols])
        matrix = np.vstack(
            [
                correlations(columns[:, i], columns, self.config.sample_min_size)
                for i in range(len(symbols))
            ]
        )
        np.fill_diagonal(matrix, 1.0)
        self.correlation_matrix = pd.DataFrame(matrix, index=symbols, columns=symbols)
        return self.correlation_matrix

    def window_returns(
        self,
        candles: Mapping[str, tuple[np.ndarray, np.ndarray]],
        symbols: Sequence[str],
        universe: Sequence[str],
        end: int,
        step: int,
        window: int,
    ) -> dict[str, np.ndarray]:
        """
        The returns the correlations are computed on (see :func:`aligned_returns`): raw, or
        residual to the mean of ``universe`` with ``basis="residual"``.
        """
        if self.config.basis == BASIS_RETURNS:
            return aligned_returns(candles, symbols, end, step, window)
        every = aligned_returns(candles, dict.fromkeys([*universe, *symbols]), end, step, window)
        return residualise({s: every[s] for s in symbols}, every)

    # -- groups and exposure --------------------------------------------------------------

    def get_correlation_groups(self, corr_matrix: pd.DataFrame | None = None) -> list[list[str]]:
        """Connected components (two or more symbols) of ``rho >= threshold`` in the matrix."""
        matrix = self.correlation_matrix if corr_matrix is None else corr_matrix
        symbols = list(matrix.columns)
        seen: set[str] = set()
        groups = []
        for symbol in symbols:
            if symbol in seen:
                continue
            group = self._component(
                symbol,
                symbols,
                lambda a, others: [float(matrix.at[a, b]) for b in others],
            )
            seen.update(group)
            if len(group) > 1:
                groups.append(sorted(group))
        return groups

    def get_correlated_exposure(
        self, positions: Mapping[str, float], groups: Iterable[Sequence[str]]
    ) -> dict[tuple[str, ...], float]:
        """Net (signed) exposure of each group, keyed by its members."""
        held = _keyed(positions)
        exposure = {}
        for group in groups:
            members = tuple(symbol_key(s) for s in group)
            exposure[members] = sum(held.get(s, 0.0) for s in members)
        return exposure

    # -- sizing ---------------------------------------------------------------------------

    def entry_limit(
        self,
        candidate: str,
        size: float,
        positions: Mapping[str, float],
        returns: Mapping[str, np.ndarray],
        scale: float = 1.0,
    ) -> EntryLimit:
        """
        Cut ``size`` so that the candidate's group stays within the cap.
        :param candidate: the pair to enter or add to
        :param size: requested size, signed (negative = short)
        :param positions: pair -> signed size held (the candidate too, for an add)
        :param returns: symbol -> returns on one grid (:meth:`window_returns`), for the candidate
            and every pair held; a pair without returns correlates with nothing
        :param scale: equity, when sizes are in stake currency rather than fractions of it
        """
        keyed = _keyed(returns)
        computed: dict[tuple[str, str], float] = {}
        standard = _standardised(keyed, self.config.sample_min_size)

        def rho_many(a: str, others: list[str]) -> list[float]:
            present = [b for b in others if b in keyed]
            if a in keyed and present:
                if standard is not None:
                    columns, z = standard
                    values = (z[:, columns[a]] @ z)[[columns[b] for b in present]]
                else:
                    values = correlations(
                        keyed[a],
                        np.column_stack([keyed[b] for b in present]),
                        self.config.sample_min_size,
                    )
                computed.update(zip(((a, b) for b in present), values.tolist(), strict=True))
            return [computed.get((a, b), math.nan) for b in others]

        cap = self.config.max_correlated_exposure * scale
        return self._limit(candidate, size, positions, rho_many, cap, computed)

    def compute_size_reduction_factor(
        self,
        positions: Mapping[str, float],
        corr_matrix: pd.DataFrame | None,
        candidate_symbol: str,
        candidate_fraction: float,
        max_exposure_override: float | None = None,
    ) -> float:
        """Factor in [0, 1] that brings ``candidate_fraction`` exactly to what the cap allows."""
        if candidate_fraction == 0:
            return 1.0
        limit = self._limit_from_matrix(
            positions,
            corr_matrix,
            candidate_symbol,
            candidate_fraction,
            max_exposure_override,
        )
        return limit.adjusted_size / candidate_fraction

    def check_entry_allowed(
        self,
        candidate_symbol: str,
        candidate_size: float,
        active_positions: Mapping[str, float],
        max_exposure_override: float | None = None,
    ) -> tuple[bool, float]:
        """
        The seed's check, on the correlations last computed (none: the full size is allowed).
        :return: (allowed, adjusted size), sizes signed fractions of equity
        """
        limit = self._limit_from_matrix(
            active_positions,
            None,
            candidate_symbol,
            candidate_size,
            max_exposure_override,
        )
        return limit.allowed, limit.adjusted_size

    def _limit_from_matrix(
        self,
        positions: Mapping[str, float],
        corr_matrix: pd.DataFrame | None,
        candidate: str,
        size: float,
        max_exposure_override: float | None,
    ) -> EntryLimit:
        matrix = self.correlation_matrix if corr_matrix is None else corr_matrix
        matrix = matrix.rename(index=symbol_key, columns=symbol_key)
        known = set(matrix.columns)

        def rho_many(a: str, others: list[str]) -> list[float]:
            return [
                float(matrix.at[a, b]) if a in known and b in known else math.nan for b in others
            ]

        cap = self.config.max_correlated_exposure
        if max_exposure_override is not None:
            cap = validation.number(
                "max_exposure_override", max_exposure_override, above=0, at_most=1
            )
        return self._limit(candidate, size, positions, rho_many, cap, {})

    def _limit(
        self,
        candidate: str,
        size: float,
        positions: Mapping[str, float],
        rho_many: Callable[[str, list[str]], list[float]],
        cap: float,
        computed: Mapping[tuple[str, str], float],
    ) -> EntryLimit:
        held = {s: v for s, v in _keyed(positions).items() if v != 0}
        key = symbol_key(candidate)
        group = self._component(key, [s for s in held if s != key], rho_many)
        if len(group) < 2:
            return EntryLimit(key, size, size, (), 0.0, cap, computed)
        members = tuple(sorted(s for s in group if s in held))
        net = sum(held[s] for s in members)
        return EntryLimit(key, size, size, members, net, cap, computed).resized(size)

    def _component(
        self,
        start: str,
        nodes: Sequence[str],
        rho_many: Callable[[str, list[str]], list[float]],
    ) -> set[str]:
        """
        The connected component of ``start`` over ``nodes``: each member reached is correlated
        once with the nodes not reached yet, so a decision costs at most (members x nodes)
        correlations of one window each, and a single pass when everything groups.
        """
        threshold = self.config.correlation_threshold
        reached = {start}
        remaining = [n for n in nodes if n != start]
        frontier = [start]
        while frontier and remaining:
            member = frontier.pop()
            values = rho_many(member, remaining)
            joined = [n for n, r in zip(remaining, values, strict=True) if r >= threshold]
            reached.update(joined)
            frontier.extend(joined)
            remaining = [n for n in remaining if n not in reached]
        return reached


def _standardised(
    returns: Mapping[str, np.ndarray], sample_min_size: int
) -> tuple[dict[str, int], np.ndarray] | None:
    """
    Without gaps, every pair has the same rows: standardise each column once, and a
    correlation is then one dot product. None when some return is missing (or too few rows).
    """
    if not returns:
        return None
    stacked = np.column_stack(list(returns.values()))
    if len(stacked) < sample_min_size or np.isnan(stacked).any():
        return None
    centred = stacked - stacked.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = centred / np.sqrt((centred * centred).sum(axis=0))
    return {s: i for i, s in enumerate(returns)}, z


def _keyed(mapping: Mapping[str, float]) -> dict[str, float]:
    return {symbol_key(symbol): value for symbol, value in mapping.items()}


def _as_arrays(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    index = pd.DatetimeIndex(series.index)
    if index.tz is None:
        raise validation.fail("series index", index[:1].tolist(), "must be timezone-aware (UTC)")
    order = np.argsort(index.asi8, kind="stable")
    dates = index.as_unit("ns").asi8[order]
    return dates, series.to_numpy(dtype=float)[order]


def _common_step(candles: Iterable[tuple[np.ndarray, np.ndarray]]) -> int | None:
    """The candle interval: the smallest gap between two candles of any series."""
    gaps = [np.diff(dates) for dates, _ in candles if len(dates) > 1]
    gaps = [g[g > 0] for g in gaps]
    steps = [int(g.min()) for g in gaps if len(g)]
    return min(steps) if steps else None
