"""
The account as a sizing decision may see it: realised equity, its peak and trough, point in time.

Equity here is the starting balance plus the realised profit (partial exits included) of every
exit filled strictly BEFORE the decision candle. A backtest stamps the exits of candle T with T's
open time and processes them before T's entries: those exits must not size T's entries, and
live the same rule holds, so backtest, hyperopt and live agree. Everything is rebuilt from
``Trade.get_trades_proxy``: a restarted bot sees the same account. Unrealised profit is left
out on purpose: it is what Freqtrade's own ``calculate_max_drawdown`` and the MaxDrawdown
protection measure too.
"""

import math
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime

from freqtrade.exchange import timeframe_to_prev_date, timeframe_to_seconds
from freqtrade.persistence import LocalTrade, Trade
from freqtrade.strategy import IStrategy

from freqtrade_posmgmt.profit import profit_abs


def decision_candle(timeframe: str, current_time: datetime) -> datetime:
    """
    Open time of the candle being decided, ``timeframe_to_prev_date(timeframe, current_time)``.
    In backtesting ``current_time`` already is that open time; live it is "now", inside the
    candle.
    """
    seconds = _FIXED_SECONDS.get(timeframe)
    if seconds is None:
        if timeframe[-1:] not in "smhd":
            return timeframe_to_prev_date(timeframe, current_time)  # calendar: week, month, year
        seconds = _FIXED_SECONDS[timeframe] = timeframe_to_seconds(timeframe)
    # The same arithmetic as ccxt's round_timeframe, without its per-call parsing.
    stamp = int(current_time.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, UTC)


_FIXED_SECONDS: dict[str, int] = {}


def starting_balance(strategy: IStrategy) -> float:
    """
    The balance drawdowns are measured from, as ``wallets.get_starting_balance()`` gives it (what
    Freqtrade's Protections use). Dry runs and backtests take it from the configuration: it is
    constant there (``dry_run_wallet`` x ``tradable_balance_ratio``), and Freqtrade's own
    computation sums every closed trade on each call.
    """
    config = strategy.config
    if "available_capital" in config:
        return float(config["available_capital"])
    if config.get("dry_run", True) or strategy.wallets is None:
        wallet = config.get("dry_run_wallet", 0.0)
        if isinstance(wallet, dict):
            wallet = wallet.get(config["stake_currency"], 0.0)
        return float(wallet) * config.get("tradable_balance_ratio", 0.99)
    return float(strategy.wallets.get_starting_balance())


@dataclass(frozen=True)
class EquityPoint:
    """Realised equity after the exits of one moment, with its running peak and trough."""

    time: float
    """Epoch seconds of the fills (0.0 for the starting balance)."""
    equity: float
    peak: float
    """Highest equity so far (the starting balance counts)."""
    trough: float
    """Lowest equity since ``peak`` was made (``peak`` itself right at a new peak)."""

    def then(self, time: float, equity: float) -> "EquityPoint":
        """The point after moving to ``equity`` at ``time``: a new peak resets the trough."""
        if equity >= self.peak:
            return EquityPoint(time, equity, equity, equity)
        return EquityPoint(time, equity, self.peak, min(self.trough, equity))


def exit_fills(trade: LocalTrade) -> list[tuple[float, float]]:
    """
    Each filled exit of ``trade`` as (epoch seconds, realised profit), in fill order. The
    profits replay Freqtrade's ``recalc_trade_from_orders``; for a closed trade the last one is
    adjusted so that they sum exactly to Freqtrade's ``close_profit_abs``.
    """
    exits = [o for o in trade.orders if o.ft_order_side != trade.entry_side and _filled(o)]
    if not trade.is_open and len(exits) == 1:
        return [(_fill_time(exits[0], trade), float(trade.close_profit_abs or 0.0))]
    fills: list[tuple[float, float]] = []
    amount = cost = average = funding = 0.0
    for order in trade.orders:
        if not _filled(order):
            continue
        funding += order.funding_fee or 0.0
        quantity, price = order.safe_amount_after_fee, order.safe_price
        if order.ft_order_side == trade.entry_side:
            amount += quantity
            cost += quantity * price
            average = cost / amount if amount > 0 else average
            continue
        profit = profit_abs(
            price,
            open_rate=average,
            is_short=trade.is_short,
            amount=quantity,
            fee_open=trade.fee_open or 0.0,
            fee_close=trade.fee_close or 0.0,
            funding_fees=funding,
        )
        fills.append((_fill_time(order, trade), profit))
        funding = 0.0
        amount -= quantity
        cost -= quantity * average
    if fills and not trade.is_open and trade.close_profit_abs is not None:
        time, _ = fills[-1]
        fills[-1] = (time, trade.close_profit_abs - sum(p for _, p in fills[:-1]))
    return fills


def _filled(order: object) -> bool:
    return not order.ft_is_open and bool(order.filled)


def _fill_time(order: object, trade: LocalTrade) -> float:
    filled = order.order_filled_utc or trade.close_date_utc or trade.open_date_utc
    return filled.timestamp()


