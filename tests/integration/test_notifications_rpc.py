"""
Notifications reach Freqtrade's own RPC queue (``DataProvider.send_msg``, which Freqtrade's bot
drains to Telegram, webhooks and FreqUI) once per decision and candle in dry-run and live, and
never in a backtest.
"""

from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

import pytest
from freqtrade.data.dataprovider import DataProvider
from freqtrade.enums import RunMode

from freqtrade_posmgmt.notifications import STOP_MOVED, TAKE_PROFIT, Notice, notify
from tests.unit.test_notifications import CUT, REFUSED

CANDLE = REFUSED.candle


def bot(runmode: RunMode) -> SimpleNamespace:
    config = {"runmode": runmode, "stake_currency": "USDT", "timeframe": "1h"}
    return SimpleNamespace(config=config, dp=DataProvider(config, None))


def queued(strategy: SimpleNamespace) -> list[str]:
    return list(strategy.dp._msg_queue)


@pytest.mark.parametrize("runmode", [RunMode.DRY_RUN, RunMode.LIVE])
def test_each_kind_reaches_the_queue_once_per_decision_and_candle(runmode):
    strategy = bot(runmode)
    notices = [
        REFUSED,
        CUT,
        Notice("trailing_stop", STOP_MOVED, "BTC/USDT", CANDLE, "breakeven", price=95000.0),
        Notice("partial_exits", STOP_MOVED, "BTC/USDT", CANDLE, "breakeven_after_tp", 95010.0),
        Notice("partial_exits", TAKE_PROFIT, "ETH/USDT", CANDLE, "pm_tp1", 3300.0, 250.0),
    ]
    for notice in notices * 3:  # Freqtrade asks about a candle many times
        notify(strategy, notice)
    messages = queued(strategy)
    assert len(messages) == len(notices)
    for text in ("entry refused", "stake cut", "stop moved to breakeven at",
                 "breakeven after a take-profit", "take-profit placed"):  # fmt: skip
        assert sum(text in message for message in messages) == 1, text
    notify(strategy, replace(REFUSED, candle=CANDLE + timedelta(hours=1)))
    assert len(queued(strategy)) == len(notices) + 1


@pytest.mark.parametrize("runmode", [RunMode.BACKTEST, RunMode.HYPEROPT])
def test_nothing_is_queued_in_a_backtest_or_hyperopt(runmode):
    strategy = bot(runmode)
    assert not notify(strategy, REFUSED) and queued(strategy) == []
