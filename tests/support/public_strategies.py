"""
Base strategies written the way public ones are (freqtrade-strategies), for stacking the mixins on:
their own ``custom_stoploss`` (a fixed distance, a PSAR stop), their own built-in trailing stop,
their own ``custom_exit``, informative pairs, and every other callback the mixins define.

Each callback counts its calls in ``CALLS`` (class name, callback), so a test can see that
Freqtrade reached it through the mixins. Shared by the integration tests; not a test module.
"""

from collections import Counter
from datetime import datetime

import talib.abstract as ta
from example_strategy import ExampleStrategy
from freqtrade.persistence import Trade
from freqtrade.strategy import merge_informative_pair, stoploss_from_absolute
from pandas import DataFrame

CALLS: Counter = Counter()
STOP_MOVES: list[tuple] = []
"""(pair, open date, last order tag, stop before, stop after) of every after-fill stop update."""


class FixedStop(ExampleStrategy):
    """A fixed 1.5 % stop below the rate, as many public strategies trail with custom_stoploss."""

    use_custom_stoploss = True

    def custom_stoploss(self, pair: str, trade: Trade, current_time: datetime,
                        current_rate: float, current_profit: float, **kwargs) -> float:  # fmt: skip
        CALLS[type(self).__name__, "custom_stoploss"] += 1
        return -0.015


class PSARStop(ExampleStrategy):
    """A parabolic-SAR stop read from the analysed dataframe (talib SAR)."""

    use_custom_stoploss = True

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe = super().populate_indicators(dataframe, metadata)
        dataframe["sar"] = ta.SAR(dataframe)
        return dataframe

    def custom_stoploss(self, pair: str, trade: Trade, current_time: datetime,
                        current_rate: float, current_profit: float, **kwargs) -> float:  # fmt: skip
        CALLS[type(self).__name__, "custom_stoploss"] += 1
        dataframe, _ = self.dp.get_analyzed_dataframe(pair, self.timeframe)
        sar = dataframe.iloc[-1]["sar"]
        if sar < current_rate:
            return stoploss_from_absolute(sar, current_rate, is_short=trade.is_short)
        return 1  # keep the stop where it is


class OwnTrail(ExampleStrategy):
    """Freqtrade's built-in trailing stop: 1 % behind the best rate once 2 % up."""

    trailing_stop = True
    trailing_stop_positive = 0.01
    trailing_stop_positive_offset = 0.02
    trailing_only_offset_is_reached = True

    def ft_stoploss_adjust(self, current_rate: float, trade: Trade, *args, **kwargs) -> None:
        # Wraps Freqtrade's own stop update to record what each after-fill call did to the stop.
        before = trade.stop_loss
        super().ft_stoploss_adjust(current_rate, trade, *args, **kwargs)
        if kwargs.get("after_fill"):
            tag = trade.orders[-1].ft_order_tag if trade.orders else None
            STOP_MOVES.append((trade.pair, trade.open_date, tag, before, trade.stop_loss))


class OwnCallbacks(ExampleStrategy):
    """Its own exit, entry veto, stake, leverage, fill hook and loop hook, and an informative pair."""

    def btc_pair(self) -> str:
        stake = self.config["stake_currency"]
        return f"BTC/{stake}" + (f":{stake}" if self.config["trading_mode"] == "futures" else "")

    def informative_pairs(self) -> list[tuple[str, str]]:
        return [(self.btc_pair(), self.timeframe)]

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe = super().populate_indicators(dataframe, metadata)
        btc = self.dp.get_pair_dataframe(self.btc_pair(), self.timeframe).copy()
        btc["rsi"] = ta.RSI(btc)
        return merge_informative_pair(dataframe, btc, self.timeframe, self.timeframe, ffill=True)

    def bot_loop_start(self, current_time: datetime, **kwargs) -> None:
        CALLS[type(self).__name__, "bot_loop_start"] += 1

    def custom_exit(self, pair: str, trade: Trade, current_time: datetime, current_rate: float,
                    current_profit: float, **kwargs) -> str | None:  # fmt: skip
        CALLS[type(self).__name__, "custom_exit"] += 1
        dataframe, _ = self.dp.get_analyzed_dataframe(pair, self.timeframe)
        if current_profit > 0.01 and dataframe.iloc[-1]["rsi_1h"] > 70:
            return "own_btc_hot"
        return None

    def confirm_trade_entry(self, pair: str, order_type: str, amount: float, rate: float,
                            time_in_force: str, current_time: datetime, entry_tag: str | None,
                            side: str, **kwargs) -> bool:  # fmt: skip
        CALLS[type(self).__name__, "confirm_trade_entry"] += 1
        return current_time.hour % 2 == 0

    def custom_stake_amount(self, pair: str, current_time: datetime, current_rate: float,
                            proposed_stake: float, min_stake: float | None, max_stake: float,
                            leverage: float, entry_tag: str | None, side: str,
                            **kwargs) -> float:  # fmt: skip
        CALLS[type(self).__name__, "custom_stake_amount"] += 1
        return min(500.0, max_stake)

    def leverage(self, pair: str, current_time: datetime, current_rate: float,
                 proposed_leverage: float, max_leverage: float, entry_tag: str | None, side: str,
                 **kwargs) -> float:  # fmt: skip
        CALLS[type(self).__name__, "leverage"] += 1
        return 1.0

    def order_filled(self, pair: str, trade: Trade, order, current_time: datetime,
                     **kwargs) -> None:  # fmt: skip
        CALLS[type(self).__name__, "order_filled"] += 1

    def adjust_trade_position(self, trade: Trade, current_time: datetime, **kwargs) -> None:
        # Never called: the strategy leaves position_adjustment_enable off.
        CALLS[type(self).__name__, "adjust_trade_position"] += 1
