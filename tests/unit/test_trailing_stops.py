import dataclasses
import itertools
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from freqtrade_posmgmt.profit import profit_ratio, rate_for_profit
from freqtrade_posmgmt.stop_sources import STOP_BREAKEVEN, STOP_LOCK, STOP_TRAIL
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy

FEE = 0.001


def long_stop(policy: TrailingStopPolicy, best_rate: float, **kwargs) -> float | None:
    return policy.update_trailing_stop(
        is_short=False, open_rate=100.0, best_rate=best_rate, fee_open=FEE, fee_close=FEE, **kwargs
    )


# --- construction and validation -------------------------------------------------------------


def test_defaults_are_the_seeds():
    policy = TrailingStopPolicy()
    assert policy.activation_threshold == 0.015
    assert policy.trailing_distance_pct == 0.005
    assert policy.atr_multiplier is None
    assert policy.breakeven_threshold is None
    assert policy.breakeven_buffer == 0.001
    assert policy.atr_period == 14
    assert policy.profit_locks == ()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("activation_threshold", -0.01, "activation_threshold=-0.01: must be >= 0"),
        ("activation_threshold", "high", "activation_threshold='high': must be a finite number"),
        ("activation_threshold", math.nan, "activation_threshold=nan: must be a finite number"),
        ("trailing_distance_pct", 0, "trailing_distance_pct=0.0: must be > 0 and < 1"),
        ("trailing_distance_pct", -0.01, "trailing_distance_pct=-0.01: must be > 0 and < 1"),
        ("trailing_distance_pct", 1.0, "trailing_distance_pct=1.0: must be > 0 and < 1"),
        ("trailing_distance_pct", True, "trailing_distance_pct=True: must be a finite number"),
        ("atr_multiplier", 0, "atr_multiplier=0.0: must be > 0 (or None)"),
        ("atr_multiplier", -2.0, "atr_multiplier=-2.0: must be > 0 (or None)"),
        ("breakeven_buffer", -0.001, "breakeven_buffer=-0.001: must be >= 0"),
        (
            "breakeven_threshold",
            0.001,
            "breakeven_threshold=0.001: must be greater than breakeven_buffer=0.001 (or None)",
        ),
        ("atr_period", 0, "atr_period=0: must be an integer >= 1"),
        ("atr_period", 2.5, "atr_period=2.5: must be an integer >= 1"),
        ("atr_period", "14", "atr_period='14': must be an integer >= 1"),
        (
            "profit_locks",
            [[0.25, 0.15], [0.2, 0.07]],
            (
                "profit_locks=[[0.25, 0.15], [0.2, 0.07]]: "
                "profits and locked profits must be strictly ascending"
            ),
        ),
        (
            "profit_locks",
            [[0.2, 0.15], [0.25, 0.1]],
            (
                "profit_locks=[[0.2, 0.15], [0.25, 0.1]]: "
                "profits and locked profits must be strictly ascending"
            ),
        ),
        (
            "profit_locks",
            [[0.2, 0.2]],
            "profit_locks=[[0.2, 0.2]]: each lock needs 0 <= locked_profit < profit",
        ),
        (
            "profit_locks",
            [[0.2, -0.01]],
            "profit_locks=[[0.2, -0.01]]: each lock needs 0 <= locked_profit < profit",
        ),
        (
            "profit_locks",
            [[0.2, 0.07, 0.1]],
            "profit_locks=[[0.2, 0.07, 0.1]]: each lock must be a [profit, locked_profit] pair",
        ),
        (
            "profit_locks",
            {"0.2": 0.07},
            "profit_locks={'0.2': 0.07}: must be a list of [profit, locked_profit] pairs",
        ),
    ],
)
def test_invalid_values_raise_one_clear_message(field, value, message):
    with pytest.raises(ValueError) as error:
        TrailingStopPolicy(**{field: value})
    assert str(error.value) == message


def test_json_shaped_overrides_are_coerced():
    policy = dataclasses.replace(
        TrailingStopPolicy(),
        activation_threshold=0,
        atr_multiplier=2,
        atr_period=10.0,
        breakeven_threshold=0.03,
        profit_locks=[[0.2, 0.07], [0.25, 0.15]],
    )
    assert policy.activation_threshold == 0.0 and isinstance(policy.activation_threshold, float)
    assert policy.atr_multiplier == 2.0 and isinstance(policy.atr_multiplier, float)
    assert policy.atr_period == 10 and isinstance(policy.atr_period, int)
    assert policy.profit_locks == ((0.2, 0.07), (0.25, 0.15))
    assert hash(policy) == hash(dataclasses.replace(policy))


