"""DynamicRiskManager without Freqtrade's engine: the recovery rule, the components, validation, risk."""

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from freqtrade.enums import TradingMode
from freqtrade.exchange import timeframe_to_prev_date
from freqtrade.persistence import LocalTrade
from hypothesis import given, settings
from hypothesis import strategies as st

from freqtrade_posmgmt.dynamic_risk import (
    DynamicRiskConfig,
    DynamicRiskManager,
    TradeOutcome,
    daily_volatility,
    daily_volatility_series,
    stake_for_risk,
    tier_in_force,
)
from freqtrade_posmgmt.mixins._account import EquityPoint, decision_candle
from freqtrade_posmgmt.profit import profit_abs, stop_rate_for_ratio

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DRAWDOWN_ONLY = DynamicRiskConfig(
    performance_adjustment_enabled=False, volatility_adjustment_enabled=False
)


def factors_along(equities: list[float], config: DynamicRiskConfig = DRAWDOWN_ONLY) -> list[float]:
    """The stake factor after each point of a realised equity path starting at equities[0]."""
    manager = DynamicRiskManager(config)
    point = EquityPoint(0.0, equities[0], equities[0], equities[0])
    out = []
    for i, equity in enumerate(equities):
        point = point.then(float(i), equity)
        adjustment = manager.calculate_risk_adjustment(
            point.equity, point.peak, trough_balance=point.trough
        )
        out.append(adjustment.position_size_factor)
    return out


def reference_tiers(equities: list[float], config: DynamicRiskConfig) -> list[int]:
    """The rule written out from the raw path, with no running state."""
    out = []
    for i, equity in enumerate(equities):
        peak = max(equities[: i + 1])
        start = max(j for j in range(i + 1) if equities[j] >= peak)  # the episode's peak
        trough = min(equities[start : i + 1])

        def tier(dd):
            return sum(t <= dd for t in config.drawdown_thresholds)

        deepest = tier((peak - trough) / peak)
        gain = (equity - trough) / trough
        steps = sum(r <= gain for r in config.recovery_thresholds)
        out.append(max(tier((peak - equity) / peak), deepest - steps))
    return out


def test_the_seed_readme_call():
    config = DynamicRiskConfig(
        enabled=True, drawdown_thresholds=[0.05, 0.10, 0.15], risk_reduction_factors=[0.8, 0.6, 0.4]
    )
    risk_mgr = DynamicRiskManager(config, None)
    adjustment = risk_mgr.calculate_risk_adjustment(current_balance=9000, peak_balance=10000)
    assert adjustment.position_size_factor == 0.6
    assert adjustment.primary_reason == "drawdown_tier_2"
    assert adjustment.stop_loss_tightening == pytest.approx(1.2)


def test_the_readme_worked_example():
    path = [10000, 9400, 8800, 8400, 8560, 8600, 8850, 9100, 9600, 9900, 10000, 9700]
    assert factors_along(path) == [1.0, 0.8, 0.6, 0.4, 0.4, 0.6, 0.6, 0.8, 0.8, 0.8, 1.0, 1.0]


@pytest.mark.parametrize(
    ("equity", "peak", "expected"),
    [
        (10000, 10000, 1.0),
        (9501, 10000, 1.0),
        (9500, 10000, 0.8),
        (8500, 10000, 0.4),
        (-5, 10, 0.4),
    ],
)
def test_tiers_begin_at_their_thresholds(equity, peak, expected):
    adjustment = DynamicRiskManager(DRAWDOWN_ONLY).calculate_risk_adjustment(equity, peak)
    assert adjustment.position_size_factor == expected


def test_a_peak_of_zero_or_less_is_no_drawdown():
    assert (
        DynamicRiskManager(DRAWDOWN_ONLY).calculate_risk_adjustment(5, 0).position_size_factor == 1
    )


paths = st.lists(st.floats(0.5, 1.6), min_size=2, max_size=40).map(
    lambda moves: [10000.0 * m for m in moves]
)


@settings(max_examples=300, deadline=None)
@given(paths)
def test_the_running_state_gives_the_rule_written_out(path):
    config = DRAWDOWN_ONLY
    point = EquityPoint(0.0, path[0], path[0], path[0])
    for i, equity in enumerate(path):
        point = point.then(float(i), equity)
        level, _, _ = tier_in_force(
            point.equity,
            point.peak,
            point.trough,
            config.drawdown_thresholds,
            config.recovery_thresholds,
        )
        assert level == reference_tiers(path[: i + 1], config)[-1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0.0, 0.08), min_size=1, max_size=30))
def test_monotone_on_the_way_down(losses):
    path = [10000.0]
    for loss in losses:
        path.append(path[-1] * (1 - loss))
    factors = factors_along(path)
    assert all(b <= a for a, b in itertools.pairwise(factors))


