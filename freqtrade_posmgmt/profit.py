"""
Freqtrade's profit arithmetic, in one place and without Freqtrade.

Every threshold in this package is a Freqtrade profit ratio (``Trade.calc_profit_ratio``): both
fees included, funding fees included for futures, scaled by leverage, measured from the average
entry price. Stop distances are what ``custom_stoploss`` returns: a ratio of ``current_rate``
that Freqtrade divides by leverage.
"""

# Freqtrade rounds profit ratios to 8 decimals (Trade.calc_profit_ratio); so do we, so that a
# threshold compares exactly as Freqtrade's own trailing offset does.
PROFIT_DECIMALS = 8


def profit_ratio(
    rate: float,
    *,
    open_rate: float,
    is_short: bool,
    leverage: float = 1.0,
    fee_open: float = 0.0,
    fee_close: float = 0.0,
    amount: float = 1.0,
    funding_fees: float = 0.0,
) -> float:
    """
    Freqtrade's profit ratio of closing ``amount`` at ``rate``, as ``Trade.calc_profit_ratio``.

    :param rate: Exit rate.
    :param open_rate: Average entry rate of the position.
    :param is_short: True for a short position.
    :param leverage: Leverage of the position (1.0 for spot).
    :param fee_open: Fee ratio paid on the entry.
    :param fee_close: Fee ratio paid on the exit.
    :param amount: Amount held; only matters with ``funding_fees``.
    :param funding_fees: Funding received (positive) or paid (negative), in stake currency.
    :return: Profit ratio rounded to Freqtrade's 8 decimals; 0.0 for an empty position.
    """
    sign = -1.0 if is_short else 1.0
    open_value = amount * open_rate * (1 + sign * fee_open)
    if open_value == 0:
        return 0.0
    close_value = amount * rate * (1 - sign * fee_close) + sign * funding_fees
    return round(sign * (close_value / open_value - 1) * leverage, PROFIT_DECIMALS)


def rate_for_profit(
    profit: float,
    *,
    open_rate: float,
    is_short: bool,
    leverage: float = 1.0,
    fee_open: float = 0.0,
    fee_close: float = 0.0,
    amount: float = 1.0,
    funding_fees: float = 0.0,
) -> float:
    """
    The exit rate at which :func:`profit_ratio` equals ``profit`` (before its rounding). With
    ``profit=0`` it is the fee-aware (and funding-aware) breakeven rate.

    :param profit: Wanted profit ratio (leverage-scaled, after both fees).
    :param open_rate: Average entry rate of the position.
    :param is_short: True for a short position.
    :param leverage: Leverage of the position (1.0 for spot).
    :param fee_open: Fee ratio paid on the entry.
    :param fee_close: Fee ratio paid on the exit.
    :param amount: Amount held; only matters with ``funding_fees``.
    :param funding_fees: Funding received (positive) or paid (negative), in stake currency.
    :return: Exit rate.
    """
    sign = -1.0 if is_short else 1.0
    open_value = amount * open_rate * (1 + sign * fee_open)
    close_value = open_value * (1 + sign * profit / leverage) - sign * funding_fees
    return close_value / (amount * (1 - sign * fee_close))


def stoploss_ratio(
    stop_rate: float, current_rate: float, *, is_short: bool, leverage: float = 1.0
) -> float | None:
    """
    The value ``custom_stoploss`` must return so that Freqtrade places its stop at ``stop_rate``.

    Freqtrade divides the returned ratio by leverage and applies it to ``current_rate``
    (``Trade.adjust_stop_loss``). The ratio is refined until Freqtrade's own arithmetic gives back
    ``stop_rate`` to the last bit whenever a float allows it: the stop is then rounded to the
    exchange tick exactly as a stop Freqtrade computed itself would be.

    :param stop_rate: Wanted absolute stop price.
    :param current_rate: The ``current_rate`` Freqtrade passed to ``custom_stoploss``.
    :param is_short: True for a short position.
    :param leverage: Leverage of the position (1.0 for spot).
    :return: Positive stop ratio, or None when the stop would sit at or beyond ``current_rate``
        (Freqtrade cannot place it there; its own ``stoploss_from_absolute`` returns 0 then).
    """
    side = -1.0 if is_short else 1.0
    if current_rate <= 0 or side * (current_rate - stop_rate) <= 0:
        return None
    ratio = side * (1 - stop_rate / current_rate) * leverage
    for _ in range(4):
        placed = stop_rate_for_ratio(ratio, current_rate, is_short=is_short, leverage=leverage)
        if placed == stop_rate:
            break
        ratio += side * (placed - stop_rate) / current_rate * leverage
    return ratio


def stop_rate_for_ratio(
    ratio: float, current_rate: float, *, is_short: bool, leverage: float = 1.0
) -> float:
    """
    Where Freqtrade places a stop for a ``custom_stoploss`` return (before tick rounding): the
    inverse of :func:`stoploss_ratio`.
    """
    side = -1.0 if is_short else 1.0
    return current_rate * (1 - side * abs(ratio / leverage))


def profit_abs(
    rate: float,
    *,
    open_rate: float,
    is_short: bool,
    amount: float,
    fee_open: float = 0.0,
    fee_close: float = 0.0,
    funding_fees: float = 0.0,
) -> float:
    """
    Freqtrade's absolute profit, in stake currency, of closing ``amount`` at ``rate``, as
    ``Trade.calculate_profit(rate, amount, open_rate).profit_abs`` (rounded to 8 decimals).

    :param rate: Exit rate.
    :param open_rate: Average entry rate of the position.
    :param is_short: True for a short position.
    :param amount: Amount closed.
    :param fee_open: Fee ratio paid on the entry.
    :param fee_close: Fee ratio paid on the exit.
    :param funding_fees: Funding received (positive) or paid (negative), in stake currency.
    :return: Profit in stake currency (negative for a loss).
    """
    sign = -1.0 if is_short else 1.0
    open_value = amount * open_rate * (1 + sign * fee_open)
    close_value = amount * rate * (1 - sign * fee_close) + sign * funding_fees
    return round(sign * (close_value - open_value), PROFIT_DECIMALS)
