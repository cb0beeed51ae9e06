"""
Run variants through the compiled kernel on a :class:`~freqtrade_posmgmt.lab.data.LabData`.
Framework-free: the data object only carries numpy arrays and numbers.
"""

import contextlib
import dataclasses
import gc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from freqtrade_posmgmt.dynamic_risk import (
    SECONDS_PER_DAY,
    DynamicRiskConfig,
    daily_volatility_series,
)
from freqtrade_posmgmt.lab import kernel
from freqtrade_posmgmt.lab.data import HISTORY_REACH_DAYS
from freqtrade_posmgmt.lab.refusals import LabRefusal
from freqtrade_posmgmt.lab.variants import (
    atr_period,
    ladder_table,
    parameter_row,
    resolve,
    risk_tables,
    scale_in_table,
)
from freqtrade_posmgmt.market_sessions import datetime_utc
from freqtrade_posmgmt.partial_manager import SOLD_ALL_NOTE, level_tag
from freqtrade_posmgmt.time_exits import TimeExitPolicy


def _capacity(data: Any) -> int:
    # Every trade consumes one entry signal (and a reversal one more).
    return int(data.enter_long.sum() + data.enter_short.sum()) + len(data.pairs) + 1


def _tables(data: Any) -> tuple[np.ndarray, np.ndarray]:
    """Empty trade and order tables big enough for any variant on ``data``."""
    trades = np.empty((_capacity(data), kernel.N_TRADE_COLUMNS))
    # Each trade: its entry, at most one partial exit and one add per level.
    orders = np.empty((_capacity(data) * (1 + 2 * kernel.MAX_TARGETS), kernel.N_ORDER_COLUMNS))
    return trades, orders


def run_trades(
    data: Any,
    variant: dict[str, Any],
    trades: np.ndarray | None = None,
    orders: np.ndarray | None = None,
) -> np.ndarray:
    """The variant's closed trades, rows of ``kernel.T_*`` columns, in closing order."""
    return run_trades_and_orders(data, variant, trades, orders)[0]


