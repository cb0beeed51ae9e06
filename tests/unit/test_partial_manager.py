import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freqtrade_posmgmt.partial_manager import (
    CANDLES_SINCE_LAST_FILL,
    PartialExit,
    PartialExitPolicy,
    PositionState,
    ScaleIn,
    exit_min_stake_factor,
    level_tag,
    levels_in_tag,
)
from tests.support.helpers import (
    FEE,
    adds,
    apply_partial_exit,
    apply_scale_in,
    ladder,
    only_exit,
    paths,
    policies,
    walk,
)


def long_position(**overrides) -> PositionState:
    values = {"entry_price": 100.0, "side": "long", "original_size": 1.0}
    return PositionState(**(values | overrides))


def price_for_profit(position: PositionState, profit: float) -> float:
    """Price at which ``position`` shows exactly ``profit`` (inverse of ``profit_at``)."""
    sign = -1.0 if position.is_short else 1.0
    open_value = position.entry_price * (1 + sign * position.fee)
    return open_value * (1 + sign * profit / position.leverage) / (1 - sign * position.fee)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exit_targets": [0.06, 0.03, 0.1]}, "exit_targets=[0.06, 0.03, 0.1]: must be strictly"),
        ({"exit_targets": [0.03, 0.03, 0.1]}, "must be strictly ascending"),
        ({"exit_targets": [-0.01, 0.03, 0.1]}, "exit_targets=[-0.01, 0.03, 0.1]: must all be > 0"),
        ({"exit_sizes": [0.25, 0.25]}, "exit_sizes=[0.25, 0.25]: must have one size per exit"),
        ({"exit_sizes": [0.0, 0.25, 0.5]}, "exit_sizes=[0.0, 0.25, 0.5]: must each be in (0, 1]"),
        ({"exit_sizes": [0.25, 1.5, 0.5]}, "must each be in (0, 1]"),
        ({"exit_sizes": [0.5, 0.5, 0.5]}, "exit_sizes=[0.5, 0.5, 0.5]: must sum to at most 1"),
        ({"exit_targets": "0.03"}, "exit_targets='0.03': must be a list of numbers"),
        ({"exit_targets": 0.03}, "exit_targets=0.03: must be a list of numbers"),
        ({"exit_targets": [0.03, True, 0.1]}, "must be a list of numbers"),
        ({"exit_targets": [0.03, math.nan, 0.1]}, "must hold finite numbers"),
        (
            {"scale_in_thresholds": [0.05, -0.05], "scale_in_sizes": [1, 1]},
            "scale_in_thresholds=[0.05, -0.05]: must be strictly ascending",
        ),
        (
            {"scale_in_thresholds": [0.0], "scale_in_sizes": [1]},
            "scale_in_thresholds=[0.0]: must all be non-zero",
        ),
        (
            {"scale_in_thresholds": [-0.05], "scale_in_sizes": [0.5, 0.5]},
            "scale_in_sizes=[0.5, 0.5]: must have one size per scale-in threshold (1)",
        ),
        (
            {"scale_in_thresholds": [-0.05], "scale_in_sizes": [-0.5]},
            "scale_in_sizes=[-0.5]: must all be > 0",
        ),
        (
            {"scale_in_thresholds": [-0.05], "scale_in_sizes": [0.5], "max_scale_ins": 2},
            "max_scale_ins=2: must be <= len(scale_in_thresholds) (1)",
        ),
        (
            {"scale_in_thresholds": [-0.05], "scale_in_sizes": [0.5], "max_scale_ins": 0},
            "max_scale_ins=0: lets none of the listed scale_in_thresholds fire",
        ),
        ({"max_scale_ins": -1}, "max_scale_ins=-1: must be a whole number >= 0"),
        ({"max_scale_ins": 1.5}, "max_scale_ins=1.5: must be a whole number >= 0"),
        ({"scale_in_min_candles": -2}, "scale_in_min_candles=-2: must be a whole number >= 0"),
        ({"scale_in_after_exit": "yes"}, "scale_in_after_exit='yes': must be true or false"),
        ({"breakeven_after_first_exit": 1}, "breakeven_after_first_exit=1: must be true or false"),
        ({"exit_targets": [], "exit_sizes": []}, "exit_targets=[]: is empty and no scale-in"),
    ],
)
def test_invalid_policy_is_refused_with_field_value_and_rule(overrides, message):
    with pytest.raises(ValueError) as error:
        ladder(**overrides)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_json_shaped_overrides_are_coerced_through_dataclasses_replace():
    policy = dataclasses.replace(
        ladder(),
        exit_targets=[0.02, 0.04],
        exit_sizes=[0.5, 0.5],
        scale_in_thresholds=[-0.1, -0.05],
        scale_in_sizes=[1, 2],
        max_scale_ins=2.0,
    )
    assert policy.exit_targets == (0.02, 0.04)
    assert policy.scale_in_sizes == (1.0, 2.0)
    assert isinstance(policy.max_scale_ins, int)
    hash(policy)


