"""
The partial-exit policy fed from real Freqtrade trades: the mixin's translation
(``position_state``) reads fired levels back from order tags, and the policy's profit and
breakeven agree with Freqtrade's own arithmetic.
"""

from datetime import UTC, datetime, timedelta

import pytest
from freqtrade.constants import DEFAULT_AMOUNT_RESERVE_PERCENT
from freqtrade.enums import TradingMode
from freqtrade.exchange import Exchange
from freqtrade.persistence import LocalTrade, Order
from hypothesis import given, settings
from hypothesis import strategies as st

from freqtrade_posmgmt.mixins.partial_exits import position_state
from freqtrade_posmgmt.partial_manager import (
    PartialExit,
    PartialExitPolicy,
    PositionState,
    ScaleIn,
    exit_min_stake_factor,
    level_name,
)
from tests.support.helpers import FEE, adds, ladder, only_exit, paths, policies, walk

T0 = datetime(2025, 1, 1, tzinfo=UTC)


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

    def state(self, policy: PartialExitPolicy) -> PositionState:
        """What ``policy`` sees of the trade: the mixin's translation."""
        return position_state(self.trade, policy)

    def apply(self, action: PartialExit | ScaleIn) -> None:
        if isinstance(action, ScaleIn):
            amount = action.stake * self.trade.leverage / action.price
            self.fill(self.trade.entry_side, amount, action.price, action.tag)
        else:
            self.fill(self.trade.exit_side, action.amount, action.price, action.tag)


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
    state = position_state(book.trade, adds())  # tags of the older form, read by position
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


def test_breakeven_of_a_leveraged_short_trade_is_its_zero_profit_price():
    policy = ladder(breakeven_after_first_exit=True)
    book = FakeOrderBook(is_short=True, leverage=3.0)
    assert policy.breakeven_stop_price(book.state(policy)) is None
    book.apply(only_exit(policy, book.state(policy), 98.0))
    stop = policy.breakeven_stop_price(book.state(policy))
    assert stop < 100.0
    assert book.trade.calc_profit_ratio(stop) == pytest.approx(0.0, abs=1e-8)


# --- Freqtrade trades: state read from order tags ---------------------------------------------


def test_fired_levels_are_read_back_from_the_trades_order_tags():
    policy = adds(scale_in_after_exit=True)
    book = FakeOrderBook(tag="pm_tp9")  # an entry signal's tag names no exit target
    book.apply(policy.check_scale_in_opportunity(book.state(policy), 94.0))
    assert book.trade.orders[-1].ft_order_tag == "pm_add-5%"
    book.apply(only_exit(policy, book.state(policy), 104.0))
    assert book.trade.orders[-1].ft_order_tag == "pm_tp3%+6%"
    assert only_exit(policy, book.state(policy), 104.0) is None
    assert only_exit(policy, book.state(policy), 112.0).levels == (3,)
    assert policy.check_scale_in_opportunity(book.state(policy), 94.0) is None


def test_exit_amounts_on_a_trade_follow_its_peak_amount_from_the_orders():
    policy = adds()
    book = FakeOrderBook()
    book.apply(
        policy.check_scale_in_opportunity(book.state(policy), 90.0)
    )  # adds 1.5x the first stake
    peak = book.trade.amount
    assert book.trade.open_rate == pytest.approx(93.75)
    for price, share in [(97.0, 0.25), (100.5, 0.25), (104.0, 0.5)]:
        action = only_exit(policy, book.state(policy), price)
        assert action.amount == pytest.approx(share * peak)
        book.apply(action)
    assert action.sells_all


def test_open_orders_and_foreign_tags_do_not_count_as_fired():
    policy = ladder()
    book = FakeOrderBook()
    book.fill("sell", 0.25, 104.0, "pm_tp1", is_open=True)
    book.fill("sell", 0.1, 99.0, "manual trim")
    action = only_exit(policy, book.state(policy), 104.0)
    assert action.levels == (1,)


def test_a_foreign_partial_exit_blocks_adds_like_our_own():
    book = FakeOrderBook()
    book.fill("sell", 0.1, 99.0, "manual trim")
    assert adds().check_scale_in_opportunity(book.state(adds()), 90.0) is None


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
        exit_ = only_exit(policy, book.state(policy), price)
        if exit_:
            assert exit_.amount <= book.trade.amount
            assert fired.isdisjoint(exit_.levels)
            fired |= set(exit_.levels)
            if exit_.sells_all:
                break
            book.apply(exit_)
        add = policy.check_scale_in_opportunity(book.state(policy), price)
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
        assert fired == {n for n in fired if level_name(policy.exit_targets[n - 1]) in tags}
    assert len(added) <= policy.scale_in_cap


class CostLimitedMarket:
    """Freqtrade's own stake-limit code on a market limited by cost only (Binance spot's)."""

    _get_stake_amount_limit = Exchange._get_stake_amount_limit
    get_min_pair_stake_amount = Exchange.get_min_pair_stake_amount
    _get_stake_amount_considering_leverage = Exchange._get_stake_amount_considering_leverage

    def __init__(self, amount_reserve_percent: float | None) -> None:
        limits = {"cost": {"min": 5.0, "max": None}, "amount": {"min": None, "max": None}}
        self.markets = {"BTC/USDT": {"limits": limits}}
        self._config = (
            {}
            if amount_reserve_percent is None
            else {"amount_reserve_percent": amount_reserve_percent}
        )

    def _contracts_to_amount(self, pair: str, num_contracts: float) -> float:
        return num_contracts


@given(
    stoploss=st.floats(-0.99, 0.0),
    reserve=st.none() | st.floats(0.0, 0.3),
    leverage=st.sampled_from([1.0, 3.0]),
)
def test_the_exit_reserve_is_the_ratio_of_freqtrades_exit_and_entry_minimums(
    stoploss, reserve, leverage
):
    exchange = CostLimitedMarket(reserve)
    entry_min = exchange.get_min_pair_stake_amount("BTC/USDT", 100.0, 0.0, leverage)
    exit_min = exchange.get_min_pair_stake_amount("BTC/USDT", 100.0, stoploss, leverage)
    used = DEFAULT_AMOUNT_RESERVE_PERCENT if reserve is None else reserve
    assert entry_min * exit_min_stake_factor(stoploss, used) == pytest.approx(exit_min)
