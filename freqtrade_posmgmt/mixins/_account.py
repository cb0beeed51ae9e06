"""
The account as a sizing decision may see it: realised equity, its peak and trough, point in time.

Equity here is the starting balance plus the realised profit (partial exits included) of every
exit filled strictly BEFORE the decision candle. A backtest stamps the exits of candle T with T's
open time and processes them before T's entries: those exits must not size T's entries, and
live the same rule holds, so backtest, hyperopt and live agree. Everything is rebuilt from
``Trade.get_trades_proxy``: a restarted bot sees the same account. Unrealised profit is left
out on purpose: it is what Freqtrade's own ``calculate_max_drawdown`` and the MaxDrawdown
protection measure too.

The arithmetic is the framework-free :class:`~freqtrade_posmgmt.ledger.EquityLedger`; this module
feeds it the fills of Freqtrade's trades (:func:`trade_fills`) and keeps it on the strategy.
"""

import math
from datetime import UTC, datetime

from freqtrade.exchange import timeframe_to_prev_date, timeframe_to_seconds
from freqtrade.persistence import LocalTrade, Trade
from freqtrade.strategy import IStrategy

from freqtrade_posmgmt.fills import Fill, exit_profits
from freqtrade_posmgmt.ledger import EquityLedger, EquityPoint


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


def trade_fills(trade: LocalTrade) -> list[Fill]:
    """The filled orders of ``trade`` as plain :class:`~freqtrade_posmgmt.fills.Fill` values."""
    return [
        Fill(
            time=_fill_time(order, trade),
            is_entry=order.ft_order_side == trade.entry_side,
            amount=order.safe_amount_after_fee,
            filled=order.safe_filled,
            price=order.safe_price,
            funding_fee=order.funding_fee or 0.0,
            tag=order.ft_order_tag,
        )
        for order in trade.orders
        if _filled(order)
    ]


def exit_fills(trade: LocalTrade) -> list[tuple[float, float]]:
    """
    Each filled exit of ``trade`` as (epoch seconds, realised profit), in fill order. The
    profits replay Freqtrade's ``recalc_trade_from_orders``; for a closed trade the last one is
    adjusted so that they sum exactly to Freqtrade's ``close_profit_abs``.
    """
    exits = [o for o in trade.orders if o.ft_order_side != trade.entry_side and _filled(o)]
    if not trade.is_open and len(exits) == 1:
        return [(_fill_time(exits[0], trade), float(trade.close_profit_abs or 0.0))]
    fills = exit_profits(
        trade_fills(trade),
        is_short=trade.is_short,
        fee_open=trade.fee_open or 0.0,
        fee_close=trade.fee_close or 0.0,
    )
    if fills and not trade.is_open and trade.close_profit_abs is not None:
        time, _ = fills[-1]
        fills[-1] = (time, trade.close_profit_abs - sum(p for _, p in fills[:-1]))
    return fills


def _filled(order: object) -> bool:
    return not order.ft_is_open and bool(order.filled)


def _fill_time(order: object, trade: LocalTrade) -> float:
    filled = order.order_filled_utc or trade.close_date_utc or trade.open_date_utc
    return filled.timestamp()


def _trade_key(trade: LocalTrade) -> tuple:
    return trade.id, trade.open_date, trade.close_date, trade.close_profit_abs


class _AccountState:
    """The strategy's ledger and the last closed trade it has seen (a new backtest restarts)."""

    def __init__(self, start: float) -> None:
        self.ledger = EquityLedger(start)
        self.seen: tuple = ()


def _ledger(strategy: IStrategy) -> EquityLedger:
    """The strategy's ledger, brought up to date with the closed trades."""
    closed = Trade.get_trades_proxy(is_open=False)
    if Trade.use_db:
        # Live queries come back unsorted.
        closed = sorted(closed, key=lambda t: (t.close_date or t.open_date, t.id))
    start = starting_balance(strategy)
    state: _AccountState | None = strategy.__dict__.get("_pm_account")
    count = len(closed)
    # A new backtest or hyperopt epoch restarts trade ids and the list: check the prefix.
    if (
        state is None
        or state.ledger.start.equity != start
        or count < state.ledger.count
        or (state.ledger.count and _trade_key(closed[state.ledger.count - 1]) != state.seen)
    ):
        state = _extended(_AccountState(start), closed)
    else:
        state = _extended(state, closed)
    # In backtesting Freqtrade keeps the closed trades' total: a ledger of another epoch's
    # history that happened to end in an identical trade would not match it.
    if not Trade.use_db and not math.isclose(
        state.ledger.total, LocalTrade.bt_total_profit, rel_tol=1e-9, abs_tol=1e-6
    ):
        state = _extended(_AccountState(start), closed)
    strategy.__dict__["_pm_account"] = state
    return state.ledger


def _extended(state: _AccountState, closed: list[LocalTrade]) -> _AccountState:
    """``state`` with the trades of ``closed`` its ledger has not seen yet."""
    ledger = state.ledger
    if len(closed) > ledger.count:
        for trade in closed[ledger.count :]:
            ledger.close(
                exit_fills(trade),
                trade.close_date_utc or trade.open_date_utc,
                float(trade.close_profit_abs or 0.0),
            )
        state.seen = _trade_key(closed[-1])
    return state


def realised_point(strategy: IStrategy, current_time: datetime) -> EquityPoint:
    """
    Realised equity, its peak and its trough as seen when deciding the candle of
    ``current_time``: closed trades, and partial exits of open ones, filled before that candle.
    Cheap: the closed trades' path is extended only when a trade closed.
    """
    before = decision_candle(strategy.timeframe, current_time).timestamp()
    ledger = _ledger(strategy)
    partials = [
        fill
        for trade in Trade.get_trades_proxy(is_open=True)
        if trade.realized_profit
        for fill in exit_fills(trade)
    ]
    return ledger.with_open_exits(partials, before)


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
    return _ledger(strategy).path(before)


def closed_trades(
    strategy: IStrategy, current_time: datetime, since: datetime
) -> list[tuple[datetime, float]]:
    """
    (close time, ``close_profit_abs``) of the trades closed from ``since`` up to, not including,
    the decision candle of ``current_time``, in closing order.
    """
    before = decision_candle(strategy.timeframe, current_time).timestamp()
    return _ledger(strategy).closed_between(since.timestamp(), before)
