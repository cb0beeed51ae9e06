"""freqtrade_posmgmt.profit against Freqtrade's own Trade arithmetic."""

import pytest
from freqtrade.enums import TradingMode
from freqtrade.persistence import LocalTrade
from freqtrade.strategy import stoploss_from_absolute
from hypothesis import assume, given
from hypothesis import strategies as st

from freqtrade_posmgmt.profit import (
    profit_ratio,
    rate_for_profit,
    stop_rate_for_ratio,
    stoploss_ratio,
)
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy

FEE = 0.001

# Spot is long-only at 1x; futures are long or short, any leverage, with funding either way.
positions = st.one_of(
    st.fixed_dictionaries(
        {
            "open_rate": st.floats(0.01, 100_000),
            "amount": st.floats(0.001, 1_000),
            "is_short": st.just(False),
            "leverage": st.just(1.0),
            "fee": st.sampled_from([0.0, 0.0005, 0.001]),
            "funding_fees": st.just(0.0),
            "trading_mode": st.just(TradingMode.SPOT),
        }
    ),
    st.fixed_dictionaries(
        {
            "open_rate": st.floats(0.01, 100_000),
            "amount": st.floats(0.001, 1_000),
            "is_short": st.booleans(),
            "leverage": st.sampled_from([1.0, 2.0, 3.0, 10.0, 125.0]) | st.floats(1.0, 50.0),
            "fee": st.sampled_from([0.0, 0.0002, 0.0005, 0.001]),
            # Funding as a ratio of the position's value: basis points, paid or received.
            "funding_fees": st.floats(-0.01, 0.01),
            "trading_mode": st.just(TradingMode.FUTURES),
        }
    ),
)


def freqtrade_trade(position: dict) -> LocalTrade:
    value = position["open_rate"] * position["amount"]
    trade = LocalTrade(
        pair="BTC/USDT" if position["trading_mode"] == TradingMode.SPOT else "BTC/USDT:USDT",
        open_rate=position["open_rate"],
        amount=position["amount"],
        stake_amount=value / position["leverage"],
        fee_open=position["fee"],
        fee_close=position["fee"],
        is_short=position["is_short"],
        leverage=position["leverage"],
        trading_mode=position["trading_mode"],
        exchange="binance",
    )
    trade.funding_fees = position["funding_fees"] * value
    return trade


def ours(position: dict) -> dict:
    """profit.py's keyword arguments for the position Freqtrade's trade holds."""
    value = position["open_rate"] * position["amount"]
    return {
        "open_rate": position["open_rate"],
        "is_short": position["is_short"],
        "leverage": position["leverage"],
        "fee_open": position["fee"],
        "fee_close": position["fee"],
        "amount": position["amount"],
        "funding_fees": position["funding_fees"] * value,
    }


@given(position=positions, move=st.floats(-0.3, 0.5))
def test_profit_ratio_is_freqtrades_calc_profit_ratio(position, move):
    trade = freqtrade_trade(position)
    rate = position["open_rate"] * (1 + move)
    # Both round to 8 decimals; FtPrecise and float products may differ in the last bit before.
    assert profit_ratio(rate, **ours(position)) == pytest.approx(
        trade.calc_profit_ratio(rate), abs=1.1e-8
    )


@given(position=positions, profit=st.floats(-0.5, 0.5))
def test_rate_for_profit_closes_with_that_profit_in_freqtrade(position, profit):
    trade = freqtrade_trade(position)
    rate = rate_for_profit(profit, **ours(position))
    assume(rate > 0)
    assert trade.calc_profit_ratio(rate) == pytest.approx(profit, abs=2e-8)


@given(position=positions)
def test_profit_zero_is_the_fee_and_funding_aware_breakeven(position):
    trade = freqtrade_trade(position)
    breakeven = rate_for_profit(0.0, **ours(position))
    assume(breakeven > 0)
    assert trade.calc_profit_ratio(breakeven) == pytest.approx(0.0, abs=2e-8)


def test_profit_ratio_rounds_to_freqtrades_8_decimals():
    ratio = profit_ratio(100.0 + 1e-7, open_rate=100.0, is_short=False)
    assert ratio == 0.0
    assert profit_ratio(101.0, open_rate=100.0, is_short=False) == 0.01


