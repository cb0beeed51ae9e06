"""
The exit lab's compiled backtest loop: Freqtrade's backtester rules, candle by candle, for many
exit variants on one set of signals. Framework-free (numpy and numba; the exact decimal steps
import ccxt's ``Precise``, which Freqtrade's ``FtPrecise`` is, when they run).

Every rule follows ``freqtrade/optimize/backtesting.py`` and ``strategy/interface.py`` of the
installed Freqtrade (see ``docs/lab.md`` for the list and the line references in
``shared/notes/exit-semantics.md``): entries at the open of the candle after the signal, exits
checked on the entry candle too, exit signal / custom exit at the open, stop at the stop price
(or the open when the candle opens below it), ROI at the fee-inverted rate clipped to the candle,
the entry candle's trailing exit at the worst case, force exit at the last row's open; pairs with
open trades visited first (in opening order), then the whitelist; ``max_open_trades`` and the
wallet as ``Wallets`` computes them. The package's trailing policy is
``TrailingStopPolicy.stop_and_source`` and ``profit.stoploss_ratio`` ported line by line, as the
``TrailingStopMixin`` applies them through ``custom_stoploss``; the partial-exit ladder and
scale-ins (``PartialExitPolicy``) at the open as ``adjust_trade_position`` answers there, filled
and recalculated as the backtester does; dynamic risk's drawdown tier and volatility band on
every stake (``DynamicRiskManager``), from the realised equity the mixin reads.
"""

import math

import numpy as np
from numba import njit, objmode

# Exit reasons, in the order of :data:`EXIT_REASONS`.
(
    EXIT_SIGNAL,
    STOP_LOSS,
    ROI,
    TRAILING_STOP_LOSS,
    FORCE_EXIT,
    TIME_MAX_HOLDING,
    TIME_WEEKEND,
    TIME_END_OF_DAY,
    TIME_SESSION_CLOSED,
    PARTIAL_EXIT_ALL,
) = range(10)
EXIT_REASONS = (
    "exit_signal",
    "stop_loss",
    "roi",
    "trailing_stop_loss",
    "force_exit",
    "time_max_holding",
    "time_weekend",
    "time_end_of_day",
    "time_session_closed",
    # The ladder's own order closed the trade: its tag (lab.runner names the levels).
    "partial_exit",
)

# Columns of a variant's parameter row (see lab.variants.parameter_row).
(
    P_STOPLOSS,
    P_TRAILING_STOP,
    P_TRAILING_POSITIVE,
    P_TRAILING_OFFSET,
    P_TRAILING_ONLY_OFFSET,
    P_USE_EXIT_SIGNAL,
    P_EXIT_PROFIT_ONLY,
    P_EXIT_PROFIT_OFFSET,
    P_IGNORE_ROI_IF_ENTRY,
    P_PM_TRAIL,
    P_ACTIVATION,
    P_DISTANCE,
    P_ATR_MULTIPLIER,
    P_BREAKEVEN_THRESHOLD,
    P_BREAKEVEN_BUFFER,
    P_MAX_HOLDING_US,
    P_TRAIL_ON_CLOSE,
    P_RISK,
    P_MAX_SCALE_INS,
    P_SCALE_IN_AFTER_EXIT,
    P_SCALE_IN_MIN_CANDLES,
    P_VOLATILITY_HIGH,
    P_VOLATILITY_LOW,
    P_VOLATILITY_HIGH_FACTOR,
    P_VOLATILITY_LOW_FACTOR,
    N_PARAMS,
) = range(26)

# Columns of the trade table.
(
    T_PAIR,
    T_OPEN_INDEX,
    T_CLOSE_INDEX,
    T_IS_SHORT,
    T_OPEN_RATE,
    T_CLOSE_RATE,
    T_AMOUNT,
    T_STAKE,
    T_LEVERAGE,
    T_REASON,
    T_PROFIT_ABS,
    T_PROFIT_RATIO,
    T_LEVELS,
    T_REST_BELOW_MIN,
    N_TRADE_COLUMNS,
) = range(15)

# Columns of the order table: every entry and partial exit (a trade's last exit is its row).
(
    O_PAIR,
    O_OPEN_INDEX,
    O_INDEX,
    O_IS_EXIT,
    O_AMOUNT,
    O_RATE,
    N_ORDER_COLUMNS,
) = range(7)

# The exit ladder's rows (target, size), NaN-padded.
MAX_TARGETS = 8
# Columns of the per-pair position facts a partial exit or a scale-in changes.
(
    POS_AVG,  # float(avg_price) of recalc_trade_from_orders: the exits' profit basis
    POS_HELD,  # the amount held as fills.holdings sums it (its peak sizes the ladder)
    POS_FIRST_STAKE,  # the first entry's stake (the scale-ins' unit)
    POS_ADDS,  # scale-in levels fired, a bit mask
    POS_ENTRIES,  # filled entries
    POS_EXITED,  # some exit filled
    POS_LAST_FILL,  # candle of the last fill
    POS_STAKED,  # entries' decimal stake in units of tick x lot, while integers hold it exactly
    POS_LOTS,  # entries' amount in lots
    POS_FIRST_ORDER,  # row of the trade's entry in the order table
    POS_STAKE_ROUGH,  # the stake is within an ulp of Freqtrade's, not equal to it
    POS_QUIET_LOW,  # open prices strictly between these fire no exit target nor add
    POS_QUIET_HIGH,
    N_POS,
) = range(14)

# Dynamic risk's drawdown tiers, rows (threshold, factor), and recovery thresholds, NaN-padded.
MAX_TIERS = 8

# Columns of a variant's metrics row.
(
    M_TRADES,
    M_PROFIT_ABS,
    M_PROFIT_RATIO,
    M_MAX_DRAWDOWN,
    M_CALMAR,
    M_WIN_RATE,
    M_PROFIT_FACTOR,
    N_METRICS,
) = range(8)


_POWERS_OF_TEN = np.array([10.0**k for k in range(23)])


@njit(cache=True)
def _pow10(digits: int) -> float:
    return _POWERS_OF_TEN[digits]


@njit(cache=True)
def _ticks_floor(price: float, digits: int) -> float:
    """Whole ticks (of 10**-digits) at or below the decimal ``price`` stands for."""
    scale = _pow10(digits)
    n = math.floor(price * scale)
    if (n + 1) / scale <= price:
        n += 1
    elif n / scale > price:
        n -= 1
    return n


@njit(cache=True)
def price_round_up(price: float, digits: int) -> float:
    """``price_to_precision(price, 10**-digits, TICK_SIZE, rounding_mode=ROUND_UP)``."""
    scale = _pow10(digits)
    n = _ticks_floor(price, digits)
    if n / scale == price:
        return price
    # n / scale is already the float nearest the decimal: Freqtrade's round(.., 14) keeps it.
    return (n + 1) / scale


@njit(cache=True)
def price_round_down(price: float, digits: int) -> float:
    """``price_to_precision(price, 10**-digits, TICK_SIZE, rounding_mode=ROUND_DOWN)``."""
    scale = _pow10(digits)
    n = _ticks_floor(price, digits)
    if n / scale == price:
        return price
    return n / scale


@njit(cache=True)
def price_round(price: float, digits: int) -> float:
    """``price_to_precision(price, 10**-digits, TICK_SIZE)`` (ccxt's ROUND: half up)."""
    scale = _pow10(digits)
    n = _ticks_floor(price, digits)
    if n / scale == price:
        return price
    if price * scale - n >= 0.5:
        n += 1
    return n / scale


@njit(cache=True)
def _two_product(a: float, b: float) -> tuple[float, float]:
    """a * b as an unevaluated sum (product, exact error) (Dekker)."""
    product = a * b
    split = 134217729.0  # 2**27 + 1
    t = split * a
    a_hi = t - (t - a)
    a_lo = a - a_hi
    t = split * b
    b_hi = t - (t - b)
    b_lo = b - b_hi
    error = ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return product, error


@njit(cache=True)
def round8(value: float) -> float:
    """Python's ``round(value, 8)`` (correctly rounded, ties to even), which Freqtrade uses."""
    scaled, error = _two_product(value, 1e8)
    if not abs(scaled) < 2.0**52:
        return value
    whole = math.floor(scaled)
    fraction = scaled - whole  # exact
    # The error is below half an ulp of ``scaled``: it only decides an apparent tie.
    if fraction > 0.5 or (fraction == 0.5 and (error > 0 or (error == 0 and whole % 2 == 1))):
        whole += 1
    return whole / 1e8


@njit(cache=True)
def amount_truncate(amount: float, digits: int) -> float:
    """``amount_to_precision``: truncated to the lot step 10**-digits (digits may be 0)."""
    scale = _pow10(digits)
    return _ticks_floor(amount, digits) / scale


@njit(cache=True)
def ft_profit_ratio(
    rate: float, open_rate: float, amount: float, fee: float, leverage: float, short: bool
) -> float:
    """``Trade.calc_profit_ratio(rate)`` (spot, or futures without funding)."""
    return round8(_ft_profit_raw(rate, open_rate, amount, fee, leverage, short))


@njit(cache=True)
def _ft_profit_raw(
    rate: float, open_rate: float, amount: float, fee: float, leverage: float, short: bool
) -> float:
    """``ft_profit_ratio`` before its ``round8``."""
    open_value = amount * open_rate
    close_value = amount * rate
    if short:
        open_value = open_value - open_value * fee
        close_value = close_value + close_value * fee
        if open_value == 0.0:
            return 0.0
        return (1 - close_value / open_value) * leverage
    open_value = open_value + open_value * fee
    close_value = close_value - close_value * fee
    if open_value == 0.0:
        return 0.0
    return (close_value / open_value - 1) * leverage


@njit(cache=True)
def _round8_above(raw: float, threshold: float) -> bool:
    """``round8(raw) > threshold``: round8 moves a value by at most 5e-9, so only a value that
    close to the threshold is rounded."""
    if raw > threshold + 1e-8:
        return True
    if raw < threshold - 1e-8:
        return False
    return round8(raw) > threshold