@settings(max_examples=300, deadline=None)
@given(paths)
def test_never_above_what_todays_drawdown_allows_and_full_at_a_new_peak(path):
    manager = DynamicRiskManager(DRAWDOWN_ONLY)
    point = EquityPoint(0.0, path[0], path[0], path[0])
    for i, equity in enumerate(path):
        point = point.then(float(i), equity)
        factor = factors_along(path[: i + 1])[-1]
        plain = manager.calculate_risk_adjustment(equity, point.peak).position_size_factor
        assert factor <= plain
        if equity >= max(path[: i + 1]):
            assert factor == 1.0


@settings(max_examples=300, deadline=None)
@given(st.floats(0.15, 0.5), st.floats(0.0, 0.0199))
def test_a_bounce_off_the_trough_never_snaps_back(fall, bounce):
    trough = 10000 * (1 - fall)
    factors = factors_along([10000, trough, trough * (1 + bounce)])
    assert factors[1] == factors[2] == 0.4  # below the first recovery threshold: tier held


def test_recovery_lifts_one_tier_per_threshold_but_todays_drawdown_still_caps():
    manager = DynamicRiskManager(DRAWDOWN_ONLY)

    def factor(equity, trough):
        return manager.calculate_risk_adjustment(
            equity, 10000, trough_balance=trough
        ).position_size_factor

    # Trough at -16% (tier 3, K = 3).
    assert factor(8400 * 1.019, 8400) == 0.4  # s = 0: tier 3 held though dd is tier 2
    assert factor(8400 * 1.021, 8400) == 0.6  # s = 1
    assert factor(9600, 8400) == 0.8  # s = 2 and dd 4%: K - s = 1 holds until a new peak
    assert factor(10000, 8400) == 1.0
    # Trough at -20%: +5% from it is still a 16% drawdown, tier 3 whatever the recovery.
    adjustment = manager.calculate_risk_adjustment(8400, 10000, trough_balance=8000)
    assert adjustment.adjustment_details["recovery_steps"] == 2
    assert adjustment.position_size_factor == 0.4


# --- performance and volatility ----------------------------------------------------------------


def outcomes(profits, end=T0):
    return [TradeOutcome(end - timedelta(hours=i + 1), p) for i, p in enumerate(profits)]


def test_performance_score_seed_formula_and_boost_above_one():
    config = DynamicRiskConfig(volatility_adjustment_enabled=False)
    manager = DynamicRiskManager(config)
    good = manager.calculate_risk_adjustment(10000, 10000, recent_trades=outcomes([10] * 10))
    assert good.adjustment_details["performance_score"] == 1.0
    assert good.position_size_factor == 1.2
    assert good.daily_risk_factor == 1.1
    assert good.primary_reason == "performance_good"
    poor = manager.calculate_risk_adjustment(10000, 10000, recent_trades=outcomes([-1] * 12))
    assert poor.position_size_factor == 0.6
    assert poor.stop_loss_tightening == 1.2
    assert poor.daily_risk_factor == 0.7
    few = manager.calculate_risk_adjustment(10000, 10000, recent_trades=outcomes([-1] * 9))
    assert few.position_size_factor == 1.0
    # 6 wins of 10, profit factor 60/40: 0.6 * 0.6 + 0.4 * 0.75 = 0.66 is neutral.
    mid = manager.calculate_risk_adjustment(
        10000, 10000, recent_trades=outcomes([10] * 6 + [-10] * 4)
    )
    assert mid.adjustment_details["performance_score"] == pytest.approx(0.66)
    assert mid.position_size_factor == 1.0


def test_the_performance_window_ends_at_the_decision_time_not_the_clock():
    manager = DynamicRiskManager(DynamicRiskConfig(volatility_adjustment_enabled=False))
    trades = outcomes([-1] * 10, end=T0)  # closed in the 10 hours before T0
    late = [TradeOutcome(T0 + timedelta(hours=1), 5.0)] * 20  # after the decision: ignored
    old = [TradeOutcome(T0 - timedelta(days=31), 5.0)] * 20  # before the window: ignored
    adjustment = manager.calculate_risk_adjustment(
        10000, 10000, recent_trades=trades + late + old, as_of=T0
    )
    assert adjustment.adjustment_details["performance_trades"] == 10
    assert adjustment.primary_reason == "performance_poor"
    source = DynamicRiskManager(
        DynamicRiskConfig(volatility_adjustment_enabled=False),
        trade_source=lambda start, end: trades + late + old,
    ).calculate_risk_adjustment(10000, 10000, as_of=T0)
    assert source.position_size_factor == adjustment.position_size_factor