def test_every_listed_scale_in_may_fire_once_by_default():
    policy = PartialExitPolicy([0.03], [0.5], [-0.10, -0.05, 0.02], [1.0, 0.5, 0.25])
    assert policy.max_scale_ins is None and policy.scale_in_cap == 3 and policy.scales_in
    assert PartialExitPolicy([0.03], [0.5]).scale_in_cap == 0


def test_a_pure_dca_policy_needs_no_exit_targets():
    policy = PartialExitPolicy([], [], [-0.05], [1.0], max_scale_ins=1)
    position = long_position()
    assert only_exit(policy, position, 200.0) is None
    assert policy.check_scale_in_opportunity(position, 90.0) is not None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"side": "buy"}, 'side=\'buy\': must be "long" or "short"'),
        ({"entry_price": 0.0}, "entry_price=0.0: must be a number > 0"),
        ({"leverage": 0.5}, "leverage=0.5: must be a number >= 1"),
        ({"fee": 1.0}, "fee=1.0: must be a number in [0, 1)"),
        ({"current_size": -1.0}, "current_size=-1.0: must be a number >= 0"),
        ({"peak_size": 0.5}, "peak_size=0.5: must be >= original_size and current_size"),
        ({"partial_exits_taken": {0}}, "must hold level numbers >= 1"),
        ({"exit_fee": -0.1}, "exit_fee=-0.1: must be a number in [0, 1)"),
        ({"funding_fees": math.inf}, "funding_fees=inf: must be a finite number"),
        ({"partly_exited": 1}, "partly_exited=1: must be true or false"),
    ],
)
def test_invalid_position_state_is_refused(overrides, message):
    with pytest.raises(ValueError) as error:
        long_position(**overrides)
    assert message in str(error.value)


# --- profit measure ---------------------------------------------------------------------------


def test_targets_are_measured_after_fees_not_by_the_raw_price_move():
    policy = ladder()
    position = long_position(fee=FEE)
    # +3% in price is below +3% profit once both fees are paid: the seed fired here.
    assert only_exit(policy, position, 103.0) is None
    assert only_exit(policy, position, price_for_profit(position, 0.03)).levels == (1,)


def test_targets_are_leverage_scaled_for_shorts():
    policy = ladder()
    position = long_position(side="short", leverage=3.0, fee=FEE)
    # Fees count three times too: a 1.1% fall is only +2.7% profit, a 1.3% fall +3.3%.
    assert only_exit(policy, position, 98.9) is None
    action = only_exit(policy, position, 98.7)
    assert action.levels == (1,)


# --- partial exits ----------------------------------------------------------------------------


def test_a_target_fires_when_profit_reaches_it_exactly():
    policy = ladder()
    position = long_position()
    assert only_exit(policy, position, price_for_profit(position, 0.0299)) is None
    action = only_exit(policy, position, 100.0, current_profit=0.03)
    assert action == PartialExit(levels=(1,), amount=0.25, price=100.0, sells_all=False)
    assert action.tag == "pm_tp3%"


def test_a_gap_over_several_targets_merges_them_into_one_order_naming_all():
    policy = ladder()
    action = only_exit(policy, long_position(), 107.0)
    assert action.levels == (1, 2)
    assert action.amount == pytest.approx(0.5)
    assert action.tag == "pm_tp3%+6%"