@njit(cache=True)
def ft_close_rate_for_roi(
    roi: float, open_rate: float, amount: float, fee: float, leverage: float, short: bool
) -> float:
    """``Trade.calc_close_rate_for_roi``."""
    open_value = amount * open_rate
    open_value = open_value - open_value * fee if short else open_value + open_value * fee
    value_at_1 = amount * 1.0
    value_at_1 = value_at_1 + value_at_1 * fee if short else value_at_1 - value_at_1 * fee
    side = -1.0 if short else 1.0
    adj = 1.0 + ((roi / leverage) / side)
    return (adj * open_value - 0.0) / value_at_1


@njit(cache=True)
def pm_profit_ratio(
    rate: float, open_rate: float, amount: float, fee: float, leverage: float, short: bool
) -> float:
    """``freqtrade_posmgmt.profit.profit_ratio`` (no funding), operation for operation."""
    sign = -1.0 if short else 1.0
    open_value = amount * open_rate * (1 + sign * fee)
    if open_value == 0:
        return 0.0
    close_value = amount * rate * (1 - sign * fee) + sign * 0.0
    return round8(sign * (close_value / open_value - 1) * leverage)


@njit(cache=True)
def pm_rate_for_profit(
    profit: float, open_rate: float, amount: float, fee: float, leverage: float, short: bool
) -> float:
    """``freqtrade_posmgmt.profit.rate_for_profit`` (no funding)."""
    sign = -1.0 if short else 1.0
    open_value = amount * open_rate * (1 + sign * fee)
    close_value = open_value * (1 + sign * profit / leverage) - sign * 0.0
    return close_value / (amount * (1 - sign * fee))


@njit(cache=True)
def pm_stoploss_ratio(stop_rate: float, current_rate: float, short: bool, leverage: float) -> float:
    """``freqtrade_posmgmt.profit.stoploss_ratio``; NaN for its None."""
    side = -1.0 if short else 1.0
    if current_rate <= 0 or side * (current_rate - stop_rate) <= 0:
        return np.nan
    ratio = side * (1 - stop_rate / current_rate) * leverage
    for _ in range(4):
        placed = current_rate * (1 - side * abs(ratio / leverage))
        if placed == stop_rate:
            break
        ratio += side * (placed - stop_rate) / current_rate * leverage
    return ratio


@njit(cache=True)
def pm_trailing_stop(
    params: np.ndarray,
    locks: np.ndarray,
    short: bool,
    open_rate: float,
    best_rate: float,
    atr: float,
    leverage: float,
    fee: float,
    amount: float,
) -> float:
    """``TrailingStopPolicy.stop_and_source(...)[0]``; NaN for its None."""
    best_profit = pm_profit_ratio(best_rate, open_rate, amount, fee, leverage, short)
    side = -1.0 if short else 1.0
    found = np.nan
    if best_profit > params[P_ACTIVATION]:
        multiplier = params[P_ATR_MULTIPLIER]
        if not math.isnan(multiplier) and not math.isnan(atr) and atr > 0:
            found = _tighter(found, best_rate - side * multiplier * atr, best_rate, side)
        else:
            trail = best_rate * (1 - side * abs(params[P_DISTANCE] / leverage))
            found = _tighter(found, trail, best_rate, side)
    locked = np.nan
    breakeven = params[P_BREAKEVEN_THRESHOLD]
    if not math.isnan(breakeven) and best_profit >= breakeven:
        locked = params[P_BREAKEVEN_BUFFER]
    for k in range(locks.shape[0]):
        trigger = locks[k, 0]
        if math.isnan(trigger):
            break
        if best_profit >= trigger and (math.isnan(locked) or locks[k, 1] > locked):
            locked = locks[k, 1]
    if not math.isnan(locked):
        lock_rate = pm_rate_for_profit(locked, open_rate, amount, fee, leverage, short)
        found = _tighter(found, lock_rate, best_rate, side)
    return found


@njit(cache=True)
def _closed_candle_stop(
    params: np.ndarray,
    locks: np.ndarray,
    short: bool,
    open_rate: float,
    best_closed: float,
    atr: float,
    leverage: float,
    fee: float,
    amount: float,
    last_close: float,
    stop: float,
) -> float:
    """TrailingStopHooks.trailing_stop with trail_on="candle_close"; NaN for None."""
    found = pm_trailing_stop(
        params, locks, short, open_rate, best_closed, atr, leverage, fee, amount
    )
    return _within_close(found, short, last_close, stop)


@njit(cache=True)
def _within_close(found: float, short: bool, last_close: float, stop: float) -> float:
    """The trail of the closed candles (``found``) as the stop it sets, NaN for none."""
    if math.isnan(found):
        return found
    if (not short and found >= last_close) or (short and found <= last_close):
        return np.nan  # a bot deciding at that close could not place it beyond the close
    return min(found, stop) if short else max(found, stop)


@njit(cache=True)
def _tighter(found: float, stop: float, best_rate: float, side: float) -> float:
    """The tighter of ``found`` and ``stop``, where a stop beyond the price places nothing."""
    if not (stop > 0 and side * (best_rate - stop) > 0):
        return found
    if math.isnan(found) or side * stop > side * found:
        return stop
    return found


@njit(cache=True)
def _raise_stop(stop: float, new_loss: float, short: bool, price_digits: int) -> tuple[float, bool]:
    """``Trade.adjust_stop_loss`` after the initial stop: (stop in force, whether it moved)."""
    # The stop is on its tick and the rounding is monotone: a loss not beyond it cannot move
    # it, and most candles need no rounding (a NaN still takes the rounding below).
    if (short and new_loss >= stop) or (not short and new_loss <= stop):
        return stop, False
    if short:
        norm = price_round_down(new_loss, price_digits)
        if norm < stop:
            return norm, True
    else:
        norm = price_round_up(new_loss, price_digits)
        if norm > stop:
            return norm, True
    return stop, False


@njit(cache=True)
def exit_min_stake_factor(stoploss: float, reserve: float) -> float:
    """``partial_manager.exit_min_stake_factor``, with ``reserve`` = 1 + amount_reserve_percent."""
    ratio = reserve / (1 - abs(stoploss)) if abs(stoploss) != 1 else 1.5
    return max(max(min(ratio, 1.5), 1.0) / reserve, 1.0)


@njit(cache=True)
def _tier(drawdown: float, tiers: np.ndarray) -> int:
    """``dynamic_risk.tier``: the number of thresholds at or below ``drawdown``."""
    level = 0
    for k in range(tiers.shape[0]):
        if math.isnan(tiers[k, 0]):
            break
        if tiers[k, 0] <= drawdown:
            level += 1
    return level


@njit(cache=True)
def _drawdown(equity: float, peak: float) -> float:
    return max(0.0, (peak - equity) / peak) if peak > 0 else 0.0


@njit(cache=True)
def risk_factor(
    equity: float, peak: float, trough: float, tiers: np.ndarray, recovery: np.ndarray
) -> float:
    """
    The drawdown tier's stake factor (``dynamic_risk.tier_in_force`` and the factor
    ``DynamicRiskManager.calculate_risk_adjustment`` gives it), 1.0 outside any tier.
    """
    if equity >= peak:
        return 1.0
    trough = min(trough, equity)
    deepest = _tier(_drawdown(trough, peak), tiers)
    gain = (equity - trough) / trough if trough > 0 else 0.0
    steps = 0
    for k in range(recovery.shape[0]):
        if math.isnan(recovery[k]):
            break
        if recovery[k] <= gain:
            steps += 1
    level = max(_tier(_drawdown(equity, peak), tiers), deepest - steps)
    return tiers[level - 1, 1] if level else 1.0


@njit(cache=True)
def volatility_factor(params: np.ndarray, volatility: float) -> float:
    """The stake multiplier of the volatility band (1 where unknown: neutral)."""
    if volatility > params[P_VOLATILITY_HIGH]:
        return params[P_VOLATILITY_HIGH_FACTOR]
    if volatility < params[P_VOLATILITY_LOW]:
        return params[P_VOLATILITY_LOW_FACTOR]
    return 1.0


@njit(cache=True)
def adjust_min_stake(min_cost: float, min_amount: float, rate: float, reserve: float) -> float:
    """
    ``Exchange.get_min_pair_stake_amount(pair, rate, -0.1)``, the ``min_stake`` the backtester
    hands ``adjust_trade_position`` (leverage 1); 0 for none.
    """
    stoploss_reserve = max(min(reserve / (1 - 0.1), 1.5), 1.0)
    return max(min_cost * stoploss_reserve, min_amount * rate * reserve)


@njit(cache=True)
def partial_exit_due(
    ladder: np.ndarray,
    taken: int,
    held: float,
    peak: float,
    profit: float,
    rate: float,
    min_stake: float,
    min_factor: float,
) -> tuple[float, int, bool]:
    """
    ``PartialExitPolicy.check_partial_exits``: (amount to sell, the levels it fires as a bit
    mask, whether the rest was below the minimum stake); amount 0 when nothing is due.
    """
    if math.isnan(ladder[0, 0]) or profit < ladder[0, 0] or held <= 0:
        return 0.0, 0, False
    due = 0
    for k in range(ladder.shape[0]):
        if math.isnan(ladder[k, 0]):
            break
        if not (taken >> k) & 1 and profit >= ladder[k, 0]:
            due |= 1 << k
    if due == 0:
        return 0.0, 0, False
    fired = 0.0
    wanted = 0.0
    for k in range(ladder.shape[0]):
        if math.isnan(ladder[k, 0]):
            break
        if ((taken | due) >> k) & 1:
            fired += ladder[k, 1]
        if (due >> k) & 1:
            wanted += ladder[k, 1]
    amount = held if fired >= 1 - 1e-9 else min(wanted * peak, held)
    rest = held - amount
    below = min_stake > 0 and 0 < rest * rate < min_stake * min_factor
    if below:
        amount = held
    return amount, due, below


