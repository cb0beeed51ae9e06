"""
The lab kernel's arithmetic is the package's and Freqtrade's, number for number: the trailing
policy (TrailingStopPolicy.stop_and_source), the custom_stoploss ratio, profit ratios, tick
rounding of stops and lot truncation.
"""

import math

import numpy as np
from freqtrade.exchange.exchange_utils import (
    ROUND_DOWN,
    ROUND_UP,
    TICK_SIZE,
    amount_to_precision,
    price_to_precision,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from freqtrade_posmgmt.lab import kernel
from freqtrade_posmgmt.profit import profit_ratio, stoploss_ratio
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy

prices = st.floats(0.001, 200_000, allow_nan=False)
digits = st.integers(0, 6)


@settings(max_examples=400, deadline=None)
@given(prices, digits)
def test_stop_rounding_is_freqtrades(price, places):
    tick = 10.0**-places
    assert kernel.price_round_up(price, places) == price_to_precision(
        price, tick, TICK_SIZE, rounding_mode=ROUND_UP
    )
    assert kernel.price_round_down(price, places) == price_to_precision(
        price, tick, TICK_SIZE, rounding_mode=ROUND_DOWN
    )
    assert kernel.price_round(price, places) == price_to_precision(price, tick, TICK_SIZE)


@settings(max_examples=1000, deadline=None)
@given(st.floats(-5, 5) | st.integers(-(10**9), 10**9).map(lambda n: n / 1e8 + 5e-9))
def test_profit_rounding_is_pythons(value):
    assert kernel.round8(value) == round(value, 8)


@settings(max_examples=400, deadline=None)
@given(st.floats(0.0001, 1e6), digits)
def test_lot_truncation_is_freqtrades(amount, places):
    assert kernel.amount_truncate(amount, places) == amount_to_precision(
        amount, 10.0**-places, TICK_SIZE
    )


@settings(max_examples=300, deadline=None)
@given(prices, st.floats(0.8, 1.2), st.booleans(), st.sampled_from([1.0, 3.0]))
def test_profit_and_stop_ratio_are_the_packages(open_rate, move, short, leverage):
    rate = open_rate * move
    ours = kernel.pm_profit_ratio(rate, open_rate, 0.37, 0.001, leverage, short)
    assert ours == profit_ratio(
        rate,
        open_rate=open_rate,
        is_short=short,
        leverage=leverage,
        fee_open=0.001,
        fee_close=0.001,
        amount=0.37,
    )
    stop = rate * (1.02 if short else 0.98)
    expected = stoploss_ratio(stop, rate, is_short=short, leverage=leverage)
    assert kernel.pm_stoploss_ratio(stop, rate, short, leverage) == expected


@settings(max_examples=400, deadline=None)
@given(
    open_rate=prices,
    move=st.floats(0.9, 1.3),
    short=st.booleans(),
    leverage=st.sampled_from([1.0, 2.0, 3.0]),
    activation=st.floats(0, 0.1),
    distance=st.floats(0.001, 0.05),
    atr_multiplier=st.none() | st.floats(0.5, 5),
    atr=st.floats(0, 500),
    breakeven=st.none() | st.floats(0.002, 0.05),
    locks=st.sampled_from([(), ((0.03, 0.01), (0.06, 0.03))]),
)
def test_trailing_stop_is_the_policys(
    open_rate, move, short, leverage, activation, distance, atr_multiplier, atr, breakeven, locks
):
    policy = TrailingStopPolicy(
        activation_threshold=activation,
        trailing_distance_pct=distance,
        atr_multiplier=atr_multiplier,
        breakeven_threshold=breakeven,
        profit_locks=locks,
    )
    best = open_rate / move if short else open_rate * move
    found = policy.stop_and_source(
        is_short=short,
        open_rate=open_rate,
        best_rate=best,
        atr=atr,
        leverage=leverage,
        fee_open=0.001,
        fee_close=0.001,
        amount=2.5,
    )
    params = np.full(kernel.N_PARAMS, np.nan)
    params[kernel.P_ACTIVATION] = activation
    params[kernel.P_DISTANCE] = distance
    params[kernel.P_ATR_MULTIPLIER] = np.nan if atr_multiplier is None else atr_multiplier
    params[kernel.P_BREAKEVEN_THRESHOLD] = np.nan if breakeven is None else breakeven
    params[kernel.P_BREAKEVEN_BUFFER] = policy.breakeven_buffer
    lock_rows = np.full((8, 2), np.nan)
    for k, lock in enumerate(locks):
        lock_rows[k] = lock
    ours = kernel.pm_trailing_stop(
        params, lock_rows, short, open_rate, best, atr, leverage, 0.001, 2.5
    )
    if found is None:
        assert math.isnan(ours)
    else:
        assert ours == found[0]