class _Ledger:
    """
    The equity path of the closed trades' exits, one point per fill time, kept in time order and
    extended as trades close (in backtesting they are appended to ``LocalTrade.bt_trades`` in
    closing order, so a new trade only appends, except for an early partial exit).
    """

    def __init__(self, start: float) -> None:
        self.start = EquityPoint(0.0, start, start, start)
        self.times: list[float] = []
        self.profits: list[float] = []
        self.points: list[EquityPoint] = []
        # Each closed trade's close time (epoch seconds) and profit, in closing order.
        self.close_times: list[float] = []
        self.closes: list[tuple[datetime, float]] = []
        self.seen: tuple = ()
        self.count = 0
        self.total = 0.0
        """Sum of the closed trades' ``close_profit_abs``."""

    def add(self, time: float, profit: float) -> None:
        index = bisect_left(self.times, time)
        if index < len(self.times) and self.times[index] == time:
            self.profits[index] += profit  # one point per moment: fills of a candle act at once
        else:
            self.times.insert(index, time)
            self.profits.insert(index, profit)
        del self.points[index:]
        previous = self.points[-1] if self.points else self.start
        for i in range(index, len(self.times)):
            previous = previous.then(self.times[i], previous.equity + self.profits[i])
            self.points.append(previous)

    def at(self, before: float) -> EquityPoint:
        """The last point strictly before ``before``."""
        index = bisect_left(self.times, before)
        return self.points[index - 1] if index else self.start


def _trade_key(trade: LocalTrade) -> tuple:
    return trade.id, trade.open_date, trade.close_date, trade.close_profit_abs


def _ledger(strategy: IStrategy) -> _Ledger:
    """The strategy's ledger, brought up to date with the closed trades."""
    closed = Trade.get_trades_proxy(is_open=False)
    if Trade.use_db:
        # Live queries come back unsorted.
        closed = sorted(closed, key=lambda t: (t.close_date or t.open_date, t.id))
    start = starting_balance(strategy)
    ledger: _Ledger | None = strategy.__dict__.get("_pm_ledger")
    count = len(closed)
    # A new backtest or hyperopt epoch restarts trade ids and the list: check the prefix.
    if (
        ledger is None
        or ledger.start.equity != start
        or count < ledger.count
        or (ledger.count and _trade_key(closed[ledger.count - 1]) != ledger.seen)
    ):
        ledger = _extended(_Ledger(start), closed)
    else:
        ledger = _extended(ledger, closed)
    # In backtesting Freqtrade keeps the closed trades' total: a ledger of another epoch's
    # history that happened to end in an identical trade would not match it.
    if not Trade.use_db and not math.isclose(
        ledger.total, LocalTrade.bt_total_profit, rel_tol=1e-9, abs_tol=1e-6
    ):
        ledger = _extended(_Ledger(start), closed)
    strategy.__dict__["_pm_ledger"] = ledger
    return ledger


def _extended(ledger: _Ledger, closed: list[LocalTrade]) -> _Ledger:
    """``ledger`` with the trades of ``closed`` it has not seen yet."""
    if len(closed) > ledger.count:
        for trade in closed[ledger.count :]:
            for time, profit in exit_fills(trade):
                ledger.add(time, profit)
            closed_at = trade.close_date_utc or trade.open_date_utc
            ledger.close_times.append(closed_at.timestamp())
            ledger.closes.append((closed_at, float(trade.close_profit_abs or 0.0)))
            ledger.total += trade.close_profit_abs or 0.0
        ledger.count = len(closed)
        ledger.seen = _trade_key(closed[-1])
    return ledger


def realised_point(strategy: IStrategy, current_time: datetime) -> EquityPoint:
    """
    Realised equity, its peak and its trough as seen when deciding the candle of
    ``current_time``: closed trades, and partial exits of open ones, filled before that candle.
    Cheap: the closed trades' path is extended only when a trade closed.
    """
    before = decision_candle(strategy.timeframe, current_time).timestamp()
    ledger = _ledger(strategy)
    partials = sorted(
        (time, profit)
        for trade in Trade.get_trades_proxy(is_open=True)
        if trade.realized_profit
        for time, profit in exit_fills(trade)
        if time < before
    )
    if not partials:
        return ledger.at(before)
    # Merge the open trades' partial exits into the closed path from the first of them on.
    first = partials[0][0]
    point = ledger.at(first)
    index = bisect_left(ledger.times, first)
    later = [
        (t, p)
        for t, p in zip(ledger.times[index:], ledger.profits[index:], strict=True)
        if t < before
    ]
    merged: dict[float, float] = {}
    for time, profit in later + partials:
        merged[time] = merged.get(time, 0.0) + profit
    for time in sorted(merged):
        point = point.then(time, point.equity + merged[time])
    return point


def realised_equity(strategy: IStrategy, current_time: datetime) -> float:
    """
    Starting balance plus the realised profit of every exit filled before the decision candle
    of ``current_time`` (partial exits of open trades included).
    """
    return realised_point(strategy, current_time).equity


def realised_equity_path(strategy: IStrategy, current_time: datetime) -> list[EquityPoint]:
    """
    Every point of the realised equity path before the decision candle of ``current_time``,
    starting with the starting balance (time 0.0). For reports and tests; O(trades).
    """
    before = decision_candle(strategy.timeframe, current_time).timestamp()
    ledger = _ledger(strategy)
    return [ledger.start] + ledger.points[: bisect_left(ledger.times, before)]


def closed_trades(
    strategy: IStrategy, current_time: datetime, since: datetime
) -> list[tuple[datetime, float]]:
    """
    (close time, ``close_profit_abs``) of the trades closed from ``since`` up to, not including,
    the decision candle of ``current_time``, in closing order.
    """
    before = decision_candle(strategy.timeframe, current_time).timestamp()
    ledger = _ledger(strategy)
    start = bisect_left(ledger.close_times, since.timestamp())
    return ledger.closes[start : bisect_left(ledger.close_times, before)]