def ft_exit_amount_exact(stake_amount: float, stake: float, held: float, digits: int) -> float:
    """
    The backtester's ``amount_to_contract_precision(abs(FtPrecise(stake) * FtPrecise(held) /
    FtPrecise(stake_amount)))`` in Python, with the ``Precise`` of ccxt (Freqtrade's exchange
    library) that ``FtPrecise`` is: for amounts the kernel's floats cannot place on a side of a
    lot.
    """
    # Precise's own integer steps (_precise_*), without its objects and strings.
    product = _precise_mul(_precise_parts(repr(stake)), _precise_parts(repr(held)))
    value = abs(_precise_float(_precise_div(product, _precise_parts(repr(stake_amount)))))
    # amount_to_contract_precision: the decimal of repr(value) truncated to the lot, exactly.
    integer, decimals = _precise_parts(repr(value))
    if digits >= decimals:
        lots = integer * 10 ** (digits - decimals)
    else:
        lots = integer // 10 ** (decimals - digits)
    return lots / 10**digits


def _precise_parts(text: str) -> tuple[int, int]:
    """``Precise(text)``'s (integer, decimals), parsed as its constructor parses them."""
    modifier = 0
    if "e" in text or "E" in text:
        text, exponent = text.lower().split("e")
        modifier = int(exponent)
    dot = text.find(".")
    if dot > -1:
        return int(text.replace(".", "")), len(text) - dot - 1 - modifier
    return int(text), -modifier


@njit(cache=True)
def _exit_lots(stake_amount: float, held: float, amount: float, digits: int) -> float:
    """The backtester's exit amount in lots, in floats: ``stake * held / stake_amount``."""
    stake = -stake_amount * amount / held
    return abs(stake) * held / stake_amount * _pow10(digits)


@njit(cache=True)
def _near_lot(stake_amount: float, held: float, amount: float, digits: int) -> bool:
    """Whether floats cannot say on which side of a lot the exit amount falls."""
    lots = _exit_lots(stake_amount, held, amount, digits)
    nearest = math.floor(lots + 0.5)
    return abs(lots - nearest) <= 1e-6 * max(1.0, nearest)


@njit(cache=True)
def ft_exit_amount(stake_amount: float, held: float, amount: float, digits: int) -> float:
    """
    The amount the backtester sells for the mixin's partial exit of ``amount``: the mixin
    answers the stake ``-trade.stake_amount * amount / trade.amount``, which the backtester
    turns back into an amount and truncates to the lot.
    """
    scale = _pow10(digits)
    stake = -stake_amount * amount / held
    lots = abs(stake) * held / stake_amount * scale
    nearest = math.floor(lots + 0.5)
    if abs(lots - nearest) > 1e-6 * max(1.0, nearest):
        return math.floor(lots) / scale
    # On (or next to) a lot: only the decimal arithmetic says on which side.
    with objmode(exact="float64"):
        exact = ft_exit_amount_exact(stake_amount, stake, held, digits)
    return exact


@njit(cache=True)
def _decimal_product(rate: float, amount: float, amount_digits: int) -> tuple[float, bool]:
    """
    ``float(Precise(rate) * Precise(amount))`` for an amount on its lot, and whether it is
    exactly that (else the float product, within an ulp).
    """
    lots = math.floor(amount * _pow10(amount_digits) + 0.5)
    for rate_digits in range(12):
        ticks = math.floor(rate * _pow10(rate_digits) + 0.5)
        if ticks / _pow10(rate_digits) == rate:
            whole = ticks * lots
            if whole < 2.0**53 and rate_digits + amount_digits <= 22:
                return whole / _pow10(rate_digits + amount_digits), True
            break
    return rate * amount, False


