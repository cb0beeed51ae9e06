import dataclasses
import math
from datetime import UTC, datetime, timedelta

import pytest
from freqtrade.enums import TradingMode
from freqtrade.persistence import LocalTrade, Order
from hypothesis import given, settings
from hypothesis import strategies as st

from freqtrade_posmgmt.partial_manager import (
    CANDLES_SINCE_LAST_FILL,
    PartialExit,
    PartialExitPolicy,
    PositionState,
    ScaleIn,
    level_tag,
    levels_in_tag,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
FEE = 0.001


def only_exit(policy: PartialExitPolicy, position, price: float, **kwargs):
    """The one exit ``check_partial_exits`` lists, or None when its list is empty."""
    exits = policy.check_partial_exits(position, price, **kwargs)
    assert isinstance(exits, list) and len(exits) <= 1
    return exits[0] if exits else None


def ladder(**overrides) -> PartialExitPolicy:
    values = {"exit_targets": [0.03, 0.06, 0.10], "exit_sizes": [0.25, 0.25, 0.5]}
    return PartialExitPolicy(**(values | overrides))


def long_position(**overrides) -> PositionState:
    values = {"entry_price": 100.0, "side": "long", "original_size": 1.0}
    return PositionState(**(values | overrides))


def price_for_profit(position: PositionState, profit: float) -> float:
    """Price at which ``position`` shows exactly ``profit`` (inverse of ``profit_at``)."""
    sign = -1.0 if position.is_short else 1.0
    open_value = position.entry_price * (1 + sign * position.fee)
    return open_value * (1 + sign * profit / position.leverage) / (1 - sign * position.fee)


class FakeOrderBook:
    """A real Freqtrade LocalTrade whose orders are filled by hand."""

    def __init__(self, *, is_short=False, leverage=1.0, stake=100.0, price=100.0, tag="signal"):
        self.trade = LocalTrade(
            pair="BTC/USDT",
            stake_amount=stake,
            amount=stake * leverage / price,
            open_rate=price,
            fee_open=FEE,
            fee_close=FEE,
            exchange="binance",
            is_short=is_short,
            leverage=leverage,
            open_date=T0,
            trading_mode=TradingMode.FUTURES if leverage > 1 else TradingMode.SPOT,
        )
        self.fill(self.trade.entry_side, stake * leverage / price, price, tag)

    def fill(self, side: str, amount: float, price: float, tag: str | None, is_open=False):
        n = len(self.trade.orders)
        order = Order(
            ft_order_side=side,
            ft_pair=self.trade.pair,
            ft_is_open=is_open,
            ft_amount=amount,
            ft_price=price,
            order_id=f"order-{n}",
            status="open" if is_open else "closed",
            symbol=self.trade.pair,
            order_type="market",
            side=side,
            price=price,
            average=price,
            amount=amount,
            filled=0.0 if is_open else amount,
            remaining=amount if is_open else 0.0,
            cost=amount * price,
            order_date=T0 + timedelta(hours=n),
            order_filled_date=None if is_open else T0 + timedelta(hours=n),
            ft_order_tag=tag,
        )
        order._trade_bt = self.trade
        self.trade.orders.append(order)
        self.trade.recalc_trade_from_orders()

    def apply(self, action: PartialExit | ScaleIn) -> None:
        if isinstance(action, ScaleIn):
            amount = action.stake * self.trade.leverage / action.price
            self.fill(self.trade.entry_side, amount, action.price, action.tag)
        else:
            self.fill(self.trade.exit_side, action.amount, action.price, action.tag)


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


@pytest.mark.parametrize(("is_short", "leverage"), [(False, 1.0), (True, 1.0), (True, 3.0)])
@pytest.mark.parametrize("price", [80.0, 99.0, 103.0, 125.0])
def test_position_state_profit_is_freqtrades_profit_ratio(is_short, leverage, price):
    book = FakeOrderBook(is_short=is_short, leverage=leverage)
    state = PositionState(
        entry_price=100.0,
        side="short" if is_short else "long",
        original_size=book.trade.amount,
        leverage=leverage,
        fee=FEE,
    )
    assert state.profit_at(price) == pytest.approx(book.trade.calc_profit_ratio(price), abs=1e-8)
    assert book.trade.calc_profit_ratio(state.breakeven_price()) == pytest.approx(0, abs=1e-8)


@pytest.mark.parametrize("is_short", [False, True])
@pytest.mark.parametrize("funding", [-1.5, 0.0, 0.8])
def test_a_trade_read_from_its_orders_has_freqtrades_profit_and_breakeven(is_short, funding):
    book = FakeOrderBook(is_short=is_short, leverage=3.0)
    book.fill(book.trade.entry_side, 1.0, 94.0, "pm_add1")
    book.fill(book.trade.exit_side, 1.5, 101.0, "pm_tp1+tp2")
    book.trade.fee_close = 0.0015
    book.trade.funding_fees = funding
    state = PositionState.from_trade(book.trade)
    assert state.side == ("short" if is_short else "long")
    assert state.original_size == pytest.approx(3.0)
    assert state.original_stake == pytest.approx(100.0)
    assert state.peak_size == pytest.approx(4.0)
    assert state.current_size == pytest.approx(2.5)
    assert state.partial_exits_taken == {1, 2} and state.scale_ins_taken == {1}
    assert state.partly_exited
    for price in (90.0, 97.0, 104.0):
        assert state.profit_at(price) == pytest.approx(
            book.trade.calc_profit_ratio(price), abs=1e-8
        )
    breakeven = book.trade.calc_close_rate_for_roi(0.0)
    assert state.breakeven_price() == pytest.approx(breakeven, rel=1e-12)


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
    assert action.tag == "pm_tp1"


def test_a_gap_over_several_targets_merges_them_into_one_order_naming_all():
    policy = ladder()
    action = only_exit(policy, long_position(), 107.0)
    assert action.levels == (1, 2)
    assert action.amount == pytest.approx(0.5)
    assert action.tag == "pm_tp1+tp2"


def test_each_target_fires_once():
    policy = ladder()
    position = policy.apply_partial_exit(
        long_position(), only_exit(policy, long_position(), 104.0)
    )
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
    assert action.tag == "pm_tp3"


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
    assert action.tag == "pm_tp1 (sold all: rest below min stake)"
    assert levels_in_tag(action.tag, "tp") == {1}
    kept = only_exit(policy, long_position(), 104.0, min_stake=10.0)
    assert kept.amount == pytest.approx(0.9) and not kept.rest_below_min_stake


def test_nothing_is_sold_from_an_empty_position():
    position = long_position(current_size=0.0, peak_size=1.0)
    assert only_exit(ladder(), position, 150.0) is None


# --- scale-ins --------------------------------------------------------------------------------


def adds(**overrides) -> PartialExitPolicy:
    values = {
        "scale_in_thresholds": [-0.10, -0.05, 0.02],
        "scale_in_sizes": [1.0, 0.5, 0.25],
        "max_scale_ins": 3,
    }
    return ladder(**(values | overrides))


def test_negative_thresholds_average_down_and_positive_ones_add_to_winners():
    policy = adds()
    position = long_position(original_stake=100.0)
    assert policy.check_scale_in_opportunity(position, 97.0) is None
    assert policy.check_scale_in_opportunity(position, 101.0) is None
    dca = policy.check_scale_in_opportunity(position, 94.0)
    assert dca == ScaleIn(levels=(2,), stake=50.0, price=94.0)
    assert dca.tag == "pm_add2"
    winner = policy.check_scale_in_opportunity(position, 102.5)
    assert winner.levels == (3,) and winner.stake == pytest.approx(25.0)


def test_scale_in_stakes_are_fractions_of_the_first_entry_stake_not_of_the_position():
    policy = adds()
    grown = long_position(current_size=3.0, peak_size=3.0, original_stake=100.0)
    assert policy.check_scale_in_opportunity(grown, 89.0).stake == pytest.approx(150.0)


def test_crossed_adds_merge_nearest_first_within_max_scale_ins():
    policy = adds(max_scale_ins=1)
    action = policy.check_scale_in_opportunity(long_position(original_stake=100.0), 88.0)
    assert action.levels == (2,)  # -5% is crossed before -10%
    both = adds().check_scale_in_opportunity(long_position(original_stake=100.0), 88.0)
    assert both.levels == (1, 2) and both.tag == "pm_add1+add2"
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


def test_apply_scale_in_re_averages_the_entry_and_raises_the_peak():
    policy = adds()
    position = long_position(original_stake=100.0)
    after = policy.apply_scale_in(position, ScaleIn(levels=(1,), stake=100.0, price=80.0))
    assert after.current_size == pytest.approx(2.25)
    assert after.peak_size == pytest.approx(2.25)
    assert after.entry_price == pytest.approx(200.0 / 2.25)
    assert after.scale_ins_taken == {1}


# --- breakeven --------------------------------------------------------------------------------


def test_breakeven_stop_appears_only_after_the_first_target_filled():
    policy = ladder(breakeven_after_first_exit=True)
    position = long_position(fee=FEE)
    assert policy.breakeven_stop_price(position) is None
    trimmed = policy.apply_partial_exit(position, only_exit(policy, position, 104.0))
    stop = policy.breakeven_stop_price(trimmed)
    assert trimmed.profit_at(stop) == pytest.approx(0.0, abs=1e-12)
    assert stop > 100.0
    assert ladder().breakeven_stop_price(trimmed) is None


def test_breakeven_of_a_leveraged_short_trade_is_its_zero_profit_price():
    policy = ladder(breakeven_after_first_exit=True)
    book = FakeOrderBook(is_short=True, leverage=3.0)
    assert policy.breakeven_stop_price(book.trade) is None
    book.apply(only_exit(policy, book.trade, 98.0))
    stop = policy.breakeven_stop_price(book.trade)
    assert stop < 100.0
    assert book.trade.calc_profit_ratio(stop) == pytest.approx(0.0, abs=1e-8)


# --- Freqtrade trades: state read from order tags ---------------------------------------------


def test_fired_levels_are_read_back_from_the_trades_order_tags():
    policy = adds(scale_in_after_exit=True)
    book = FakeOrderBook(tag="pm_tp9")  # an entry signal's tag names no exit target
    book.apply(policy.check_scale_in_opportunity(book.trade, 94.0))
    assert book.trade.orders[-1].ft_order_tag == "pm_add2"
    book.apply(only_exit(policy, book.trade, 104.0))
    assert book.trade.orders[-1].ft_order_tag == "pm_tp1+tp2"
    assert only_exit(policy, book.trade, 104.0) is None
    assert only_exit(policy, book.trade, 112.0).levels == (3,)
    assert policy.check_scale_in_opportunity(book.trade, 94.0) is None


def test_exit_amounts_on_a_trade_follow_its_peak_amount_from_the_orders():
    policy = adds()
    book = FakeOrderBook()
    book.apply(policy.check_scale_in_opportunity(book.trade, 90.0))  # adds 1.5x the first stake
    peak = book.trade.amount
    assert book.trade.open_rate == pytest.approx(93.75)
    for price, share in [(97.0, 0.25), (100.5, 0.25), (104.0, 0.5)]:
        action = only_exit(policy, book.trade, price)
        assert action.amount == pytest.approx(share * peak)
        book.apply(action)
    assert action.sells_all


def test_open_orders_and_foreign_tags_do_not_count_as_fired():
    policy = ladder()
    book = FakeOrderBook()
    book.fill("sell", 0.25, 104.0, "pm_tp1", is_open=True)
    book.fill("sell", 0.1, 99.0, "manual trim")
    action = only_exit(policy, book.trade, 104.0)
    assert action.levels == (1,)


def test_a_foreign_partial_exit_blocks_adds_like_our_own():
    book = FakeOrderBook()
    book.fill("sell", 0.1, 99.0, "manual trim")
    assert adds().check_scale_in_opportunity(book.trade, 90.0) is None


def test_tags_round_trip():
    assert level_tag("tp", (1, 3)) == "pm_tp1+tp3"
    assert levels_in_tag("pm_tp1+tp3", "tp") == {1, 3}
    assert levels_in_tag("pm_tp1+tp3", "add") == frozenset()
    assert levels_in_tag("pm_add12", "add") == {12}
    assert levels_in_tag("my_pm_tp1", "tp") == frozenset()
    assert levels_in_tag(None, "tp") == frozenset()


# --- properties -------------------------------------------------------------------------------


@st.composite
def policies(draw) -> PartialExitPolicy:
    n_targets = draw(st.integers(0, 4))
    targets = sorted(draw(st.sets(st.integers(1, 40), min_size=n_targets, max_size=n_targets)))
    weights = draw(st.lists(st.integers(1, 10), min_size=n_targets, max_size=n_targets))
    whole = draw(st.booleans())
    total = sum(weights) if whole else sum(weights) + draw(st.integers(0, 10))
    thresholds = sorted(
        draw(st.sets(st.integers(-30, 30).filter(bool), min_size=0 if n_targets else 1, max_size=4))
    )
    return PartialExitPolicy(
        exit_targets=[t / 100 for t in targets],
        exit_sizes=[w / total for w in weights],
        scale_in_thresholds=[t / 100 for t in thresholds],
        scale_in_sizes=draw(
            st.lists(st.floats(0.1, 2.0), min_size=len(thresholds), max_size=len(thresholds))
        ),
        max_scale_ins=draw(st.integers(0 if n_targets else 1, len(thresholds))),
        scale_in_after_exit=draw(st.booleans()),
    )


# Candle-to-candle moves in basis points around a drawn trend, so paths reach the targets.
paths = st.integers(-150, 150).flatmap(
    lambda trend: st.lists(
        st.integers(-500, 500).map(lambda move: move + trend), min_size=5, max_size=40
    )
)


def walk(start: float, moves: list[int]) -> list[float]:
    prices, price = [], start
    for move in moves:
        price *= math.exp(move / 10_000)
        prices.append(price)
    return prices


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
            position = policy.apply_partial_exit(position, exit_)
        add = policy.check_scale_in_opportunity(position, price)
        if add:
            fired_adds += add.levels
            bought += add.stake * leverage / price
            position = policy.apply_scale_in(position, add)
        assert sold <= bought + 1e-9
        assert position.current_size == pytest.approx(bought - sold, abs=1e-9)
        now = (position.partial_exits_taken, position.scale_ins_taken)
        assert seen[0] <= now[0] and seen[1] <= now[1]
        seen = now
    assert len(fired_targets) == len(set(fired_targets))
    assert len(fired_adds) == len(set(fired_adds)) <= policy.max_scale_ins


@settings(max_examples=80, deadline=None)
@given(
    policy=policies(),
    moves=paths,
    is_short=st.booleans(),
    leverage=st.sampled_from([1.0, 3.0]),
)
def test_property_freqtrade_trade_state_from_tags_only_grows(policy, moves, is_short, leverage):
    book = FakeOrderBook(is_short=is_short, leverage=leverage)
    fired: set[int] = set()
    added: set[int] = set()
    for price in walk(100.0, moves):
        if book.trade.amount <= 0:
            break
        exit_ = only_exit(policy, book.trade, price)
        if exit_:
            assert exit_.amount <= book.trade.amount
            assert fired.isdisjoint(exit_.levels)
            fired |= set(exit_.levels)
            if exit_.sells_all:
                break
            book.apply(exit_)
        add = policy.check_scale_in_opportunity(book.trade, price)
        if add:
            assert added.isdisjoint(add.levels)
            added |= set(add.levels)
            book.apply(add)
        sold = sum(o.filled for o in book.trade.orders if o.ft_order_side == book.trade.exit_side)
        bought = sum(
            o.filled for o in book.trade.orders if o.ft_order_side == book.trade.entry_side
        )
        assert sold <= bought
        tags = " ".join(o.ft_order_tag for o in book.trade.orders)
        assert fired == {n for n in fired if f"tp{n}" in tags}
    assert len(added) <= policy.max_scale_ins
