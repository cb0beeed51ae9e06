"""The harness runs real offline backtests whose trades are facts about the shipped candles."""

from datetime import timedelta

import pandas as pd
import pytest
from example_strategy import ExampleStrategy

from tests.support.backtest_harness import SPOT_DATA, data_span, run_backtest

BTC_ETH = ["BTC/USDT", "ETH/USDT"]


class ExampleShort(ExampleStrategy):
    can_short = True


def candles(pair: str, timeframe: str = "1h") -> pd.DataFrame:
    frame = pd.read_feather(
        SPOT_DATA / f"{pair.split(':')[0].replace('/', '_')}-{timeframe}.feather"
    )
    return frame.set_index("date")


def assert_rates_inside_candles(trades: list, timeframe: str = "1h") -> None:
    frames = {}
    for trade in trades:
        frame = frames.setdefault(trade.pair, candles(trade.pair, timeframe))
        for order in trade.orders:
            candle = frame.loc[pd.Timestamp(order.order_date_utc)]
            assert candle["low"] <= order.safe_price <= candle["high"], (trade, order)


@pytest.fixture(scope="module")
def whole_span():
    return run_backtest(ExampleStrategy)


@pytest.mark.slow
def test_example_strategy_result_is_stable(whole_span):
    assert len(whole_span.trades) == 741
    assert whole_span.stats["profit_total_abs"] == pytest.approx(-4943.521, abs=1e-3)
    assert {t.pair for t in whole_span.trades} == set(
        whole_span.config["exchange"]["pair_whitelist"]
    )


@pytest.mark.slow
def test_trades_lie_inside_the_data_and_their_candles(whole_span):
    for trade in whole_span.trades:
        first, last = data_span(trade.pair)
        assert first <= trade.open_date_utc
        assert trade.close_date_utc <= last + timedelta(hours=1)
    assert_rates_inside_candles(whole_span.trades)


@pytest.mark.slow
def test_every_order_is_filled_and_trades_are_closed(whole_span):
    for trade in whole_span.trades:
        assert not trade.is_open
        assert [o.ft_order_side for o in trade.orders] == ["buy", "sell"]
        assert all(o.status == "closed" for o in trade.orders)


@pytest.mark.slow
def test_timeframe_detail_fills_exits_inside_5m_candles():
    result = run_backtest(
        ExampleStrategy, pairs=BTC_ETH, timerange="20250101-20250301", timeframe_detail="5m"
    )
    assert result.trades
    inside_hour = [t for t in result.trades if t.close_date_utc.minute != 0]
    assert inside_hour, "stops and ROI exits must fire inside the hour with 5m detail"
    assert_rates_inside_candles([t for t in result.trades], timeframe="5m")


def test_futures_shorts_with_leverage():
    result = run_backtest(
        ExampleShort,
        pairs=BTC_ETH,
        timerange="20250101-20250401",
        trading_mode="futures",
        leverage=3,
    )
    shorts = [t for t in result.trades if t.is_short]
    assert shorts and len(shorts) < len(result.trades)
    for trade in result.trades:
        assert trade.pair in {"BTC/USDT:USDT", "ETH/USDT:USDT"}
        assert trade.leverage == 3
        assert trade.trading_mode == "futures"
        assert trade.funding_fees == 0  # zero funding rate in the derived data
        # isolated margin: liquidation sits about 1/leverage away from the entry
        distance = abs(trade.liquidation_price - trade.open_rate) / trade.open_rate
        assert 0.25 < distance < 1 / 3
    assert_rates_inside_candles(result.trades)