def test_replace_validates_too():
    with pytest.raises(ValueError, match="breakeven_buffer=-1.0"):
        dataclasses.replace(TrailingStopPolicy(), breakeven_buffer=-1)


@pytest.mark.parametrize(
    ("policy", "expressible"),
    [
        (TrailingStopPolicy(), True),
        (TrailingStopPolicy(activation_threshold=0.03, trailing_distance_pct=0.01), True),
        (TrailingStopPolicy(atr_multiplier=2.0), False),
        (TrailingStopPolicy(breakeven_threshold=0.5), False),
        (TrailingStopPolicy(profit_locks=[[0.2, 0.07]]), False),
        # Freqtrade refuses an offset not above trailing_stop_positive.
        (TrailingStopPolicy(activation_threshold=0.005, trailing_distance_pct=0.005), False),
        (TrailingStopPolicy(activation_threshold=0.0), False),
    ],
)
def test_builtin_expressible_only_for_plain_percent_trails(policy, expressible):
    assert policy.is_builtin_expressible() is expressible


# --- profit and price arithmetic against Freqtrade's own -------------------------------------


# --- decisions -------------------------------------------------------------------------------


def test_nothing_applies_before_activation():
    policy = TrailingStopPolicy(activation_threshold=0.015)
    assert long_stop(policy, best_rate=101.0) is None


def test_activation_is_strictly_above_the_threshold():
    policy = TrailingStopPolicy(activation_threshold=0.02, trailing_distance_pct=0.01)
    at_threshold = rate_for_profit(
        0.02, open_rate=100.0, is_short=False, fee_open=FEE, fee_close=FEE
    )
    assert profit_ratio(
        at_threshold, open_rate=100.0, is_short=False, fee_open=FEE, fee_close=FEE
    ) == pytest.approx(0.02, abs=1e-12)
    assert long_stop(policy, best_rate=at_threshold) is None
    assert long_stop(policy, best_rate=at_threshold * 1.0001) is not None


def test_percent_trail_follows_the_best_rate():
    policy = TrailingStopPolicy(activation_threshold=0.015, trailing_distance_pct=0.01)
    assert long_stop(policy, best_rate=110.0) == pytest.approx(108.9)
    short = policy.update_trailing_stop(
        is_short=True, open_rate=100.0, best_rate=90.0, fee_open=FEE, fee_close=FEE
    )
    assert short == pytest.approx(90.9)


def test_leverage_scales_the_activation_profit():
    policy = TrailingStopPolicy(activation_threshold=0.03)
    # +1.5% price move: 1.5% - fees on spot, ~3 x that on 3x futures.
    assert long_stop(policy, best_rate=101.5) is None
    assert long_stop(policy, best_rate=101.5, leverage=3.0) is not None


def test_atr_distance_wins_when_known():
    policy = TrailingStopPolicy(atr_multiplier=2.0)
    assert long_stop(policy, best_rate=110.0, atr=1.5) == pytest.approx(107.0)
    short = policy.update_trailing_stop(
        is_short=True, open_rate=100.0, best_rate=90.0, atr=1.5, fee_open=FEE, fee_close=FEE
    )
    assert short == pytest.approx(93.0)


@pytest.mark.parametrize("atr", [None, math.nan, 0.0])
def test_percent_distance_while_atr_unknown(atr):
    policy = TrailingStopPolicy(atr_multiplier=2.0, trailing_distance_pct=0.01)
    assert long_stop(policy, best_rate=110.0, atr=atr) == pytest.approx(108.9)


def test_atr_wider_than_the_price_means_no_trail():
    policy = TrailingStopPolicy(atr_multiplier=2.0)
    assert long_stop(policy, best_rate=110.0, atr=60.0) is None