# One loop on purpose: split into calls taking the arrays, it ran three times slower.
@njit(cache=True)
def backtest(  # noqa: C901
    times: np.ndarray,
    opens: np.ndarray,
    highs: np.ndarray,
    lows: np.ndarray,
    closes: np.ndarray,
    valid: np.ndarray,
    enter_long: np.ndarray,
    exit_long: np.ndarray,
    enter_short: np.ndarray,
    exit_short: np.ndarray,
    direction: np.ndarray,
    candidates: np.ndarray,
    candidate_start: np.ndarray,
    atr: np.ndarray,
    leverage_long: np.ndarray,
    leverage_short: np.ndarray,
    price_digits: np.ndarray,
    amount_digits: np.ndarray,
    min_stake_base: np.ndarray,
    min_amount: np.ndarray,
    max_cost: np.ndarray,
    max_amount: np.ndarray,
    min_cost: np.ndarray,
    amount_reserve: float,
    can_short: bool,
    fee: float,
    start_balance: float,
    tradable_ratio: float,
    stake_amount: float,
    max_open_trades: int,
    timeframe_minutes: int,
    params: np.ndarray,
    roi: np.ndarray,
    locks: np.ndarray,
    time_rules: np.ndarray,
    weekend_due: np.ndarray,
    day_end_due: np.ndarray,
    session_closed: np.ndarray,
    entry_refused: np.ndarray,
    ladder: np.ndarray,
    adds: np.ndarray,
    risk_tiers: np.ndarray,
    risk_recovery: np.ndarray,
    risk_volatility: np.ndarray,
    trades: np.ndarray,
    orders: np.ndarray,
    counts: np.ndarray,
) -> int:
    """
    One variant over every pair and candle; fills ``trades`` (rows of ``T_*`` columns) in the
    order Freqtrade closes them and returns how many.

    :param times: candle open times in epoch microseconds, shape (T,)
    :param opens: shape (P, T), and likewise highs, lows, valid (the pair has that candle),
        the four shifted signals, ``atr`` (of the last CLOSED candle) and the leverage the
        strategy's ``leverage`` callback answers at that row per side
    :param direction: shape (P, T), the entry each candle's signals ask for (``entry_directions``)
    :param candidates: per candle, the pairs with a valid candle and an entry to ask for, in
        whitelist order, from ``candidates[candidate_start[t]]`` to ``candidates[candidate_start[t + 1]]``
    :param stake_amount: the config's stake amount, or -1 for "unlimited"
    :param max_open_trades: -1 for unlimited
    :param roi: minimal ROI table, rows (minutes, roi), ascending, NaN-padded
    :param locks: profit locks, rows (profit, locked), NaN-padded
    :param time_rules: (weekend, end of day, session closed) switched on, as 0/1
    :param weekend_due: per candle, when the weekend rule closes a trade entered then (epoch
        microseconds, inf for never); ``day_end_due`` likewise for the end of day
    :param session_closed: per candle, the session is closed (``no_overnight`` exits then)
    :param entry_refused: per candle, ``TimeExitPolicy.entry_refusal`` refuses an entry
    :param min_cost: per pair, the market's minimum cost (0 for none)
    :param amount_reserve: 1 + the config's ``amount_reserve_percent``
    :param ladder: the partial-exit ladder, rows (target, size), NaN-padded
    :param adds: the scale-ins, rows (threshold, size), NaN-padded
    :param risk_tiers: dynamic risk's drawdown tiers, rows (threshold, factor), NaN-padded;
        ``risk_recovery`` its recovery thresholds; ``risk_volatility`` per pair and candle, the
        pair's daily volatility as the mixin reads it (NaN where unknown or off), banded by
        the ``P_VOLATILITY_*`` parameters. Used when ``P_RISK`` is set.
    :param orders: filled with the entries and partial exits (rows of ``O_*`` columns);
        ``counts[0]`` is set to how many
    """
    n_pairs, n_times = opens.shape
    in_trade = np.zeros(n_pairs, dtype=np.bool_)
    short = np.zeros(n_pairs, dtype=np.bool_)
    open_index = np.zeros(n_pairs, dtype=np.int64)
    open_rate = np.zeros(n_pairs)
    amount = np.zeros(n_pairs)
    stake = np.zeros(n_pairs)
    lev = np.ones(n_pairs)
    stop = np.zeros(n_pairs)
    stop_pct = np.zeros(n_pairs)
    trailing = np.zeros(n_pairs, dtype=np.bool_)
    best = np.zeros(n_pairs)
    # trail_on="candle_close": best high (low) of the closed candles since entry.
    best_closed = np.zeros(n_pairs)
    on_close = params[P_TRAIL_ON_CLOSE] > 0
    # Pairs with an open trade, in opening order (LocalTrade.bt_trades_open).
    open_order = np.empty(n_pairs, dtype=np.int64)
    n_open = 0
    visited = np.zeros(n_pairs, dtype=np.bool_)
    total_profit = 0.0
    n_trades = 0
    stoploss = params[P_STOPLOSS]
    pm_trail = params[P_PM_TRAIL] > 0
    builtin_trail = params[P_TRAILING_STOP] > 0
    positive = params[P_TRAILING_POSITIVE]
    offset = params[P_TRAILING_OFFSET]
    only_offset = params[P_TRAILING_ONLY_OFFSET] > 0
    hold_us = params[P_MAX_HOLDING_US]
    last = n_times - 1
    visit = np.empty(n_pairs, dtype=np.int64)
    # The ROI value in force per open trade, and the trade's minute at which it may change.
    roi_now = np.zeros(n_pairs)
    roi_until = np.zeros(n_pairs, dtype=np.int64)
    # The package's trail per open trade, from the best rate (and ATR) it was last computed at
    # (the closed candles' best with trail_on="candle_close"): it moves only with them, or with
    # a fill (which forgets it).
    uses_atr = not math.isnan(params[P_ATR_MULTIPLIER])
    trail_best = np.full(n_pairs, np.nan)
    trail_atr = np.zeros(n_pairs)
    trail_found = np.zeros(n_pairs)
    # The partial-exit ladder (PartialExitMixin): levels fired (bit mask), the largest amount
    # held, the profit its exits realised, the entry's value (close_profit's divisor).
    has_ladder = not math.isnan(ladder[0, 0])
    has_adds = params[P_MAX_SCALE_INS] > 0
    pos = np.zeros((n_pairs, N_POS))
    taken = np.zeros(n_pairs, dtype=np.int64)
    peak = np.zeros(n_pairs)
    realized = np.zeros(n_pairs)
    entry_value = np.zeros(n_pairs)
    min_factor = exit_min_stake_factor(stoploss, amount_reserve)
    n_orders = 0
    # DynamicRiskMixin's realised equity point: exits count from the candle after their fill.
    has_risk = params[P_RISK] > 0
    equity = start_balance * tradable_ratio
    equity_peak = equity
    equity_trough = equity
    booked = 0.0  # profit of the exits filled on candle booked_at, not yet in the point
    booked_at = -1

    for t in range(n_times):
        if 0 <= booked_at < t:
            # EquityPoint.then: one point per fill time; a new peak resets the trough.
            equity += booked
            if equity >= equity_peak:
                equity_peak = equity
                equity_trough = equity
            else:
                equity_trough = min(equity_trough, equity)
            booked = 0.0
            booked_at = -1
        first_candidate = candidate_start[t]
        end_candidate = candidate_start[t + 1]
        if n_open == 0 and first_candidate == end_candidate:
            continue  # nothing open and nothing to enter: most candles
        if pm_trail and on_close:
            # TrailingStopHooks.on_loop_start: the closed candle's stop, in force before this
            # candle's low is tested.
            for k in range(n_open):
                q = open_order[k]
                if t - 1 < open_index[q]:
                    continue
                if short[q]:
                    best_closed[q] = min(best_closed[q], lows[q, t - 1])
                else:
                    best_closed[q] = max(best_closed[q], highs[q, t - 1])
                last_close = closes[q, t - 1]
                level = atr[q, t] if uses_atr else 0.0
                if best_closed[q] != trail_best[q] or level != trail_atr[q]:
                    trail_found[q] = pm_trailing_stop(
                        params,
                        locks,
                        short[q],
                        open_rate[q],
                        best_closed[q],
                        atr[q, t],
                        lev[q],
                        fee,
                        amount[q],
                    )
                    trail_best[q] = best_closed[q]
                    trail_atr[q] = level
                found = _within_close(trail_found[q], short[q], last_close, stop[q])
                if not math.isnan(found):
                    ratio = pm_stoploss_ratio(found, last_close, short[q], lev[q])
                    if not math.isnan(ratio) and ratio != 0:
                        side = -1.0 if short[q] else 1.0
                        new_loss = last_close * (1 - side * abs(ratio / lev[q]))
                        stop[q], moved = _raise_stop(stop[q], new_loss, short[q], price_digits[q])
                        if moved:
                            trailing[q] = True
                            stop_pct[q] = -abs(ratio)
        # Open trades first, then the other pairs; of those, only the ones with an entry to ask.
        n_visit = n_open
        for k in range(n_open):
            visit[k] = open_order[k]
            visited[open_order[k]] = True
        for k in range(first_candidate, end_candidate):
            if not visited[candidates[k]]:
                visit[n_visit] = candidates[k]
                n_visit += 1
        for k in range(n_open):
            visited[visit[k]] = False
        for v in range(n_visit):
            p = visit[v]
            if not valid[p, t]:
                continue
            entering = direction[p, t]
            if entering == 0 and not in_trade[p]:
                continue
            for _attempt in range(2):
                exiting = 0
                if in_trade[p]:
                    exiting = -1 if short[p] else 1
                # 2. Entry.
                if (
                    t != last
                    and entering != 0
                    and not in_trade[p]
                    and (max_open_trades < 0 or n_open < max_open_trades)
                    and not entry_refused[t]
                ):
                    tied = 0.0
                    banked = 0.0
                    for k in range(n_open):
                        tied += stake[open_order[k]]
                        banked += realized[open_order[k]]
                    free = start_balance + total_profit + banked - tied
                    available = min((tied + free) * tradable_ratio - tied, free)
                    if stake_amount < 0:
                        wanted = (
                            0.0
                            if max_open_trades == 0
                            else min((available + tied) / max_open_trades, available)
                        )
                    else:
                        wanted = stake_amount
                    if available < wanted:
                        wanted = 0.0
                    wanted = max(wanted, 0.0)
                    is_short = entering < 0
                    leverage = leverage_short[p, t] if is_short else leverage_long[p, t]
                    rate = opens[p, t]
                    min_stake = max(min_stake_base[p], min_amount[p] * rate * 1.05) / leverage
                    max_stake = min(max_cost[p], max_amount[p] * rate) / leverage
                    if has_risk and wanted > 0:
                        # DynamicRiskMixin in custom_stake_amount, before Freqtrade validates.
                        factor = risk_factor(
                            equity, equity_peak, equity_trough, risk_tiers, risk_recovery
                        )
                        factor *= volatility_factor(params, risk_volatility[p, t])
                        if factor != 1.0:
                            wanted = min(wanted * factor, min(available, max_stake))
                            if wanted <= 0 or (min_stake > 0 and wanted < min_stake):
                                wanted = 0.0
                    validated = 0.0
                    if wanted > 0:
                        allowed = min(max_stake, available)
                        if min_stake <= allowed:
                            validated = wanted
                            if wanted < min_stake:
                                validated = 0.0 if wanted * 1.3 < min_stake else min_stake
                            validated = min(validated, allowed)
                    if validated > 0 and validated >= min_stake:
                        units = amount_truncate((validated / rate) * leverage, amount_digits[p])
                        if units > 0:
                            in_trade[p] = True
                            short[p] = is_short
                            open_index[p] = t
                            open_rate[p] = rate
                            amount[p] = units
                            # trade.stake_amount as recalc_trade_from_orders sets it.
                            staked, exact = _decimal_product(rate, units, amount_digits[p])
                            stake[p] = staked / leverage
                            lev[p] = leverage
                            distance = abs(stoploss / leverage)
                            if is_short:
                                stop[p] = price_round_down(rate * (1 + distance), price_digits[p])
                            else:
                                stop[p] = price_round_up(rate * (1 - distance), price_digits[p])
                            stop_pct[p] = -abs(stoploss)
                            trailing[p] = False
                            best[p] = rate
                            roi_until[p] = -1
                            trail_best[p] = np.nan
                            best_closed[p] = -np.inf if entering > 0 else np.inf
                            open_order[n_open] = p
                            n_open += 1
                            taken[p] = 0
                            peak[p] = units
                            realized[p] = 0.0
                            entry_value[p] = _open_value(units, rate, fee, is_short)
                            n_orders = _order(orders, n_orders, p, t, t, False, units, rate)
                            pos[p, POS_AVG] = rate
                            pos[p, POS_HELD] = units
                            pos[p, POS_FIRST_STAKE] = units * rate / leverage
                            pos[p, POS_ADDS] = 0
                            pos[p, POS_ENTRIES] = 1
                            pos[p, POS_EXITED] = 0
                            pos[p, POS_LAST_FILL] = t
                            pos[p, POS_LOTS] = 0
                            pos[p, POS_STAKED] = 0
                            pos[p, POS_FIRST_ORDER] = n_orders - 1
                            pos[p, POS_STAKE_ROUGH] = not exact
                            _quiet_band(
                                p,
                                params,
                                ladder,
                                adds,
                                fee,
                                short,
                                open_rate,
                                amount,
                                lev,
                                taken,
                                pos,
                            )
                            _add_integers(p, pos, rate, units, price_digits, amount_digits)
                # 3. PartialExitHooks.adjustment at the open (before the exits).
                if (
                    in_trade[p]
                    and (has_ladder or has_adds)
                    and not pos[p, POS_QUIET_LOW] < opens[p, t] < pos[p, POS_QUIET_HIGH]
                ):
                    trail_best[p] = np.nan  # the position may change here
                    sold, levels, below = _partial_exit(
                        p,
                        t,
                        ladder,
                        opens,
                        fee,
                        short,
                        open_rate,
                        amount,
                        stake,
                        lev,
                        taken,
                        peak,
                        amount_digits,
                        price_digits,
                        min_cost,
                        min_amount,
                        amount_reserve,
                        min_factor,
                        pos,
                        orders,
                        n_orders,
                    )
                    if sold > 0 and sold >= amount[p]:
                        close_rate = price_round(opens[p, t], price_digits[p])
                        booked -= realized[p]
                        booked_at = t
                        profit_abs = _record(
                            trades,
                            n_trades,
                            p,
                            t,
                            PARTIAL_EXIT_ALL,
                            close_rate,
                            fee,
                            short,
                            open_index,
                            open_rate,
                            amount,
                            stake,
                            lev,
                            realized,
                            entry_value,
                            pos,
                        )
                        total_profit += profit_abs
                        booked += profit_abs
                        trades[n_trades, T_LEVELS] = levels
                        trades[n_trades, T_REST_BELOW_MIN] = below
                        n_trades += 1
                        in_trade[p] = False
                        n_open = _remove(open_order, n_open, p)
                    elif sold > 0:
                        n_orders = _order(
                            orders,
                            n_orders,
                            p,
                            open_index[p],
                            t,
                            True,
                            sold,
                            price_round(opens[p, t], price_digits[p]),
                        )
                        trailing[p] = _stop_after_fill(
                            p,
                            t,
                            params,
                            locks,
                            opens[p, t],
                            short,
                            open_rate,
                            amount,
                            lev,
                            fee,
                            best,
                            best_closed,
                            closes,
                            atr,
                            open_index,
                            stop,
                            stop_pct,
                            trailing,
                            price_digits,
                        )
                        sale = _sell(
                            p,
                            sold,
                            price_round(opens[p, t], price_digits[p]),
                            fee,
                            short,
                            pos,
                            open_rate,
                            amount,
                            stake,
                            lev,
                            amount_digits,
                            price_digits,
                            orders,
                            n_orders,
                        )
                        _rebase_stop(
                            p, short, open_rate, lev, stop, stop_pct, trailing, price_digits
                        )
                        realized[p] += sale
                        booked += sale
                        booked_at = t
                        pos[p, POS_LAST_FILL] = t
                        _quiet_band(
                            p, params, ladder, adds, fee, short, open_rate, amount, lev, taken, pos
                        )
                    elif sold == 0 and has_adds:
                        units = _scale_in(
                            p,
                            t,
                            params,
                            adds,
                            opens,
                            times,
                            timeframe_minutes,
                            fee,
                            short,
                            open_rate,
                            amount,
                            stake,
                            lev,
                            pos,
                            min_cost,
                            min_amount,
                            max_cost,
                            max_amount,
                            amount_reserve,
                            amount_digits,
                            open_order,
                            n_open,
                            realized,
                            start_balance + total_profit,
                            tradable_ratio,
                            has_risk,
                            equity,
                            equity_peak,
                            equity_trough,
                            risk_tiers,
                            risk_recovery,
                            risk_volatility,
                        )
                        if units > 0:
                            rate = opens[p, t]
                            n_orders = _order(
                                orders, n_orders, p, open_index[p], t, False, units, rate
                            )
                            entry_value[p] += _open_value(units, rate, fee, short[p])
                            pos[p, POS_ENTRIES] += 1
                            pos[p, POS_HELD] += units
                            peak[p] = max(peak[p], pos[p, POS_HELD])
                            pos[p, POS_LAST_FILL] = t
                            _add_integers(p, pos, rate, units, price_digits, amount_digits)
                            _recalc(
                                p,
                                pos,
                                open_rate,
                                amount,
                                stake,
                                lev,
                                amount_digits,
                                price_digits,
                                orders,
                                n_orders,
                            )
                            _rebase_stop(
                                p, short, open_rate, lev, stop, stop_pct, trailing, price_digits
                            )
                            trailing[p] = _stop_after_fill(
                                p,
                                t,
                                params,
                                locks,
                                rate,
                                short,
                                open_rate,
                                amount,
                                lev,
                                fee,
                                best,
                                best_closed,
                                closes,
                                atr,
                                open_index,
                                stop,
                                stop_pct,
                                trailing,
                                price_digits,
                            )
                            # _enter_trade recalculates once more after the fill.
                            _rebase_stop(
                                p, short, open_rate, lev, stop, stop_pct, trailing, price_digits
                            )
                            _quiet_band(
                                p,
                                params,
                                ladder,
                                adds,
                                fee,
                                short,
                                open_rate,
                                amount,
                                lev,
                                taken,
                                pos,
                            )
                # 4. Exit checks (on the entry candle too).
                if in_trade[p]:
                    # IStrategy.should_exit, written out: a call with this many arrays costs
                    # more than the checks themselves.
                    is_short = short[p]
                    leverage = lev[p]
                    units = amount[p]
                    entry = open_rate[p]
                    rate = opens[p, t]
                    low = lows[p, t]
                    high = highs[p, t]
                    bound = low if is_short else high
                    # The profit at the candle's best rate, before round8: rounded only where
                    # a decision needs its last digits.
                    raw_best = _ft_profit_raw(bound, entry, units, fee, leverage, is_short)
                    if is_short:
                        best[p] = min(best[p], low)
                        enter = enter_short[p, t] == 1
                        exit_sig = exit_short[p, t] == 1
                    else:
                        best[p] = max(best[p], high)
                        enter = enter_long[p, t] == 1
                        exit_sig = exit_long[p, t] == 1

                    # ft_stoploss_adjust: only while the stop in force is still on the right side of the candle.
                    dir_correct = stop[p] > high if is_short else stop[p] < low
                    if pm_trail and dir_correct:
                        if not on_close:
                            level = atr[p, t] if uses_atr else 0.0
                            if best[p] != trail_best[p] or level != trail_atr[p]:
                                trail_found[p] = pm_trailing_stop(
                                    params,
                                    locks,
                                    is_short,
                                    entry,
                                    best[p],
                                    atr[p, t],
                                    leverage,
                                    fee,
                                    units,
                                )
                                trail_best[p] = best[p]
                                trail_atr[p] = level
                            found = trail_found[p]
                            if not math.isnan(found):
                                found = min(found, stop[p]) if is_short else max(found, stop[p])
                        elif t - 1 >= open_index[p]:
                            level = atr[p, t] if uses_atr else 0.0
                            if best_closed[p] != trail_best[p] or level != trail_atr[p]:
                                trail_found[p] = pm_trailing_stop(
                                    params,
                                    locks,
                                    is_short,
                                    entry,
                                    best_closed[p],
                                    atr[p, t],
                                    leverage,
                                    fee,
                                    units,
                                )
                                trail_best[p] = best_closed[p]
                                trail_atr[p] = level
                            found = _within_close(
                                trail_found[p], is_short, closes[p, t - 1], stop[p]
                            )
                        else:
                            found = np.nan  # no candle has closed since entry
                        if not math.isnan(found):
                            ratio = pm_stoploss_ratio(found, bound, is_short, leverage)
                            if not math.isnan(ratio) and ratio != 0:
                                side = -1.0 if is_short else 1.0
                                new_loss = bound * (1 - side * abs(ratio / leverage))
                                stop[p], moved = _raise_stop(
                                    stop[p], new_loss, is_short, price_digits[p]
                                )
                                if moved:
                                    trailing[p] = True
                                    stop_pct[p] = -abs(ratio)
                    profit_best = round8(raw_best) if builtin_trail and dir_correct else 0.0
                    if builtin_trail and dir_correct and not (only_offset and profit_best < offset):
                        value = stoploss
                        if not math.isnan(positive) and profit_best > offset:
                            value = positive
                        side = -1.0 if is_short else 1.0
                        new_loss = bound * (1 - side * abs(value / leverage))
                        stop[p], moved = _raise_stop(stop[p], new_loss, is_short, price_digits[p])
                        if moved:
                            trailing[p] = True
                            stop_pct[p] = -abs(value)

                    stop_hit = stop[p] <= high if is_short else stop[p] >= low
                    minutes = (times[t] - times[open_index[p]]) // 60_000_000
                    roi_hit = False
                    if not (enter and params[P_IGNORE_ROI_IF_ENTRY] > 0):
                        if minutes >= roi_until[p]:
                            # The ROI entry in force changes only at the table's next key.
                            roi_now[p] = _roi_at(roi, minutes)[1]
                            roi_until[p] = _roi_next(roi, minutes)
                        roi_hit = not math.isnan(roi_now[p]) and _round8_above(raw_best, roi_now[p])

                    # The order of IStrategy.should_exit's list; the first exit is taken.
                    reason = -1
                    if params[P_USE_EXIT_SIGNAL] > 0:
                        if exit_sig and not enter:
                            profit = ft_profit_ratio(rate, entry, units, fee, leverage, is_short)
                            if (
                                not (params[P_EXIT_PROFIT_ONLY] > 0)
                                or profit > params[P_EXIT_PROFIT_OFFSET]
                            ):
                                reason = EXIT_SIGNAL
                        elif hold_us >= 0 and times[t] - times[open_index[p]] >= hold_us:
                            reason = TIME_MAX_HOLDING
                        elif time_rules[0] > 0 and times[t] >= weekend_due[open_index[p]]:
                            reason = TIME_WEEKEND
                        elif time_rules[1] > 0 and times[t] >= day_end_due[open_index[p]]:
                            reason = TIME_END_OF_DAY
                        elif time_rules[2] > 0 and session_closed[t]:
                            reason = TIME_SESSION_CLOSED
                    if reason < 0:
                        if stop_hit and not trailing[p]:
                            reason = STOP_LOSS
                        elif roi_hit:
                            reason = ROI
                        elif stop_hit:
                            reason = TRAILING_STOP_LOSS
                    if reason >= 0:
                        close_rate = _close_rate(
                            reason,
                            p,
                            t,
                            opens,
                            highs,
                            lows,
                            price_digits,
                            fee,
                            timeframe_minutes,
                            times,
                            roi,
                            short,
                            open_index,
                            open_rate,
                            amount,
                            lev,
                            stop,
                            stop_pct,
                            pm_trail,
                            builtin_trail,
                            positive,
                            offset,
                            only_offset,
                        )
                        # An exit order outside the candle does not fill; the backtester
                        # cancels it at the next candle (exit timeout) and checks again.
                        if lows[p, t] <= close_rate <= highs[p, t]:
                            booked -= realized[p]
                            booked_at = t
                            profit_abs = _record(
                                trades,
                                n_trades,
                                p,
                                t,
                                reason,
                                close_rate,
                                fee,
                                short,
                                open_index,
                                open_rate,
                                amount,
                                stake,
                                lev,
                                realized,
                                entry_value,
                                pos,
                            )
                            total_profit += profit_abs
                            booked += profit_abs
                            n_trades += 1
                            in_trade[p] = False
                            n_open = _remove(open_order, n_open, p)
                if not (can_short and entering != 0 and exiting != 0 and not in_trade[p]):
                    break
                if exiting == entering:
                    break
    # End of data: force exit at the last row's open, in opening order.
    for k in range(n_open):
        p = open_order[k]
        t = last
        while not valid[p, t]:
            t -= 1
        close_rate = price_round(opens[p, t], price_digits[p])
        total_profit += _record(
            trades,
            n_trades,
            p,
            t,
            FORCE_EXIT,
            close_rate,
            fee,
            short,
            open_index,
            open_rate,
            amount,
            stake,
            lev,
            realized,
            entry_value,
            pos,
        )
        n_trades += 1
    counts[0] = n_orders
    return n_trades