def test_each_target_fires_once():
    policy = ladder()
    position = apply_partial_exit(long_position(), only_exit(policy, long_position(), 104.0))
    assert only_exit(policy, position, 104.0) is None
    assert only_exit(policy, position, 107.0).levels == (2,)


def test_exit_sizes_are_fractions_of_the_peak_amount_so_added_units_are_sold_too():
    policy = ladder()
    position = long_position(current_size=2.0, peak_size=2.0)
    assert only_exit(policy, position, 104.0).amount == pytest.approx(0.5)
    after = long_position(current_size=1.5, peak_size=2.0, partial_exits_taken={1})
    assert only_exit(policy, after, 107.0).amount == pytest.approx(0.5)


def test_sizes_summing_to_one_sell_everything_on_the_last_target():
    policy = ladder()
    # Lot rounding left a little more than the ladder's last 50%.
    position = long_position(current_size=0.5003, peak_size=1.0, partial_exits_taken={1, 2})
    action = only_exit(policy, position, 111.0)
    assert action.amount == 0.5003
    assert action.sells_all
    assert action.tag == "pm_tp10%"


def test_sizes_below_one_leave_the_rest_to_other_exits():
    policy = ladder(exit_sizes=[0.25, 0.25, 0.25])
    action = only_exit(policy, long_position(), 150.0)
    assert action.levels == (1, 2, 3)
    assert action.amount == pytest.approx(0.75)
    assert not action.sells_all


def test_a_rest_below_the_minimum_stake_is_sold_with_the_target_and_the_tag_says_so():
    policy = ladder(exit_sizes=[0.9, 0.05, 0.05])
    action = only_exit(policy, long_position(), 104.0, min_stake=11.0)
    assert action.amount == 1.0
    assert action.sells_all and action.rest_below_min_stake
    assert action.tag == "pm_tp3% (sold all: rest below min stake)"
    assert levels_in_tag(action.tag, "tp", policy.exit_targets) == {1}
    kept = only_exit(policy, long_position(), 104.0, min_stake=10.0)
    assert kept.amount == pytest.approx(0.9) and not kept.rest_below_min_stake


def test_the_rest_keeps_freqtrades_stoploss_reserve_on_top_of_min_stake():
    # Rest after tp1: 0.1 x 104 = 10.4. Freqtrade wants min_stake x 1.05/0.9/1.05 = 11.11 for an
    # exit with stoploss -0.10 (and drops the exit live); without the reserve 10.4 would do.
    policy = ladder(exit_sizes=[0.9, 0.05, 0.05])
    bare = only_exit(policy, long_position(), 104.0, min_stake=10.0)
    reserved = only_exit(
        policy, long_position(), 104.0, min_stake=10.0, stoploss=-0.10, amount_reserve_percent=0.05
    )
    assert not bare.rest_below_min_stake and bare.amount == pytest.approx(0.9)
    assert reserved.rest_below_min_stake and reserved.amount == 1.0


@pytest.mark.parametrize(
    ("stoploss", "reserve", "factor"),
    [
        (0.0, 0.05, 1.0),
        (-0.10, 0.05, 1 / 0.9),
        (-0.10, 0.0, 1 / 0.9),
        (-0.5, 0.05, 1.5 / 1.05),  # Freqtrade caps its stoploss reserve at 1.5
        (-1.0, 0.05, 1.5 / 1.05),
    ],
)
def test_exit_min_stake_factor_is_freqtrades_reserve(stoploss, reserve, factor):
    assert exit_min_stake_factor(stoploss, reserve) == pytest.approx(factor)


def test_nothing_is_sold_from_an_empty_position():
    position = long_position(current_size=0.0, peak_size=1.0)
    assert only_exit(ladder(), position, 150.0) is None


# --- scale-ins --------------------------------------------------------------------------------


def test_negative_thresholds_average_down_and_positive_ones_add_to_winners():
    policy = adds()
    position = long_position(original_stake=100.0)
    assert policy.check_scale_in_opportunity(position, 97.0) is None
    assert policy.check_scale_in_opportunity(position, 101.0) is None
    dca = policy.check_scale_in_opportunity(position, 94.0)
    assert dca == ScaleIn(levels=(2,), stake=50.0, price=94.0)
    assert dca.tag == "pm_add-5%"
    winner = policy.check_scale_in_opportunity(position, 102.5)
    assert winner.levels == (3,) and winner.stake == pytest.approx(25.0)


