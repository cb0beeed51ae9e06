"""
Read a Freqtrade trade database (a replay's, a dry-run's or a live bot's): its trades in the
shape the report reads a backtest result in (``report.loading``), and as Freqtrade serialises
them, with each trade's custom data (where the MFE/MAE recorder keeps what it saw live).
"""

from typing import Any

import pandas as pd
from freqtrade.data.btanalysis import load_trades_from_db
from freqtrade.persistence import Trade, init_db


def load_database_trades(db_url: str) -> pd.DataFrame:
    """
    The closed and open trades of the database at ``db_url`` as a frame with the columns
    Freqtrade's ``load_backtest_data`` gives a backtest result (``pair``, ``open_date``,
    ``close_date`` as UTC datetimes, ``open_timestamp``, ``orders`` as lists of dicts, ...),
    plus ``custom_data``: each trade's custom data, ``{key: value}``.
    :param db_url: e.g. ``sqlite:///tradesv3.dryrun.sqlite``
    """
    trades = load_trades_from_db(db_url)
    if trades.empty:
        return trades.assign(custom_data=[])
    custom = {trade["trade_id"]: trade["custom_data"] for trade in database_trades(db_url)}
    return trades.assign(custom_data=trades["trade_id"].map(custom))


def database_trades(db_url: str) -> list[dict[str, Any]]:
    """The trades at ``db_url`` as Freqtrade serialises them (``Trade.to_json``), in id order,
    each with its ``custom_data`` (``{key: value}``) and its ``stop_orders`` (the stop orders
    placed on the exchange, with their ``stop_price``)."""
    init_db(db_url)
    try:
        return [
            {
                **trade.to_json(),
                "custom_data": {entry.cd_key: entry.value for entry in trade.get_all_custom_data()},
                # to_json leaves out the stop orders on the exchange: they are added here.
                "stop_orders": [
                    {**order.to_json(trade.entry_side), "stop_price": order.stop_price}
                    for order in trade.orders
                    if order.ft_order_side == "stoploss"
                ],
            }
            for trade in sorted(Trade.get_trades([]).all(), key=lambda trade: trade.id)
        ]
    finally:
        Trade.session.remove()