def test_breakeven_applies_before_trailing_activation():
    policy = TrailingStopPolicy(activation_threshold=0.10, breakeven_threshold=0.03)
    breakeven = rate_for_profit(
        policy.breakeven_buffer, open_rate=100.0, is_short=False, fee_open=FEE, fee_close=FEE
    )
    assert long_stop(policy, best_rate=102.0) is None
    assert long_stop(policy, best_rate=104.0) == pytest.approx(breakeven)


def test_trail_keeps_moving_after_breakeven():
    # The seed froze the stop at entry x 1.001 once breakeven fired, while price ran to 120.
    policy = TrailingStopPolicy(breakeven_threshold=0.02)
    stop = None
    for best in (102.0, 103.0, 110.0, 120.0):
        stop = long_stop(policy, best_rate=best, existing_stop=stop)
    assert stop == pytest.approx(120.0 * 0.995)


def test_breakeven_wins_while_the_trail_is_looser():
    policy = TrailingStopPolicy(
        activation_threshold=0.02, trailing_distance_pct=0.05, breakeven_threshold=0.03
    )
    breakeven = rate_for_profit(
        policy.breakeven_buffer, open_rate=100.0, is_short=False, fee_open=FEE, fee_close=FEE
    )
    assert long_stop(policy, best_rate=104.0) == pytest.approx(breakeven)
    assert long_stop(policy, best_rate=120.0) == pytest.approx(114.0)


def test_stepped_profit_locks():
    policy = TrailingStopPolicy(
        activation_threshold=0.5,
        profit_locks=[[0.20, 0.07], [0.25, 0.15]],
    )

    def lock_price(profit):
        return rate_for_profit(profit, open_rate=100.0, is_short=False, fee_open=FEE, fee_close=FEE)

    assert long_stop(policy, best_rate=115.0) is None
    assert long_stop(policy, best_rate=122.0) == pytest.approx(lock_price(0.07))
    assert long_stop(policy, best_rate=130.0) == pytest.approx(lock_price(0.15))
    short = policy.update_trailing_stop(
        is_short=True, open_rate=100.0, best_rate=75.0, leverage=2.0, fee_open=FEE, fee_close=FEE
    )
    assert short == pytest.approx(
        rate_for_profit(
            0.15, open_rate=100.0, is_short=True, leverage=2.0, fee_open=FEE, fee_close=FEE
        )
    )


def test_existing_tighter_stop_is_kept():
    policy = TrailingStopPolicy()
    assert long_stop(policy, best_rate=110.0, existing_stop=109.9) == 109.9
    assert long_stop(policy, best_rate=110.0, existing_stop=100.0) == pytest.approx(109.45)


# --- invariants ------------------------------------------------------------------------------


@st.composite
def policies(draw):
    buffer = draw(st.floats(0.0, 0.005))
    triggers = sorted(draw(st.sets(st.floats(1e-6, 0.5), max_size=3)))
    locked = sorted(draw(st.sets(st.floats(0.0, 0.5), min_size=len(triggers), max_size=3)))
    locks = [
        (trigger, lock) for trigger, lock in zip(triggers, locked, strict=False) if lock < trigger
    ]
    assume(all(a[1] < b[1] for a, b in itertools.pairwise(locks)))
    return TrailingStopPolicy(
        activation_threshold=draw(st.floats(0.0, 0.2)),
        trailing_distance_pct=draw(st.floats(0.001, 0.3)),
        atr_multiplier=draw(st.none() | st.floats(0.1, 5.0)),
        breakeven_threshold=draw(st.none() | st.floats(1e-12, 0.2).map(lambda d: buffer + d)),
        breakeven_buffer=buffer,
        profit_locks=locks,
    )


positions = st.fixed_dictionaries(
    {
        "is_short": st.booleans(),
        "open_rate": st.floats(0.01, 100_000),
        "leverage": st.sampled_from([1.0, 2.0, 3.0, 10.0]),
        "fee_open": st.sampled_from([0.0, 0.001]),
        "fee_close": st.sampled_from([0.0, 0.001]),
    }
)
# Relative price moves in the position's favour (the best rate only improves) and ATRs.
paths = st.lists(
    st.tuples(st.floats(0.0, 0.1), st.none() | st.floats(0.0, 0.05)), min_size=1, max_size=30
)