def test_scale_in_stakes_are_fractions_of_the_first_entry_stake_not_of_the_position():
    policy = adds()
    grown = long_position(current_size=3.0, peak_size=3.0, original_stake=100.0)
    assert policy.check_scale_in_opportunity(grown, 89.0).stake == pytest.approx(150.0)


def test_a_scale_in_is_capped_at_max_stake_and_dropped_below_min_stake():
    policy = adds()
    position = long_position(original_stake=100.0)
    assert policy.check_scale_in_opportunity(position, 89.0).stake == pytest.approx(150.0)
    capped = policy.check_scale_in_opportunity(position, 89.0, min_stake=5.0, max_stake=60.0)
    assert capped.stake == 60.0 and capped.levels == (1, 2)
    assert policy.check_scale_in_opportunity(position, 89.0, min_stake=5.0, max_stake=4.0) is None
    assert policy.check_scale_in_opportunity(position, 89.0, min_stake=151.0) is None


def test_crossed_adds_merge_nearest_first_within_max_scale_ins():
    policy = adds(max_scale_ins=1)
    action = policy.check_scale_in_opportunity(long_position(original_stake=100.0), 88.0)
    assert action.levels == (2,)  # -5% is crossed before -10%
    both = adds().check_scale_in_opportunity(long_position(original_stake=100.0), 88.0)
    assert both.levels == (1, 2) and both.tag == "pm_add-10%+-5%"
    assert both.stake == pytest.approx(150.0)


def test_max_scale_ins_caps_the_levels_fired_per_trade():
    policy = adds(max_scale_ins=1)
    position = long_position(scale_ins_taken={2})
    assert policy.check_scale_in_opportunity(position, 80.0) is None
    assert ladder().check_scale_in_opportunity(long_position(), 80.0) is None


def test_no_scale_in_after_a_partial_exit_unless_allowed():
    trimmed = long_position(current_size=0.75, peak_size=1.0, partial_exits_taken={1})
    assert adds().check_scale_in_opportunity(trimmed, 102.5) is None
    allowed = adds(scale_in_after_exit=True).check_scale_in_opportunity(trimmed, 102.5)
    assert allowed.levels == (3,)


def test_scale_in_waits_the_minimum_candles_after_the_last_fill():
    policy = adds(scale_in_min_candles=3)
    position = long_position()
    assert policy.check_scale_in_opportunity(position, 94.0, {CANDLES_SINCE_LAST_FILL: 2}) is None
    assert policy.check_scale_in_opportunity(position, 94.0, {CANDLES_SINCE_LAST_FILL: 3})
    with pytest.raises(ValueError, match='needs market_data\\["candles_since_last_fill"\\]'):
        policy.check_scale_in_opportunity(position, 94.0)


# --- breakeven --------------------------------------------------------------------------------


def test_breakeven_stop_appears_only_after_the_first_target_filled():
    policy = ladder(breakeven_after_first_exit=True)
    position = long_position(fee=FEE)
    assert policy.breakeven_stop_price(position) is None
    trimmed = apply_partial_exit(position, only_exit(policy, position, 104.0))
    stop = policy.breakeven_stop_price(trimmed)
    assert trimmed.profit_at(stop) == pytest.approx(0.0, abs=1e-12)
    assert stop > 100.0
    assert ladder().breakeven_stop_price(trimmed) is None


def test_tags_name_levels_by_target_and_round_trip():
    ladder_ = (0.015, 0.03, 0.1)
    assert level_tag("tp", (0.015, 0.1)) == "pm_tp1.5%+10%"
    assert level_tag("add", (-0.1, -0.05)) == "pm_add-10%+-5%"
    assert levels_in_tag("pm_tp1.5%+10%", "tp", ladder_) == {1, 3}
    assert levels_in_tag("pm_tp1.5%+10%", "add", ladder_) == frozenset()
    assert levels_in_tag("pm_add-10%+-5%", "add", (-0.1, -0.05, 0.02)) == {1, 2}
    assert levels_in_tag("pm_tp3% (sold all: rest below min stake)", "tp", ladder_) == {2}
    assert levels_in_tag("my_pm_tp3%", "tp", ladder_) == frozenset()
    assert levels_in_tag(None, "tp", ladder_) == frozenset()