@njit(cache=True)
def _remove(order: np.ndarray, n: int, p: int) -> int:
    j = 0
    for k in range(n):
        if order[k] != p:
            order[j] = order[k]
            j += 1
    return j


@njit(cache=True)
def _record(
    trades: np.ndarray,
    n: int,
    p: int,
    t: int,
    reason: int,
    close_rate: float,
    fee: float,
    short: np.ndarray,
    open_index: np.ndarray,
    open_rate: np.ndarray,
    amount: np.ndarray,
    stake: np.ndarray,
    lev: np.ndarray,
    realized: np.ndarray,
    entry_value: np.ndarray,
    pos: np.ndarray,
) -> float:
    """
    Write a closed trade as ``Trade.close`` computes it (the profits of its partial exits
    added, its ratio on the entry's value); return its absolute profit.
    """
    units = amount[p]
    profit_abs = realized[p] + _exit_profit(units, close_rate, fee, short[p], pos[p, POS_AVG])
    trades[n, T_PAIR] = p
    trades[n, T_OPEN_INDEX] = open_index[p]
    trades[n, T_CLOSE_INDEX] = t
    trades[n, T_IS_SHORT] = 1.0 if short[p] else 0.0
    trades[n, T_OPEN_RATE] = open_rate[p]
    trades[n, T_CLOSE_RATE] = close_rate
    trades[n, T_AMOUNT] = units
    trades[n, T_STAKE] = stake[p]
    trades[n, T_LEVERAGE] = lev[p]
    trades[n, T_REASON] = reason
    trades[n, T_PROFIT_ABS] = profit_abs
    trades[n, T_PROFIT_RATIO] = (profit_abs / entry_value[p]) * lev[p]
    trades[n, T_LEVELS] = 0
    trades[n, T_REST_BELOW_MIN] = 0
    return profit_abs