def test_breakeven_pays_both_fees():
    rate = rate_for_profit(0.001, open_rate=100.0, is_short=False, fee_open=FEE, fee_close=FEE)
    # Entry x 1.001 would still lose both fees; the fee-aware price sits ~0.3% above entry.
    assert rate == pytest.approx(100.0 * 1.001 * 1.001 / 0.999)
    short = rate_for_profit(
        0.001, open_rate=100.0, is_short=True, leverage=3.0, fee_open=FEE, fee_close=FEE
    )
    assert short == pytest.approx(100.0 * 0.999 * (1 - 0.001 / 3) / 1.001)


def test_funding_received_lowers_a_longs_breakeven_and_raises_a_shorts():
    plain = {"open_rate": 100.0, "amount": 2.0, "fee_open": FEE, "fee_close": FEE}
    long_paid = rate_for_profit(0.0, is_short=False, **plain)
    short_paid = rate_for_profit(0.0, is_short=True, **plain)
    assert rate_for_profit(0.0, is_short=False, funding_fees=1.0, **plain) < long_paid
    assert rate_for_profit(0.0, is_short=True, funding_fees=1.0, **plain) > short_paid


def test_an_empty_position_has_no_profit():
    assert profit_ratio(120.0, open_rate=100.0, is_short=False, amount=0.0) == 0.0


@given(
    current_rate=st.floats(1e-6, 1e7),
    distance=st.floats(1e-9, 0.9),
    is_short=st.booleans(),
    leverage=st.sampled_from([1.0, 2.0, 3.0, 5.0, 10.0, 125.0]) | st.floats(1.0, 50.0),
)
def test_stoploss_ratio_places_freqtrades_stop_exactly_there(
    current_rate, distance, is_short, leverage
):
    stop = current_rate * (1 + distance if is_short else 1 - distance)
    assume(stop != current_rate)
    ratio = stoploss_ratio(stop, current_rate, is_short=is_short, leverage=leverage)
    assert ratio == pytest.approx(
        stoploss_from_absolute(stop, current_rate, is_short=is_short, leverage=leverage)
    )
    # Trade.adjust_stop_loss's own arithmetic gives the wanted stop back: bit for bit for any
    # trailing distance, so Freqtrade rounds it to the tick as it would its own stop. Far stops
    # can fall between the floats its arithmetic reaches.
    placed = current_rate * (1 + abs(ratio / leverage) if is_short else 1 - abs(ratio / leverage))
    assert stop_rate_for_ratio(ratio, current_rate, is_short=is_short, leverage=leverage) == placed
    if distance <= 0.2:
        assert placed == stop
    else:
        assert placed == pytest.approx(stop, rel=1e-14, abs=0)


def test_stoploss_ratio_is_none_beyond_the_current_rate():
    assert stoploss_ratio(101.0, 100.0, is_short=False) is None
    assert stoploss_ratio(100.0, 100.0, is_short=False) is None
    assert stoploss_ratio(99.0, 100.0, is_short=True) is None


def test_stoploss_ratio_is_multiplied_by_leverage():
    # Freqtrade divides the returned ratio by leverage: a 1% price distance is 3% at 3x.
    assert stoploss_ratio(99.0, 100.0, is_short=False, leverage=3.0) == pytest.approx(0.03)


def test_percent_distance_is_divided_by_leverage_like_freqtrades():
    policy = TrailingStopPolicy(activation_threshold=0.015, trailing_distance_pct=0.03)
    stop = policy.update_trailing_stop(
        is_short=True, open_rate=100.0, best_rate=95.0, leverage=3.0, fee_open=FEE, fee_close=FEE
    )
    trade = freqtrade_trade(
        {
            "open_rate": 100.0,
            "amount": 3.0,
            "is_short": True,
            "leverage": 3.0,
            "fee": FEE,
            "funding_fees": 0.0,
            "trading_mode": TradingMode.FUTURES,
        }
    )
    trade.adjust_stop_loss(trade.open_rate, -0.5, initial=True)
    trade.adjust_stop_loss(95.0, 0.03)
    assert stop == pytest.approx(95.0 * 1.01)
    assert stop == trade.stop_loss