def run_trades_and_orders(
    data: Any,
    variant: dict[str, Any],
    trades: np.ndarray | None = None,
    orders: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """
    The variant's closed trades (rows of ``kernel.T_*`` columns, in closing order) and its
    entries and partial exits (rows of ``kernel.O_*`` columns, in filling order).
    """
    params, roi, locks = parameter_row(variant)
    policies = resolve(variant)
    rules, weekend_due, day_end_due, closed, refused = time_arrays(data, policies["time_exits"])
    ladder = ladder_table(policies["partial_exits"])
    adds = scale_in_table(policies["partial_exits"])
    risk_tiers, risk_recovery = risk_tables(policies["dynamic_risk"])
    risk_volatility = daily_volatility(data, policies["dynamic_risk"])
    period = atr_period(variant)
    atr = data.atr(period) if period is not None else _no_atr(data)
    if trades is None or orders is None:
        trades, orders = _tables(data)
    counts = np.zeros(1, dtype=np.int64)
    direction, candidates, candidate_start = entry_candidates(data)
    n = kernel.backtest(
        data.times,
        data.opens,
        data.highs,
        data.lows,
        data.closes,
        data.valid,
        data.enter_long,
        data.exit_long,
        data.enter_short,
        data.exit_short,
        direction,
        candidates,
        candidate_start,
        atr,
        data.leverage_long,
        data.leverage_short,
        data.price_digits,
        data.amount_digits,
        data.min_stake_base,
        data.min_amount,
        data.max_cost,
        data.max_amount,
        data.min_cost,
        data.amount_reserve,
        data.can_short,
        data.fee,
        data.start_balance,
        data.tradable_ratio,
        data.stake_amount,
        data.max_open_trades,
        data.timeframe_minutes,
        params,
        roi,
        locks,
        rules,
        weekend_due,
        day_end_due,
        closed,
        refused,
        ladder,
        adds,
        risk_tiers,
        risk_recovery,
        risk_volatility,
        trades,
        orders,
        counts,
    )
    return trades[:n], orders[: counts[0]]


_CANDIDATES: dict[tuple, tuple] = {}


def entry_candidates(data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    The entry each candle's shifted signals ask for (1 long, -1 short, 0 none; a contradicting
    signal cancels it, as the backtester's ``check_for_trade_entry``), and per candle the pairs
    with a valid candle and an entry, in whitelist order: (directions (P, T), pairs, start of
    each candle's pairs (T + 1)). The same for every variant: computed once per data.
    """
    key = (id(data), data.opens.shape)
    if key in _CANDIDATES:
        return _CANDIDATES[key]
    long = data.enter_long == 1
    short = data.enter_short == 1
    if data.can_short:
        wants_long = long & ~((data.exit_long == 1) | short)
        wants_short = short & ~((data.exit_short == 1) | long)
    else:
        wants_long = long & ~(data.exit_long == 1)
        wants_short = np.zeros_like(long)
    direction = wants_long.astype(np.int8) - wants_short.astype(np.int8)
    asking = (direction != 0) & data.valid
    times, pairs = np.nonzero(asking.T)  # by candle, then by pair
    start = np.searchsorted(times, np.arange(len(data.times) + 1)).astype(np.int64)
    _CANDIDATES.clear()
    _CANDIDATES[key] = (direction, pairs.astype(np.int64), start)
    return _CANDIDATES[key]


_TIME_ARRAYS: dict[tuple, tuple] = {}


def time_arrays(data: Any, policy: TimeExitPolicy | None) -> tuple:
    """
    The time rules of ``policy`` at every candle, as ``TimeExitPolicy._exit_reason`` and
    ``entry_refusal`` decide them: (switches, weekend due, end-of-day due, session closed, entry
    refused). Computed once per policy and data.
    """
    # Policies are shared objects (variants.resolve caches them): the usual lookup is by identity.
    known = _BY_POLICY.get((id(data), len(data.times), id(policy)))
    if known is not None and known[0] is policy:
        return known[1]
    found = _time_arrays(data, policy)
    if len(_BY_POLICY) > 4096:
        _BY_POLICY.clear()
    _BY_POLICY[(id(data), len(data.times), id(policy))] = (policy, found)
    return found


_BY_POLICY: dict[tuple, tuple] = {}


def _time_arrays(data: Any, policy: TimeExitPolicy | None) -> tuple:
    # The maximum holding time is a kernel parameter: policies differing only there share these.
    rules_only = None
    if policy is not None:
        rules_only = tuple(
            (f.name, getattr(policy, f.name))
            for f in dataclasses.fields(policy)
            if f.init and f.name != "max_holding_hours"
        )
    key = (id(data), len(data.times), repr(rules_only))
    if key in _TIME_ARRAYS:
        return _TIME_ARRAYS[key]
    if len(_TIME_ARRAYS) > 64:
        _TIME_ARRAYS.clear()
    size = len(data.times)
    weekend_due = np.full(size, np.inf)
    day_end_due = np.full(size, np.inf)
    closed = np.zeros(size, dtype=np.bool_)
    refused = np.zeros(size, dtype=np.bool_)
    rules = np.zeros(3)
    if policy is not None and (
        policy._weekend is not None or policy._gate_on_session or policy._exit_when_closed
    ):
        rules[:] = (
            policy._weekend is not None,
            policy.end_of_day_flat,
            policy._exit_when_closed,
        )
        times = data.times.tolist()
        if rules[2]:
            for i, now_us in enumerate(times):
                closed[i] = now_us >= policy._open_until(now_us)
        # Entries happen only on candles with an entry signal: the entry-time rules are needed
        # there alone.
        signals = data.enter_long.any(axis=0)
        if data.can_short:
            signals |= data.enter_short.any(axis=0)
        for i in np.flatnonzero(signals).tolist():
            now_us = times[i]
            if rules[0]:
                weekend_due[i] = policy._weekend_start(now_us)
            if rules[1]:
                day_end_due[i] = policy._day_end(now_us)
            refused[i] = policy.entry_refusal(datetime_utc(now_us)) is not None
    _TIME_ARRAYS[key] = (rules, weekend_due, day_end_due, closed, refused)
    return _TIME_ARRAYS[key]


_VOLATILITY: dict[tuple, np.ndarray] = {}


def daily_volatility(data: Any, policy: DynamicRiskConfig | None) -> np.ndarray:
    """
    Per pair and candle, the pair's daily volatility as ``DynamicRiskMixin`` reads it at an
    entry (NaN where unknown, or with the volatility adjustment off): of the closes up to the
    candle's UTC day start, over the policy's window, which a backtest reads from the candle
    files before the timerange. Computed once per window; the kernel applies the bands.
    """
    if policy is None or not policy.enabled or not policy.volatility_adjustment_enabled:
        window = 0
    else:
        window = policy.volatility_window_days
    key = (id(data), data.opens.shape, window)
    if key in _VOLATILITY:
        return _VOLATILITY[key]
    if len(_VOLATILITY) > 64:
        _VOLATILITY.clear()
    out = np.full(data.opens.shape, np.nan)
    if window:
        days = data.times // 1_000_000 // SECONDS_PER_DAY * SECONDS_PER_DAY
        for p, pair in enumerate(data.pairs):
            first, volatility = daily_volatility_series(*_daily_closes(data, pair, window), window)
            index = (days - first) // SECONDS_PER_DAY
            known = (index >= 0) & (index < len(volatility))
            out[p, known] = volatility[index[known].astype(np.int64)]
    _VOLATILITY[key] = out
    return out


def _daily_closes(data: Any, pair: str, window: int) -> tuple[np.ndarray, np.ndarray]:
    """
    Candle open times (epoch seconds) and closes, as ``DynamicRiskHooks.closes``
    reads them in a backtest: from the candle files, reaching the window before the timerange.
    """
    if data.history_start is not None:
        if window + 2 > HISTORY_REACH_DAYS:
            raise LabRefusal(f"dynamic_risk.volatility_window_days above {HISTORY_REACH_DAYS - 2}")
        dates, closes = data.history[pair]
        keep = dates >= data.history_start - (window + 2) * SECONDS_PER_DAY
        return dates[keep], closes[keep]
    frame = data.analysed[pair]
    opens = frame["date"].dt.as_unit("s").astype("int64").to_numpy()
    return opens, frame["close"].to_numpy(float)


_NO_ATR: dict[tuple, np.ndarray] = {}


def _no_atr(data: Any) -> np.ndarray:
    key = (id(data), data.opens.shape)
    if key not in _NO_ATR:
        _NO_ATR.clear()
        _NO_ATR[key] = np.full(data.opens.shape, np.nan)
    return _NO_ATR[key]


def run_metrics(
    data: Any,
    variants: list[dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Metrics (``kernel.M_*`` columns) of each variant, in order."""
    out = np.zeros((len(variants), kernel.N_METRICS))
    trades, orders = _tables(data)
    with _no_cyclic_gc():
        for i, variant in enumerate(variants):
            done = run_trades(data, variant, trades, orders)
            kernel.metrics(done, len(done), data.start_balance, out[i], data.years)
            if progress is not None:
                progress(i + 1)
    return out


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """
    The cyclic garbage collector paused: a variant leaves no cycles (reference counting frees
    it), and its collections among the loaded frames took a tenth of a run's time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def variant_records(data: Any, variant: dict[str, Any]) -> list[dict[str, Any]]:
    """The variant's trades as the export writes them, with their orders and exit tags."""
    trades, orders = run_trades_and_orders(data, variant)
    targets = tuple(ladder_table(resolve(variant)["partial_exits"])[:, 0])
    return trade_records(data, trades, orders, targets)


def _exit_reason(row: np.ndarray, targets: tuple[float, ...]) -> str:
    """The trade's exit reason; a closing ladder order's is its tag (PartialExit.tag)."""
    reason = int(row[kernel.T_REASON])
    if reason != kernel.PARTIAL_EXIT_ALL:
        return kernel.EXIT_REASONS[reason]
    levels = int(row[kernel.T_LEVELS])
    fired = [t for k, t in enumerate(targets) if (levels >> k) & 1]
    return level_tag("tp", fired) + (SOLD_ALL_NOTE if row[kernel.T_REST_BELOW_MIN] else "")


def _trade_orders(
    data: Any, row: np.ndarray, orders: np.ndarray
) -> list[tuple[int, bool, float, float]]:
    """A trade's filled orders (time in ms, is exit, amount, rate), its last exit included."""
    pair, opened = row[kernel.T_PAIR], row[kernel.T_OPEN_INDEX]
    mine = orders[(orders[:, kernel.O_PAIR] == pair) & (orders[:, kernel.O_OPEN_INDEX] == opened)]
    found = [
        (
            int(data.times[int(o[kernel.O_INDEX])] // 1000),
            bool(o[kernel.O_IS_EXIT]),
            float(o[kernel.O_AMOUNT]),
            float(o[kernel.O_RATE]),
        )
        for o in mine
    ]
    close = int(data.times[int(row[kernel.T_CLOSE_INDEX])] // 1000)
    found.append((close, True, float(row[kernel.T_AMOUNT]), float(row[kernel.T_CLOSE_RATE])))
    return found


def trade_records(
    data: Any,
    trades: np.ndarray,
    orders: np.ndarray | None = None,
    targets: tuple[float, ...] = (),
) -> list[dict[str, Any]]:
    """
    Trades as the export writes them (dates as epoch milliseconds), by open date and pair;
    with ``orders`` (``run_trades_and_orders``), each with its filled orders.
    """
    records = []
    for row in trades:
        records.append(
            {
                "pair": data.pairs[int(row[kernel.T_PAIR])],
                "open_timestamp": int(data.times[int(row[kernel.T_OPEN_INDEX])] // 1000),
                "close_timestamp": int(data.times[int(row[kernel.T_CLOSE_INDEX])] // 1000),
                "is_short": bool(row[kernel.T_IS_SHORT]),
                "open_rate": float(row[kernel.T_OPEN_RATE]),
                "close_rate": float(row[kernel.T_CLOSE_RATE]),
                "amount": float(row[kernel.T_AMOUNT]),
                "stake_amount": float(row[kernel.T_STAKE]),
                "leverage": float(row[kernel.T_LEVERAGE]),
                "exit_reason": _exit_reason(row, targets),
                "profit_abs": float(row[kernel.T_PROFIT_ABS]),
                "profit_ratio": float(row[kernel.T_PROFIT_RATIO]),
            }
        )
        if orders is not None:
            records[-1]["orders"] = _trade_orders(data, row, orders)
    records.sort(key=lambda r: (r["open_timestamp"], r["pair"]))
    return records
