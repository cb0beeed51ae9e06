"""
The lab kernel's arithmetic is the package's and Freqtrade's, number for number: the trailing
policy (TrailingStopPolicy.stop_and_source), the custom_stoploss ratio, profit ratios, tick
rounding of stops and lot truncation.
"""

import math
from datetime import UTC, datetime
from decimal import ROUND_DOWN as ROUND_DOWN_DECIMAL
from decimal import Decimal

import numpy as np
from freqtrade.exchange.exchange_utils import (
    ROUND_DOWN,
    ROUND_UP,
    TICK_SIZE,
    amount_to_precision,
    price_to_precision,
)
from freqtrade.persistence import LocalTrade, Order
from freqtrade.util import FtPrecise
from hypothesis import given, settings
from hypothesis import strategies as st

from freqtrade_posmgmt.dynamic_risk import DynamicRiskConfig, DynamicRiskManager
from freqtrade_posmgmt.lab import kernel
from freqtrade_posmgmt.partial_manager import (
    CANDLES_SINCE_LAST_FILL,
    PartialExitPolicy,
    PositionState,
    exit_min_stake_factor,
)
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


ladders = st.lists(
    st.tuples(st.integers(1, 40), st.sampled_from([0.1, 0.25, 1 / 3, 0.5, 0.7, 1.0])),
    min_size=1,
    max_size=4,
    unique_by=lambda level: level[0],
)


@settings(max_examples=400, deadline=None)
@given(
    ladders,
    st.integers(0, 15),
    st.floats(0.001, 0.5),
    st.floats(-0.05, 0.5),
    st.sampled_from([0.0, 5.0, 20.0]),
    st.sampled_from([-0.99, -0.3, -0.05]),
)
def test_partial_exit_decision_is_the_policys(levels, fired, held_share, profit, min_stake, sl):
    levels.sort()
    targets = [n / 100 for n, _ in levels]
    sizes = [size for _, size in levels]
    total = sum(sizes)
    if total > 1:
        sizes = [size / total for size in sizes]
    policy = PartialExitPolicy(exit_targets=targets, exit_sizes=sizes)
    taken = {k + 1 for k in range(len(levels)) if (fired >> k) & 1}
    peak = 3.7
    held = peak * held_share
    position = PositionState(
        entry_price=100.0,
        side="long",
        original_size=peak,
        current_size=held,
        partial_exits_taken=frozenset(taken),
    )
    rate = 104.0
    theirs = policy.check_partial_exits(
        position,
        rate,
        current_profit=profit,
        min_stake=min_stake,
        stoploss=sl,
        amount_reserve_percent=0.05,
    )
    ladder = np.full((kernel.MAX_TARGETS, 2), np.nan)
    ladder[: len(targets)] = list(zip(targets, sizes, strict=True))
    mask = sum(1 << (n - 1) for n in taken)
    factor = kernel.exit_min_stake_factor(sl, 1.05)
    assert factor == exit_min_stake_factor(sl, 0.05)
    amount, due, below = kernel.partial_exit_due(
        ladder, mask, held, peak, profit, rate, min_stake, factor
    )
    if not theirs:
        assert amount == 0.0
        return
    assert amount == theirs[0].amount
    assert due == sum(1 << (n - 1) for n in theirs[0].levels)
    assert below == theirs[0].rest_below_min_stake


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 10**7),
    st.integers(0, 4),
    st.integers(2, 10**6),
    st.integers(0, 6),
    st.sampled_from([0.1, 0.25, 0.3, 0.5, 0.75, 0.05 * 7]),
    st.sampled_from([1.0, 3.0]),
)
def test_partial_exit_amount_is_the_backtesters(ticks, price_places, lots, places, share, lev):
    """The mixin's stake answer turned back into an amount, on a lot or between two."""
    rate = ticks / 10**price_places
    held = lots / 10**places
    wanted = share * held
    stake_amount = float(FtPrecise(rate) * FtPrecise(held)) / lev
    stake = -stake_amount * wanted / held
    theirs = amount_to_precision(
        abs(float(FtPrecise(stake) * FtPrecise(held) / FtPrecise(stake_amount))),
        10.0**-places,
        TICK_SIZE,
    )
    # trade.stake_amount as the kernel keeps it, and the amount it sells.
    assert kernel._decimal_product(rate, held, places)[0] / lev == stake_amount
    assert kernel.ft_exit_amount(stake_amount, held, wanted, places) == theirs


@settings(max_examples=500, deadline=None)
@given(
    st.floats(1e-4, 1e7),
    st.floats(1e-8, 1e9),
    st.floats(1e-6, 1.0),
    st.booleans(),
    digits,
)
def test_exact_exit_amount_is_ftprecises(stake_amount, held, share, on_lot, places):
    """The decimal path's integer steps are FtPrecise's and the lot's truncation, digit for digit."""
    if on_lot:
        held = max(1, round(held * 10**places)) / 10**places
        share = max(1, round(share * held * 10**places)) / 10**places / held
    stake = -stake_amount * share
    exact = FtPrecise(stake) * FtPrecise(held) / FtPrecise(stake_amount)
    lot = Decimal(10) ** -places
    value = Decimal(repr(abs(float(exact))))
    theirs = float((value / lot).to_integral_value(ROUND_DOWN_DECIMAL) * lot)
    assert kernel.ft_exit_amount_exact(stake_amount, stake, held, places) == theirs