def test_a_changed_ladder_counts_only_the_targets_it_still_has():
    # Fired under [3%, 6%]; the new ladder [5%] never fired, and [3%, 10%] keeps 3% done.
    assert levels_in_tag("pm_tp3%", "tp", (0.05,)) == frozenset()
    assert levels_in_tag("pm_tp3%+6%", "tp", (0.03, 0.1)) == {1}
    restarted = ladder(exit_targets=[0.05], exit_sizes=[0.5])
    position = long_position(partial_exits_taken=levels_in_tag("pm_tp3%", "tp", (0.05,)))
    assert only_exit(restarted, position, 106.0).levels == (1,)


def test_tags_of_the_older_form_are_read_by_position():
    ladder_ = (0.03, 0.06)
    assert levels_in_tag("pm_tp1+tp2", "tp", ladder_) == {1, 2}
    assert levels_in_tag("pm_tp1+tp3", "tp", ladder_) == {1}  # no third level any more
    assert levels_in_tag("pm_add12", "add", [-0.01] * 12) == {12}
    assert levels_in_tag("pm_tp1", "add", ladder_) == frozenset()


def test_from_shape_builds_a_whole_ladder_and_its_scale_ins():
    policy = PartialExitPolicy.from_shape(
        first_target=0.02,
        levels=3,
        spacing=2.0,
        size=0.7,
        size_ratio=2.0,
        first_scale_in=-0.03,
        scale_in_levels=2,
        scale_in_spacing=1.5,
        scale_in_size=0.5,
    )
    assert policy.exit_targets == (0.02, 0.04, 0.08)
    assert policy.exit_sizes == pytest.approx((0.1, 0.2, 0.4))
    assert policy.scale_in_thresholds == (-0.045, -0.03)
    assert policy.scale_in_sizes == (0.5, 0.5) and policy.scale_in_cap == 2


def test_from_shape_defaults_are_one_target_and_no_scale_in():
    policy = PartialExitPolicy.from_shape(first_target=0.04)
    assert (policy.exit_targets, policy.exit_sizes) == ((0.04,), (0.5,))
    assert not policy.scales_in
    with pytest.raises(ValueError, match="levels=0: must be a whole number >= 1"):
        PartialExitPolicy.from_shape(first_target=0.04, levels=0)


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    policy=policies(),
    moves=paths,
    side=st.sampled_from(["long", "short"]),
    leverage=st.sampled_from([1.0, 3.0]),
    min_stake=st.sampled_from([None, 5.0, 30.0]),
)
def test_property_position_state_never_oversells_and_levels_fire_once(
    policy, moves, side, leverage, min_stake
):
    position = PositionState(100.0, side, 1.0, leverage=leverage, fee=FEE)
    bought, sold = 1.0, 0.0
    fired_targets: list[int] = []
    fired_adds: list[int] = []
    seen = (frozenset(), frozenset())
    for price in walk(100.0, moves):
        exit_ = only_exit(policy, position, price, min_stake=min_stake)
        if exit_:
            assert 0 < exit_.amount <= position.current_size
            fired_targets += exit_.levels
            sold += exit_.amount
            position = apply_partial_exit(position, exit_)
        add = policy.check_scale_in_opportunity(position, price)
        if add:
            fired_adds += add.levels
            bought += add.stake * leverage / price
            position = apply_scale_in(position, add)
        assert sold <= bought + 1e-9
        assert position.current_size == pytest.approx(bought - sold, abs=1e-9)
        now = (position.partial_exits_taken, position.scale_ins_taken)
        assert seen[0] <= now[0] and seen[1] <= now[1]
        seen = now
    assert len(fired_targets) == len(set(fired_targets))
    assert len(fired_adds) == len(set(fired_adds)) <= policy.scale_in_cap