def hourly(days: int, daily_moves: list[float]) -> tuple[np.ndarray, np.ndarray]:
    times = T0.timestamp() + 3600 * np.arange(24 * days)
    closes = np.empty(len(times))
    price = 100.0
    for i in range(len(times)):
        if i and i % 24 == 0:
            price *= daily_moves[(i // 24 - 1) % len(daily_moves)]
        closes[i] = price
    return times, closes


def test_daily_volatility_is_of_daily_closes_and_point_in_time():
    times, closes = hourly(60, [1.02, 0.99, 1.04, 0.97])
    before = times[24 * 40]
    vol = daily_volatility(times, closes, before, 30)
    day_closes = closes[24 * 40 - 1 :: -24][:31][::-1]
    assert vol == pytest.approx(np.std(np.diff(np.log(day_closes)), ddof=1))
    later = closes.copy()
    later[24 * 40 :] *= 3  # the decision candle and later: must not matter
    assert daily_volatility(times, later, before, 30) == vol
    assert daily_volatility(times, closes, times[1], 30) is None


def test_volatility_scales_the_stake_both_ways():
    manager = DynamicRiskManager(DynamicRiskConfig(performance_adjustment_enabled=False))
    high = manager.calculate_risk_adjustment(10000, 10000, volatility=0.05)
    low = manager.calculate_risk_adjustment(10000, 10000, volatility=0.005)
    normal = manager.calculate_risk_adjustment(10000, 10000, volatility=0.02)
    assert (high.position_size_factor, high.stop_loss_tightening) == (0.7, 1.1)
    assert (low.position_size_factor, low.stop_loss_tightening) == (1.3, 1.0)
    assert normal.position_size_factor == 1.0
    # Factors multiply: tier 2 with high volatility.
    both = manager.calculate_risk_adjustment(9000, 10000, volatility=0.05)
    assert both.position_size_factor == pytest.approx(0.42)
    assert both.stop_loss_tightening == pytest.approx(1.2)
    assert both.primary_reason == "drawdown_tier_2"


def test_tightening_can_be_switched_off_and_then_the_policy_cannot_tighten():
    config = DynamicRiskConfig(tighten_stops=False)
    assert not config.can_tighten
    assert DynamicRiskConfig().can_tighten
    assert (
        DynamicRiskManager(config).calculate_risk_adjustment(8000, 10000).stop_loss_tightening == 1
    )
    assert not DynamicRiskConfig(enabled=False).can_tighten


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"drawdown_thresholds": [0.1, 0.05, 0.15]},
            "drawdown_thresholds=[0.1, 0.05, 0.15]: must be strictly ascending",
        ),
        (
            {"drawdown_thresholds": [0.05, 0.1, 1.5]},
            "drawdown_thresholds=[0.05, 0.1, 1.5]: must each be > 0 and < 1",
        ),
        (
            {"risk_reduction_factors": [0.6, 0.8, 0.4]},
            "risk_reduction_factors=[0.6, 0.8, 0.4]: must not increase from one item to the next",
        ),
        (
            {"risk_reduction_factors": [0.8, 0.6, 0.0]},
            "risk_reduction_factors=[0.8, 0.6, 0.0]: must each be > 0 and <= 1",
        ),
        (
            {"risk_reduction_factors": [0.8, 0.6]},
            "risk_reduction_factors=[0.8, 0.6]: must have as many items as drawdown_thresholds (3)",
        ),
        (
            {"recovery_thresholds": [0.05, 0.02]},
            "recovery_thresholds=[0.05, 0.02]: must be strictly ascending",
        ),
        ({"recovery_thresholds": "0.02"}, "recovery_thresholds='0.02': must be a list of numbers"),
        ({"risk_per_trade": 1.5}, "risk_per_trade=1.5: must be > 0 and < 1"),
        ({"enabled": 1}, "enabled=1: must be true or false"),
        ({"performance_window_days": 0}, "performance_window_days=0: must be a whole number >= 1"),
        (
            {"high_volatility_threshold": 0.005},
            "high_volatility_threshold=0.005: must be > 0.01",
        ),
        (
            {"volatility_risk_multipliers": [0.7]},
            "volatility_risk_multipliers=[0.7]: must be [high-vol factor, low-vol factor]",
        ),
    ],
)
def test_bad_fields_fail_with_one_line(fields, message):
    with pytest.raises(ValueError) as error:
        DynamicRiskConfig(**fields)
    assert str(error.value) == message
    assert "\n" not in str(error.value)


def test_defaults_are_the_seeds():
    config = DynamicRiskConfig()
    assert config.drawdown_thresholds == (0.05, 0.10, 0.15)
    assert config.risk_reduction_factors == (0.8, 0.6, 0.4)
    assert config.recovery_thresholds == (0.02, 0.05)
    assert config.volatility_risk_multipliers == (0.7, 1.3)
    assert (config.performance_window_days, config.volatility_window_days) == (30, 30)
    assert config.min_trades_for_performance == 10
    assert config.risk_per_trade is None


