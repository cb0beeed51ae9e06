"""
Freqtrade's backtest of the replayed strategy on the same candles, in-process: the reference the
replay is compared with.
"""

import copy
from datetime import datetime
from typing import Any

from freqtrade.enums import RunMode
from freqtrade.optimize.backtesting import Backtesting
from freqtrade.persistence import LocalTrade

from freqtrade_posmgmt.cli.offline import use_static_markets


def backtest_trades(
    config: dict[str, Any],
    markets: dict[str, dict[str, Any]],
    start: datetime,
    end: datetime,
) -> list[dict[str, Any]]:
    """
    Backtest ``config``'s strategy from ``start`` to ``end`` (what the replay ran).
    :return: the trades as Freqtrade serialises them (``LocalTrade.to_json``), in open order;
        trades still open at the end are those Freqtrade closes with ``force_exit``
    """
    config = copy.deepcopy(config)
    config.update(
        runmode=RunMode.BACKTEST,
        dry_run=True,
        export="none",
        cache="none",
        timerange=f"{int(start.timestamp())}-{int(end.timestamp())}",
    )
    use_static_markets(markets)
    backtesting = Backtesting(config)
    try:
        data, timerange = backtesting.load_bt_data()
        backtesting.backtest_one_strategy(backtesting.strategylist[0], data, timerange)
        trades = LocalTrade.bt_trades + LocalTrade.bt_trades_open
        return [trade.to_json() for trade in sorted(trades, key=lambda t: t.open_date)]
    finally:
        backtesting.exchange.close()
        Backtesting.cleanup()