@njit(cache=True)
def _open_value(units: float, rate: float, fee: float, short: bool) -> float:
    """``Trade._calc_open_trade_value``: the value paid (received short) with the fee."""
    value = units * rate
    return value - value * fee if short else value + value * fee


@njit(cache=True)
def _exit_profit(
    units: float, close_rate: float, fee: float, short: bool, open_rate: float
) -> float:
    """``Trade.calculate_profit(close_rate, units, open_rate).profit_abs`` of one exit order."""
    open_value = _open_value(units, open_rate, fee, short)
    close_value = units * close_rate
    if short:
        return round8(open_value - (close_value + close_value * fee))
    return round8((close_value - close_value * fee) - open_value)


@njit(cache=True)
def _order(
    orders: np.ndarray,
    n: int,
    p: int,
    open_index: int,
    t: int,
    is_exit: bool,
    units: float,
    rate: float,
) -> int:
    """Note a filled entry or partial exit; return the new count."""
    orders[n, O_PAIR] = p
    orders[n, O_OPEN_INDEX] = open_index
    orders[n, O_INDEX] = t
    orders[n, O_IS_EXIT] = is_exit
    orders[n, O_AMOUNT] = units
    orders[n, O_RATE] = rate
    return n + 1


@njit(cache=True)
def _partial_exit(
    p: int,
    t: int,
    ladder: np.ndarray,
    opens: np.ndarray,
    fee: float,
    short: np.ndarray,
    open_rate: np.ndarray,
    amount: np.ndarray,
    stake: np.ndarray,
    lev: np.ndarray,
    taken: np.ndarray,
    peak: np.ndarray,
    amount_digits: np.ndarray,
    price_digits: np.ndarray,
    min_cost: np.ndarray,
    min_amount: np.ndarray,
    reserve: float,
    min_factor: float,
    pos: np.ndarray,
    orders: np.ndarray,
    n_orders: int,
) -> tuple[float, int, bool]:
    """
    ``Backtesting._check_adjust_trade_for_candle`` asking ``PartialExitMixin`` at the open:
    (the amount the exit order sells, 0 for none; the levels it fires; rest below min stake).
    Marks the levels fired when an order is placed.
    """
    rate = opens[p, t]
    held = amount[p]
    profit = ft_profit_ratio(rate, open_rate[p], held, fee, lev[p], short[p])
    min_stake = adjust_min_stake(min_cost[p], min_amount[p], rate, reserve)
    wanted, levels, below = partial_exit_due(
        ladder, taken[p], held, max(peak[p], held), profit, rate, min_stake, min_factor
    )
    if wanted <= 0:
        return 0.0, 0, False
    if wanted >= held:
        sold = held  # the stake -trade.stake_amount turns back into the whole amount
    else:
        if pos[p, POS_STAKE_ROUGH] > 0 and _near_lot(stake[p], held, wanted, amount_digits[p]):
            # On a lot, the stake's last bit may decide: Freqtrade's exact stake first.
            _recalc_decimal(
                p, pos, open_rate, amount, stake, lev, amount_digits, price_digits, orders,
                n_orders,
            )  # fmt: skip
        sold = ft_exit_amount(stake[p], held, wanted, amount_digits[p])
    if sold == 0.0:
        return 0.0, 0, False
    remaining = (held - sold) * rate
    if min_stake > 0 and remaining != 0 and remaining < min_stake:
        return 0.0, 0, False  # the backtester refuses to leave less than min_stake
    taken[p] |= levels
    return sold, levels, below


@njit(cache=True)
def _sell(
    p: int,
    sold: float,
    close_rate: float,
    fee: float,
    short: np.ndarray,
    pos: np.ndarray,
    open_rate: np.ndarray,
    amount: np.ndarray,
    stake: np.ndarray,
    lev: np.ndarray,
    amount_digits: np.ndarray,
    price_digits: np.ndarray,
    orders: np.ndarray,
    n_orders: int,
) -> float:
    """
    A partial exit filled (its order already in ``orders``): ``recalc_trade_from_orders``
    (the rest, its stake, the open rate on its tick); return the exit's realised profit.
    """
    profit = _exit_profit(sold, close_rate, fee, short[p], pos[p, POS_AVG])
    pos[p, POS_HELD] -= sold
    pos[p, POS_EXITED] = 1
    if pos[p, POS_ENTRIES] > 1:
        # After adds the average has 18 decimals: the open rate stays (the exit leaves the
        # quotient within 1e-18 of it), the amount is a difference of lots, and the stake is
        # within an ulp, exact only where it decides something (_partial_exit).
        scale = _pow10(amount_digits[p])
        lots = math.floor(amount[p] * scale + 0.5) - math.floor(sold * scale + 0.5)
        amount[p] = lots / scale
        stake[p] = pos[p, POS_AVG] * amount[p] / lev[p]
        pos[p, POS_STAKE_ROUGH] = 1
        return profit
    # One entry: the average is its rate, every value a decimal product of ticks and lots.
    scale = _pow10(amount_digits[p])
    lots = math.floor(amount[p] * scale + 0.5) - math.floor(sold * scale + 0.5)
    amount[p] = lots / scale
    open_rate[p] = price_round(open_rate[p], price_digits[p])
    staked, exact = _decimal_product(open_rate[p], amount[p], amount_digits[p])
    stake[p] = staked / lev[p]
    if not exact:
        pos[p, POS_STAKE_ROUGH] = 1
    return profit


@njit(cache=True)
def _recalc(
    p: int,
    pos: np.ndarray,
    open_rate: np.ndarray,
    amount: np.ndarray,
    stake: np.ndarray,
    lev: np.ndarray,
    amount_digits: np.ndarray,
    price_digits: np.ndarray,
    orders: np.ndarray,
    n_orders: int,
) -> None:
    """
    ``recalc_trade_from_orders`` after a scale-in: in integers while only entries filled on
    their ticks (the sums of tick x lot products are exact), else in decimals in Python
    (``ft_recalc_exact``).
    """
    leverage = lev[p]
    if pos[p, POS_EXITED] == 0 and pos[p, POS_STAKED] > 0:
        staked, lots = pos[p, POS_STAKED], pos[p, POS_LOTS]
        price_scale = _pow10(price_digits[p])
        amount_scale = _pow10(amount_digits[p])
        amount[p] = lots / amount_scale
        stake[p] = staked / (price_scale * amount_scale) / leverage
        # The average in ticks is staked / lots: rounded half up to a tick for the open rate.
        ticks = staked // lots
        if 2 * (staked - ticks * lots) >= lots:
            ticks += 1
        open_rate[p] = ticks / price_scale
        pos[p, POS_AVG] = staked / lots / price_scale
        return
    _recalc_decimal(
        p, pos, open_rate, amount, stake, lev, amount_digits, price_digits, orders, n_orders
    )


@njit(cache=True)
def _recalc_decimal(
    p: int,
    pos: np.ndarray,
    open_rate: np.ndarray,
    amount: np.ndarray,
    stake: np.ndarray,
    lev: np.ndarray,
    amount_digits: np.ndarray,
    price_digits: np.ndarray,
    orders: np.ndarray,
    n_orders: int,
) -> None:
    """``recalc_trade_from_orders`` in decimals in Python (``ft_recalc_exact``)."""
    leverage = lev[p]
    first = int(pos[p, POS_FIRST_ORDER])
    pos[p, POS_STAKE_ROUGH] = 0
    with objmode(units="float64", rate="float64", staked="float64", average="float64"):
        units, rate, staked, average = ft_recalc_exact(
            orders[first:n_orders], p, orders[first, O_OPEN_INDEX], leverage,
            int(amount_digits[p]), int(price_digits[p]),
        )  # fmt: skip
    amount[p] = units
    open_rate[p] = rate
    stake[p] = staked
    pos[p, POS_AVG] = average


@njit(cache=True)
def _add_integers(
    p: int,
    pos: np.ndarray,
    rate: float,
    units: float,
    price_digits: np.ndarray,
    amount_digits: np.ndarray,
) -> None:
    """Add an entry to the integer sums; -1 once they cannot hold it exactly."""
    if pos[p, POS_STAKED] < 0:
        return
    ticks = math.floor(rate * _pow10(price_digits[p]) + 0.5)
    lots = math.floor(units * _pow10(amount_digits[p]) + 0.5)
    staked = pos[p, POS_STAKED] + ticks * lots
    if ticks / _pow10(price_digits[p]) != rate or not staked < 2.0**53:
        pos[p, POS_STAKED] = -1
        return
    pos[p, POS_STAKED] = staked
    pos[p, POS_LOTS] += lots