def test_disabled_is_neutral():
    adjustment = DynamicRiskManager(DynamicRiskConfig(enabled=False)).calculate_risk_adjustment(
        5000, 10000
    )
    assert adjustment.position_size_factor == 1.0
    assert adjustment.primary_reason == "disabled"


# --- risk per trade against Freqtrade's own profit ---------------------------------------------


def real_trade(stake, open_rate, leverage, is_short, fee, futures) -> LocalTrade:
    return LocalTrade(
        pair="BTC/USDT",
        stake_amount=stake,
        amount=stake * leverage / open_rate,
        open_rate=open_rate,
        fee_open=fee,
        fee_close=fee,
        exchange="binance",
        is_short=is_short,
        leverage=leverage,
        open_date=T0,
        trading_mode=TradingMode.FUTURES if futures else TradingMode.SPOT,
    )


@settings(max_examples=300, deadline=None)
@given(
    equity=st.floats(100, 1e6),
    risk=st.floats(0.001, 0.05),
    stoploss=st.floats(-0.5, -0.005),
    open_rate=st.floats(1e-4, 1e5),
    fee=st.sampled_from([0.0, 0.0005, 0.001, 0.002]),
    side=st.sampled_from(["spot", "long", "short"]),
    leverage=st.sampled_from([1.0, 2.0, 3.0, 5.0, 10.0]),
)
def test_a_stop_out_loses_the_risk_fraction_by_freqtrades_own_profit(
    equity, risk, stoploss, open_rate, fee, side, leverage
):
    futures = side != "spot"
    leverage = leverage if futures else 1.0
    is_short = side == "short"
    stake = stake_for_risk(
        equity,
        risk,
        stoploss=stoploss,
        is_short=is_short,
        leverage=leverage,
        fee_open=fee,
        fee_close=fee,
    )
    trade = real_trade(stake, open_rate, leverage, is_short, fee, futures)
    trade.stop_loss = 0.0
    trade.adjust_stop_loss(open_rate, stoploss, initial=True)  # Freqtrade's own initial stop
    stop = stop_rate_for_ratio(stoploss, open_rate, is_short=is_short, leverage=leverage)
    assert trade.stop_loss == pytest.approx(stop, rel=1e-9)
    lost = -trade.calc_profit(stop)
    assert lost == pytest.approx(risk * equity, rel=1e-6, abs=1e-6)
    assert trade.calc_profit_ratio(stop) < 0


@settings(max_examples=200, deadline=None)
@given(
    open_rate=st.floats(1e-3, 1e5),
    move=st.floats(-0.5, 0.5),
    amount=st.floats(1e-3, 1e3),
    fee=st.sampled_from([0.0, 0.001]),
    is_short=st.booleans(),
    futures=st.booleans(),
)
def test_profit_abs_is_freqtrades(open_rate, move, amount, fee, is_short, futures):
    trade = real_trade(amount * open_rate, open_rate, 1.0, is_short and futures, fee, futures)
    rate = open_rate * (1 + move)
    ours = profit_abs(
        rate,
        open_rate=open_rate,
        is_short=is_short and futures,
        amount=amount,
        fee_open=fee,
        fee_close=fee,
    )
    assert math.isclose(
        ours, trade.calc_profit(rate, amount, open_rate), rel_tol=1e-9, abs_tol=1e-7
    )


@settings(max_examples=200, deadline=None)
@given(
    timeframe=st.sampled_from(["1m", "5m", "15m", "1h", "4h", "1d", "1w", "1M"]),
    moment=st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1)),
)
def test_the_decision_candle_is_freqtrades_prev_date(timeframe, moment):
    moment = moment.replace(tzinfo=UTC)
    assert decision_candle(timeframe, moment) == timeframe_to_prev_date(timeframe, moment)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    days=st.integers(1, 80),
    window=st.integers(2, 40),
    missing=st.floats(0.0, 0.5),
)
def test_the_volatility_series_is_the_point_in_time_volatility_of_every_day(
    seed, days, window, missing
):
    rng = np.random.default_rng(seed)
    times = T0.timestamp() + 3600 * np.arange(24 * days) + 3600 * 5
    times = times[rng.random(len(times)) >= missing]  # gaps in the data
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, len(times))))
    first, series = daily_volatility_series(times, closes, window)
    for i, value in enumerate(series):
        point = daily_volatility(times, closes, first + i * 86400, window)
        if point is None:
            assert np.isnan(value)
        else:
            assert value == pytest.approx(point, rel=1e-9)