def walk(policy, position, path):
    side = -1.0 if position["is_short"] else 1.0
    best = position["open_rate"]
    stop = None
    for gain, atr_ratio in path:
        best *= 1 + side * gain
        atr = None if atr_ratio is None else atr_ratio * best
        new = policy.update_trailing_stop(best_rate=best, existing_stop=stop, atr=atr, **position)
        yield best, stop, new
        stop = new if new is not None else stop


@given(policy=policies(), position=positions, path=paths)
def test_stop_never_loosens(policy, position, path):
    side = -1.0 if position["is_short"] else 1.0
    for _, before, after in walk(policy, position, path):
        # None means "no rule applies": the stop in force stays.
        if before is not None and after is not None:
            assert side * (after - before) >= 0


@given(policy=policies(), position=positions, path=paths)
def test_stop_stays_on_the_safe_side_of_the_rate_it_came_from(policy, position, path):
    side = -1.0 if position["is_short"] else 1.0
    for best, _, stop in walk(policy, position, path):
        if stop is not None:
            assert side * (best - stop) > 0


@given(policy=policies(), position=positions, path=paths)
def test_breakeven_never_below_the_fee_aware_price_once_triggered(policy, position, path):
    # Freqtrade rounds profits to 8 decimals: a threshold closer to the buffer than that can
    # be met by a price that does not yet pay the buffer.
    assume(
        policy.breakeven_threshold is not None
        and policy.breakeven_threshold - policy.breakeven_buffer > 1e-7
    )
    side = -1.0 if position["is_short"] else 1.0
    breakeven = rate_for_profit(policy.breakeven_buffer, **position)
    triggered = False
    for best, _, stop in walk(policy, position, path):
        triggered = triggered or profit_ratio(best, **position) >= policy.breakeven_threshold
        if triggered:
            assert stop is not None and side * (stop - breakeven) >= 0
            assert profit_ratio(stop, **position) >= policy.breakeven_buffer - 1e-8


# --- closed-candle trailing and the rule that set the stop ----------------------------------


def test_trail_on_is_checked_and_candle_close_is_not_builtin_expressible():
    with pytest.raises(ValueError) as error:
        TrailingStopPolicy(trail_on="close")
    assert str(error.value) == "trail_on='close': must be one of 'current_rate', 'candle_close'"
    assert TrailingStopPolicy().is_builtin_expressible()
    assert not TrailingStopPolicy(trail_on="candle_close").is_builtin_expressible()
    assert TrailingStopPolicy(trail_on="candle_close").trails_on_candle_close


def test_stop_and_source_names_the_tightest_rule():
    policy = TrailingStopPolicy(
        activation_threshold=0.02,
        trailing_distance_pct=0.05,
        breakeven_threshold=0.01,
        profit_locks=[[0.10, 0.05]],
    )
    position = {"is_short": False, "open_rate": 100.0, "fee_open": FEE, "fee_close": FEE}
    assert policy.stop_and_source(best_rate=100.5, **position) is None
    breakeven = rate_for_profit(
        policy.breakeven_buffer, open_rate=100.0, is_short=False, fee_open=FEE, fee_close=FEE
    )
    assert policy.stop_and_source(best_rate=103.0, **position) == (breakeven, STOP_BREAKEVEN)
    stop, source = policy.stop_and_source(best_rate=130.0, **position)
    assert (stop, source) == (130.0 * 0.95, STOP_TRAIL)
    lock = rate_for_profit(0.05, open_rate=100.0, is_short=False, fee_open=FEE, fee_close=FEE)
    assert policy.stop_and_source(best_rate=110.5, **position) == (lock, STOP_LOCK)
    # update_trailing_stop is the same stop, never looser than the one in force.
    assert long_stop(policy, best_rate=110.5) == lock
    assert long_stop(policy, best_rate=110.5, existing_stop=108.0) == 108.0


@given(policy=policies(), position=positions, path=paths)
def test_stop_and_source_is_update_trailing_stop_without_the_stop_in_force(policy, position, path):
    for best, _, _ in walk(policy, position, path):
        found = policy.stop_and_source(best_rate=best, **position)
        alone = policy.update_trailing_stop(best_rate=best, **position)
        assert (found is None and alone is None) or found[0] == alone
        if found is not None:
            assert found[1] in (STOP_TRAIL, STOP_BREAKEVEN, STOP_LOCK)
