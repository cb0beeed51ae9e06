"""What an open trade counts toward its correlation group: read from a real Freqtrade trade."""

import pytest

from freqtrade_posmgmt.mixins.correlation import _notional
from tests.unit.test_partial_exit_trades import FakeOrderBook


def test_a_partly_filled_open_add_counts_its_filled_part_and_the_rest():
    """Freqtrade adds an order's fill to the trade's stake only once the order closes: until
    then the filled part of a resting add is exposure all the same."""
    book = FakeOrderBook(stake=100.0, price=100.0)
    book.fill(book.trade.entry_side, 0.5, 90.0, "pm_add1", is_open=True)
    add = book.trade.orders[-1]
    add.filled, add.remaining, add.status = 0.2, 0.3, "open"
    book.trade.recalc_trade_from_orders()

    assert book.trade.stake_amount == pytest.approx(100.0)  # the fill is not in the stake yet
    assert _notional(book.trade) == pytest.approx(100.0 + 0.5 * 90.0)


def test_an_unfilled_open_add_counts_its_whole_amount():
    book = FakeOrderBook(stake=100.0, price=100.0, leverage=3.0)
    book.fill(book.trade.entry_side, 1.0, 95.0, "pm_add1", is_open=True)

    assert _notional(book.trade) == pytest.approx(300.0 + 95.0)