def ft_recalc_exact(
    orders: np.ndarray, pair: int, open_index: float, leverage: float, amount_digits: int,
    price_digits: int,
) -> tuple[float, float, float, float]:  # fmt: skip
    """
    ``Trade.recalc_trade_from_orders`` on a trade's filled orders, with ccxt's ``Precise`` as
    Freqtrade's ``FtPrecise`` (its integer steps, ``_precise_*``): (amount, open rate, stake
    amount, float of the average price).
    """
    held, staked, average = (0, 0), (0, 0), (0, 0)
    mine = orders[(orders[:, O_PAIR] == pair) & (orders[:, O_OPEN_INDEX] == open_index)]
    for row in mine.tolist():
        units = _precise_parts(repr(row[O_AMOUNT]))
        is_exit = row[O_IS_EXIT] > 0
        side = (-1, 0) if is_exit else (1, 0)
        held = _precise_add(held, _precise_mul(units, side))
        price = average if is_exit else _precise_parts(repr(row[O_RATE]))
        staked = _precise_add(staked, _precise_mul(_precise_mul(price, units), side))
        if held[0] > 0 and not is_exit:
            average = _precise_div(staked, held)
    rate = price_round(_precise_float(_precise_div(staked, held)), price_digits)
    units = amount_truncate(_precise_float(held), amount_digits)
    return units, rate, _precise_float(staked) / leverage, _precise_float(average)


def _precise_add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """``Precise.add`` on (integer, decimals): exact, at the larger number of decimals."""
    decimals = max(a[1], b[1])
    return a[0] * 10 ** (decimals - a[1]) + b[0] * 10 ** (decimals - b[1]), decimals