@settings(max_examples=500, deadline=None)
@given(
    st.floats(0.5, 1.5),
    st.floats(0.5, 1.0),
    st.floats(0.0, 1.0),
    st.lists(st.floats(0.01, 0.5), min_size=1, max_size=4, unique=True),
    st.lists(st.floats(0.001, 0.2), max_size=3, unique=True),
)
def test_drawdown_tier_factor_is_the_policys(peak_share, equity_share, trough_share, dd, rec):
    """The stake factor of the drawdown tier in force, with gradual recovery."""
    thresholds = sorted(dd)
    factors = [1 - 0.2 * k for k in range(1, len(thresholds) + 1)]
    recovery = sorted(rec)
    peak = 10_000 * peak_share
    equity = peak * equity_share
    trough = equity * trough_share
    manager = DynamicRiskManager(
        DynamicRiskConfig(
            drawdown_thresholds=thresholds,
            risk_reduction_factors=factors,
            recovery_thresholds=recovery,
            volatility_adjustment_enabled=False,
            performance_adjustment_enabled=False,
            tighten_stops=False,
        )
    )
    theirs = manager.calculate_risk_adjustment(equity, peak, trough_balance=trough)
    tiers = np.full((kernel.MAX_TIERS, 2), np.nan)
    tiers[: len(thresholds)] = list(zip(thresholds, factors, strict=True))
    recoveries = np.full(kernel.MAX_TIERS, np.nan)
    recoveries[: len(recovery)] = recovery
    ours = kernel.risk_factor(equity, peak, trough, tiers, recoveries)
    assert ours == theirs.position_size_factor


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.integers(-12, 12).filter(bool), min_size=1, max_size=4, unique=True),
    st.integers(0, 15),
    st.integers(0, 4),
    st.booleans(),
    st.booleans(),
    st.integers(0, 3),
    st.floats(0, 5),
    st.floats(-0.15, 0.15),
    st.sampled_from([0.0, 10.0, 300.0]),
    st.sampled_from([50.0, 1e9]),
)
def test_scale_in_decision_is_the_policys(
    levels, fired, cap, exited, after_exit, min_candles, candles, profit, min_stake, max_stake
):
    thresholds = sorted(n / 100 for n in levels)
    sizes = [0.25 * (1 + k % 3) for k in range(len(thresholds))]
    cap = min(cap, len(thresholds)) or None
    policy = PartialExitPolicy(
        exit_targets=[],
        exit_sizes=[],
        scale_in_thresholds=thresholds,
        scale_in_sizes=sizes,
        max_scale_ins=cap,
        scale_in_after_exit=after_exit,
        scale_in_min_candles=min_candles,
    )
    taken = {k + 1 for k in range(len(thresholds)) if (fired >> k) & 1}
    position = PositionState(
        entry_price=100.0,
        side="long",
        original_size=2.0,
        current_size=2.5,
        original_stake=200.0,
        scale_ins_taken=frozenset(taken),
        partly_exited=exited,
    )
    theirs = policy.check_scale_in_opportunity(
        position,
        99.0,
        {CANDLES_SINCE_LAST_FILL: candles},
        current_profit=profit,
        min_stake=min_stake,
        max_stake=max_stake,
    )
    adds = np.full((kernel.MAX_TARGETS, 2), np.nan)
    adds[: len(thresholds)] = list(zip(thresholds, sizes, strict=True))
    mask = sum(1 << (n - 1) for n in taken)
    stake, due = kernel.scale_in_due(
        adds, policy.scale_in_cap, after_exit, min_candles, mask, exited, 2.5, profit,
        candles, 200.0, min_stake, max_stake,
    )  # fmt: skip
    if theirs is None:
        assert stake == 0.0
        return
    assert stake == theirs.stake
    assert due == sum(1 << (n - 1) for n in theirs.levels)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(1, 5000), st.integers(90_000, 110_000)),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([1.0, 3.0]),
)
def test_recalc_after_adds_is_freqtrades(fills, leverage):
    """Average, open rate, amount and stake after entries and exits, as Freqtrade recomputes."""
    trade = LocalTrade(
        pair="BTC/USDT", open_rate=100.0, amount=0.0, stake_amount=0.0, fee_open=0.001,
        fee_close=0.001, is_open=True, leverage=leverage, amount_precision=0.001,
        price_precision=0.01, precision_mode=TICK_SIZE, precision_mode_price=TICK_SIZE,
        open_date=datetime(2025, 1, 1, tzinfo=UTC), exchange="binance", orders=[],
    )  # fmt: skip
    rows = []
    held = 0
    for index, (is_exit, lots, ticks) in enumerate([(False, 100, 100_000), *fills]):
        if is_exit:
            lots = min(lots, held - 1)
            if lots <= 0:
                continue
        held += -lots if is_exit else lots
        amount, rate = lots / 1000, ticks / 100
        rows.append((0, 0, index, is_exit, amount, rate))
        side = "sell" if is_exit else "buy"
        trade.orders.append(
            Order(
                ft_order_side=side, ft_pair="BTC/USDT", ft_is_open=False, ft_amount=amount,
                ft_price=rate, order_id=str(index), status="closed", side=side,
                order_type="limit", amount=amount, filled=amount, price=rate, average=rate,
            )
        )  # fmt: skip
    trade.recalc_trade_from_orders()
    units, rate, staked, _ = kernel.ft_recalc_exact(np.array(rows), 0, 0, leverage, 3, 2)
    assert (units, rate, staked) == (trade.amount, trade.open_rate, trade.stake_amount)
    if any(row[3] for row in rows):
        return
    # Entries only: the kernel's integer path.
    pos = np.zeros((1, kernel.N_POS))
    digits = np.array([2]), np.array([3])
    for row in rows:
        kernel._add_integers(0, pos, row[5], row[4], *digits)
    arrays = [np.zeros(1) for _ in range(3)]
    kernel._recalc(0, pos, *arrays, np.array([leverage]), digits[1], digits[0], np.array(rows), 0)
    assert [a[0] for a in arrays] == [trade.open_rate, trade.amount, trade.stake_amount]