def _precise_mul(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """``Precise.mul``: exact."""
    return a[0] * b[0], a[1] + b[1]


def _precise_div(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """``Precise.div`` at its default 18 decimals, truncated as it truncates."""
    distance = 18 - a[1] + b[1]
    if distance < 0:
        numerator = a[0] // 10**-distance
    else:
        numerator = a[0] * 10**distance
    quotient, rest = divmod(numerator, b[0])
    if quotient < 0 and rest:
        quotient += 1
    return quotient, 18


def _precise_float(a: tuple[int, int]) -> float:
    """``float(str(Precise))``: the correctly rounded float, as int / int is in Python."""
    if a[1] <= 0:
        return float(a[0] * 10 ** -a[1])
    return a[0] / 10 ** a[1]


@njit(cache=True)
def _crossed_levels(adds: np.ndarray, profit: float) -> tuple[int, int]:
    """Scale-in levels ``profit`` has reached (a bit mask), and how many levels there are."""
    crossed = 0
    n = 0
    for k in range(adds.shape[0]):
        if math.isnan(adds[k, 0]):
            break
        n += 1
        # A positive threshold is reached from below, a negative one (DCA) from above.
        if profit >= adds[k, 0] if adds[k, 0] > 0 else profit <= adds[k, 0]:
            crossed |= 1 << k
    return crossed, n


@njit(cache=True)
def _nearest_levels(adds: np.ndarray, n: int, open_levels: int, allowance: int) -> int:
    """Up to ``allowance`` of ``open_levels``, nearest to zero profit first (ties: in order)."""
    due = 0
    for _ in range(allowance):
        pick = -1
        for k in range(n):
            candidate = (open_levels >> k) & 1 and not (due >> k) & 1
            if candidate and (pick < 0 or abs(adds[k, 0]) < abs(adds[pick, 0])):
                pick = k
        if pick < 0:
            break
        due |= 1 << pick
    return due


@njit(cache=True)
def scale_in_due(
    adds: np.ndarray,
    max_adds: int,
    after_exit: bool,
    min_candles: int,
    taken: int,
    exited: bool,
    held: float,
    profit: float,
    candles: float,
    first_stake: float,
    min_stake: float,
    max_stake: float,
) -> tuple[float, int]:
    """
    ``PartialExitPolicy.check_scale_in_opportunity``: (the stake to add, 0 for none; the levels
    it fires as a bit mask). Levels crossed together merge, nearest to zero profit first.
    """
    crossed, n = _crossed_levels(adds, profit)
    if crossed == 0:
        return 0.0, 0
    fired = 0
    for k in range(n):
        fired += (taken >> k) & 1
    allowance = max_adds - fired
    if held <= 0 or allowance <= 0 or (exited and not after_exit):
        return 0.0, 0
    if min_candles and candles < min_candles:
        return 0.0, 0
    due = _nearest_levels(adds, n, crossed & ~taken, allowance)
    if due == 0:
        return 0.0, 0
    share = 0.0
    for k in range(n):
        if (due >> k) & 1:
            share += adds[k, 1]
    stake = min(share * first_stake, max_stake)
    if min_stake > 0 and stake < min_stake:
        return 0.0, 0
    return stake, due


@njit(cache=True)
def _available(
    open_order: np.ndarray,
    n_open: int,
    stake: np.ndarray,
    realized: np.ndarray,
    balance: float,
    tradable_ratio: float,
) -> float:
    """``Wallets.get_available_stake_amount`` (``balance``: start plus closed trades' profit)."""
    tied = 0.0
    banked = 0.0
    for k in range(n_open):
        tied += stake[open_order[k]]
        banked += realized[open_order[k]]
    free = balance + banked - tied
    return min((tied + free) * tradable_ratio - tied, free)


@njit(cache=True)
def _scale_in(
    p: int,
    t: int,
    params: np.ndarray,
    adds: np.ndarray,
    opens: np.ndarray,
    times: np.ndarray,
    timeframe_minutes: int,
    fee: float,
    short: np.ndarray,
    open_rate: np.ndarray,
    amount: np.ndarray,
    stake: np.ndarray,
    lev: np.ndarray,
    pos: np.ndarray,
    min_cost: np.ndarray,
    min_amount: np.ndarray,
    max_cost: np.ndarray,
    max_amount: np.ndarray,
    reserve: float,
    amount_digits: np.ndarray,
    open_order: np.ndarray,
    n_open: int,
    realized: np.ndarray,
    balance: float,
    tradable_ratio: float,
    has_risk: bool,
    equity: float,
    equity_peak: float,
    equity_trough: float,
    risk_tiers: np.ndarray,
    risk_recovery: np.ndarray,
    risk_volatility: np.ndarray,
) -> float:
    """
    ``_check_adjust_trade_for_candle`` asking ``PartialExitMixin`` for an add at the open,
    DynamicRiskMixin's factor on it (from the realised equity point),
    then ``_enter_trade``'s validation and lot: the amount bought, 0 for none. Marks the levels
    fired when it buys.
    """
    rate = opens[p, t]
    leverage = lev[p]
    profit = ft_profit_ratio(rate, open_rate[p], amount[p], fee, leverage, short[p])
    if _crossed_levels(adds, profit)[0] == 0:
        return 0.0  # most candles: decided before the wallet is read
    available = _available(open_order, n_open, stake, realized, balance, tradable_ratio)
    factor = 1.0
    if has_risk:
        factor = risk_factor(equity, equity_peak, equity_trough, risk_tiers, risk_recovery)
        factor *= volatility_factor(params, risk_volatility[p, t])
    min_stake = adjust_min_stake(min_cost[p], min_amount[p], rate, reserve)
    max_stake = min(min(max_cost[p], max_amount[p] * rate), available)
    candles = (times[t] - times[int(pos[p, POS_LAST_FILL])]) / (timeframe_minutes * 60e6)
    wanted, levels = scale_in_due(
        adds,
        int(params[P_MAX_SCALE_INS]),
        params[P_SCALE_IN_AFTER_EXIT] > 0,
        int(params[P_SCALE_IN_MIN_CANDLES]),
        int(pos[p, POS_ADDS]),
        pos[p, POS_EXITED] > 0,
        amount[p],
        profit,
        candles,
        pos[p, POS_FIRST_STAKE],
        min_stake,
        max_stake,
    )
    if wanted <= 0:
        return 0.0
    if factor != 1.0:  # DynamicRiskHooks.scale_in_stake, bounded as the mixin bounds it
        wanted = min(wanted * factor, max_stake)
        if wanted <= 0 or (min_stake > 0 and wanted < min_stake):
            return 0.0
    # max_entry_position_adjustment: the policy's scale_in_cap, counted in orders.
    if pos[p, POS_ENTRIES] > params[P_MAX_SCALE_INS]:
        return 0.0
    # get_valid_entry_price_and_stake for an add: min stake without the stop's reserve, at the
    # trade's leverage, and no more than the market's max stake beyond what is already in.
    entry_min = max(min_cost[p] * max(min(reserve, 1.5), 1.0), min_amount[p] * rate * reserve)
    entry_min /= leverage
    entry_max = min(max_cost[p], max_amount[p] * rate) / leverage
    allowed = min(min(entry_max, available), entry_max - stake[p])
    if entry_min > allowed:
        return 0.0
    if wanted < entry_min:
        if wanted * 1.3 < entry_min:
            return 0.0
        wanted = entry_min
    wanted = min(wanted, allowed)
    if not wanted > 0 or (entry_min > 0 and wanted < entry_min):
        return 0.0
    units = amount_truncate((wanted / rate) * leverage, amount_digits[p])
    if units > 0:
        pos[p, POS_ADDS] = int(pos[p, POS_ADDS]) | levels
    return units


@njit(cache=True)
def _quiet_band(
    p: int,
    params: np.ndarray,
    ladder: np.ndarray,
    adds: np.ndarray,
    fee: float,
    short: np.ndarray,
    open_rate: np.ndarray,
    amount: np.ndarray,
    lev: np.ndarray,
    taken: np.ndarray,
    pos: np.ndarray,
) -> None:
    """
    The open prices at which no exit target nor add can fire, until the next fill: strictly
    inside the rates of the nearest levels still open, narrowed by a margin so that a rate the
    floats place near a level is always asked (adjust_trade_position changes nothing there).
    """
    low, high = 0.0, np.inf
    is_short = short[p]
    for k in range(ladder.shape[0]):
        if math.isnan(ladder[k, 0]):
            break
        if not (taken[p] >> k) & 1:
            low, high = _narrowed(low, high, ladder[k, 0], p, fee, is_short, open_rate, amount, lev)
    fired = 0
    for k in range(adds.shape[0]):
        fired += (int(pos[p, POS_ADDS]) >> k) & 1
    open_adds = fired < params[P_MAX_SCALE_INS] and (
        pos[p, POS_EXITED] == 0 or params[P_SCALE_IN_AFTER_EXIT] > 0
    )
    for k in range(adds.shape[0]):
        if math.isnan(adds[k, 0]) or not open_adds:
            break
        if not (int(pos[p, POS_ADDS]) >> k) & 1:
            low, high = _narrowed(low, high, adds[k, 0], p, fee, is_short, open_rate, amount, lev)
    pos[p, POS_QUIET_LOW] = low * (1 + 1e-6)
    pos[p, POS_QUIET_HIGH] = high * (1 - 1e-6)


@njit(cache=True)
def _narrowed(
    low: float,
    high: float,
    profit: float,
    p: int,
    fee: float,
    is_short: bool,
    open_rate: np.ndarray,
    amount: np.ndarray,
    lev: np.ndarray,
) -> tuple[float, float]:
    """The band without the rates at which ``profit`` is reached (a gain above, or below short)."""
    rate = pm_rate_for_profit(profit, open_rate[p], amount[p], fee, lev[p], is_short)
    if (profit > 0) != is_short:
        return low, min(high, rate)
    return max(low, rate), high


@njit(cache=True)
def _rebase_stop(
    p: int,
    short: np.ndarray,
    open_rate: np.ndarray,
    lev: np.ndarray,
    stop: np.ndarray,
    stop_pct: np.ndarray,
    trailing: np.ndarray,
    price_digits: np.ndarray,
) -> None:
    """``recalc_trade_from_orders``'s ``adjust_stop_loss(open_rate, stop_loss_pct)``."""
    side = -1.0 if short[p] else 1.0
    new_loss = open_rate[p] * (1 - side * abs(stop_pct[p] / lev[p]))
    stop[p], moved = _raise_stop(stop[p], new_loss, short[p], price_digits[p])
    if moved:
        trailing[p] = True


@njit(cache=True)
def _stop_after_fill(
    p: int,
    t: int,
    params: np.ndarray,
    locks: np.ndarray,
    rate: float,
    short: np.ndarray,
    open_rate: np.ndarray,
    amount: np.ndarray,
    lev: np.ndarray,
    fee: float,
    best: np.ndarray,
    best_closed: np.ndarray,
    closes: np.ndarray,
    atr: np.ndarray,
    open_index: np.ndarray,
    stop: np.ndarray,
    stop_pct: np.ndarray,
    trailing: np.ndarray,
    price_digits: np.ndarray,
) -> bool:
    """
    ``Backtesting._call_adjust_stop`` after a partial exit filled at ``rate``: Freqtrade calls
    ``ft_stoploss_adjust(after_fill=True)`` only when a mixin answers ``custom_stoploss`` (here
    the package's trail), which may then set the stop either way (the mixins never loosen it),
    without marking it trailing; the built-in trail follows from ``rate``. Returns the trailing
    flag.
    """
    if not params[P_PM_TRAIL] > 0:
        return trailing[p]
    is_short = short[p]
    side = -1.0 if is_short else 1.0
    leverage = lev[p]
    if not side * (rate - stop[p]) > 0:
        return trailing[p]  # ft_stoploss_adjust: the stop is not on the right side of the rate
    if params[P_TRAIL_ON_CLOSE] > 0:
        found = np.nan
        if t - 1 >= open_index[p]:
            found = _closed_candle_stop(
                params,
                locks,
                is_short,
                open_rate[p],
                best_closed[p],
                atr[p, t],
                leverage,
                fee,
                amount[p],
                closes[p, t - 1],
                stop[p],
            )
    else:
        best_rate = min(best[p], rate) if is_short else max(best[p], rate)
        found = pm_trailing_stop(
            params, locks, is_short, open_rate[p], best_rate, atr[p, t], leverage, fee, amount[p]
        )
        if not math.isnan(found):
            found = min(found, stop[p]) if is_short else max(found, stop[p])
    if not math.isnan(found):
        ratio = pm_stoploss_ratio(found, rate, is_short, leverage)
        if not math.isnan(ratio) and ratio != 0:
            placed = rate * (1 - side * abs(ratio / leverage))
            if not side * (stop[p] - placed) > 0:  # pm_merge_stops: never loosens after a fill
                stop[p] = (
                    price_round_down(placed, price_digits[p])
                    if is_short
                    else price_round_up(placed, price_digits[p])
                )
                stop_pct[p] = -abs(ratio)
    if params[P_TRAILING_STOP] > 0:
        profit = ft_profit_ratio(rate, open_rate[p], amount[p], fee, leverage, is_short)
        if _builtin_trail(params, profit, rate, p, short, lev, stop, stop_pct, price_digits):
            return True
    return trailing[p]


@njit(cache=True)
def _builtin_trail(
    params: np.ndarray,
    profit: float,
    rate: float,
    p: int,
    short: np.ndarray,
    lev: np.ndarray,
    stop: np.ndarray,
    stop_pct: np.ndarray,
    price_digits: np.ndarray,
) -> bool:
    """``ft_stoploss_adjust``'s built-in trail from ``rate``: whether it raised the stop."""
    offset = params[P_TRAILING_OFFSET]
    if params[P_TRAILING_ONLY_OFFSET] > 0 and profit < offset:
        return False
    value = params[P_STOPLOSS]
    if not math.isnan(params[P_TRAILING_POSITIVE]) and profit > offset:
        value = params[P_TRAILING_POSITIVE]
    side = -1.0 if short[p] else 1.0
    new_loss = rate * (1 - side * abs(value / lev[p]))
    stop[p], moved = _raise_stop(stop[p], new_loss, short[p], price_digits[p])
    if moved:
        stop_pct[p] = -abs(value)
    return moved


@njit(cache=True)
def _roi_next(roi: np.ndarray, minutes: int) -> int:
    """The first key of the ROI table after ``minutes`` (in any row order), or a minute never reached."""
    found = np.iinfo(np.int64).max
    for k in range(roi.shape[0]):
        if math.isnan(roi[k, 0]):
            break
        if roi[k, 0] > minutes:
            found = min(found, int(roi[k, 0]))
    return found


@njit(cache=True)
def _roi_at(roi: np.ndarray, minutes: int) -> tuple[int, float]:
    """The ROI entry in force after ``minutes``: (its key, its value), (-1, NaN) for none."""
    key = -1
    value = np.nan
    for k in range(roi.shape[0]):
        if math.isnan(roi[k, 0]):
            break
        if roi[k, 0] <= minutes:
            key = int(roi[k, 0])
            value = roi[k, 1]
    return key, value


@njit(cache=True)
def _close_rate(
    reason: int,
    p: int,
    t: int,
    opens: np.ndarray,
    highs: np.ndarray,
    lows: np.ndarray,
    price_digits: np.ndarray,
    fee: float,
    timeframe_minutes: int,
    times: np.ndarray,
    roi: np.ndarray,
    short: np.ndarray,
    open_index: np.ndarray,
    open_rate: np.ndarray,
    amount: np.ndarray,
    lev: np.ndarray,
    stop: np.ndarray,
    stop_pct: np.ndarray,
    pm_trail: bool,
    builtin_trail: bool,
    positive: float,
    offset: float,
    only_offset: bool,
) -> float:
    """``Backtesting._get_close_rate``, then the exit order's rounding to the tick."""
    is_short = short[p]
    side = -1.0 if is_short else 1.0
    row_open = opens[p, t]
    low = lows[p, t]
    high = highs[p, t]
    leverage = lev[p]
    duration = (times[t] - times[open_index[p]]) // 60_000_000
    rate = row_open
    if reason == STOP_LOSS or reason == TRAILING_STOP_LOSS:
        rate = stop[p]
        if (is_short and stop[p] < low) or (not is_short and stop[p] > high):
            rate = row_open
        elif reason == TRAILING_STOP_LOSS and duration == 0:
            if (
                not pm_trail
                and builtin_trail
                and only_offset
                and not math.isnan(positive)
                and (positive != 0)
            ):
                worst = row_open * (1 + side * abs(offset) - side * abs(positive / leverage))
            else:
                worst = row_open * (1 - side * abs(stop_pct[p] / leverage))
            rate = min(high, worst) if is_short else max(low, worst)
    elif reason == ROI:
        roi_key, roi_value = _roi_at(roi, duration)
        if roi_value == -1 and roi_key % timeframe_minutes == 0:
            return price_round(row_open, price_digits[p])
        close = ft_close_rate_for_roi(roi_value, open_rate[p], amount[p], fee, leverage, is_short)
        is_new_roi = row_open < close if is_short else row_open > close
        if (
            duration > 0
            and duration == roi_key
            and roi_key % timeframe_minutes == 0
            and (is_new_roi)
        ):
            rate = row_open
        else:
            rate = min(max(close, low), high)
    return price_round(rate, price_digits[p])


@njit(cache=True)
def metrics(
    trades: np.ndarray, n: int, start_balance: float, out: np.ndarray, years: float
) -> None:
    """Profit, drawdown (of closed-trade equity), Calmar, win rate and profit factor."""
    profit = 0.0
    peak = start_balance
    max_dd = 0.0
    wins = 0
    gains = 0.0
    losses = 0.0
    for k in range(n):
        pa = trades[k, T_PROFIT_ABS]
        profit += pa
        equity = start_balance + profit
        peak = max(peak, equity)
        max_dd = max(max_dd, (peak - equity) / peak)
        if pa > 0:
            wins += 1
            gains += pa
        else:
            losses -= pa
    out[M_TRADES] = n
    out[M_PROFIT_ABS] = profit
    out[M_PROFIT_RATIO] = profit / start_balance
    out[M_MAX_DRAWDOWN] = max_dd
    yearly = (1 + profit / start_balance) ** (1 / years) - 1 if years > 0 else 0.0
    out[M_CALMAR] = yearly / max_dd if max_dd > 0 else 0.0
    out[M_WIN_RATE] = wins / n if n else 0.0
    out[M_PROFIT_FACTOR] = gains / losses if losses > 0 else np.inf if gains > 0 else 0.0
