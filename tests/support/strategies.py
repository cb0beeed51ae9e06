"""Strategies shared by several test modules (a test module never imports another)."""

from example_strategy import ExampleStrategy

from freqtrade_posmgmt import PositionManagementMixin

PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


class EverythingOff(PositionManagementMixin):
    """Put before a strategy: the whole stack with every capability switched off."""

    time_exit_policy = None
    partial_exit_policy = None
    trailing_stop_policy = None
    correlation_policy = None
    dynamic_risk_policy = None
    mfe_mae_tracker = None


class ExampleShort(ExampleStrategy):
    can_short = True


class ScaleInAndOut(ExampleStrategy):
    """One add after a 2% dip and one partial exit of half the stake at +3%: trades with
    several fills, so Freqtrade's own accounting can check the position replay."""

    position_adjustment_enable = True
    max_entry_position_adjustment = 1

    def adjust_trade_position(self, trade, current_time, current_rate, current_profit, **kwargs):
        if trade.has_open_orders:
            return None
        if current_profit < -0.02 and trade.nr_of_successful_entries == 1:
            return trade.stake_amount / 2, "add_dip"
        if current_profit > 0.03 and trade.nr_of_successful_exits == 0:
            return -trade.stake_amount / 2, "take_half"
        return None
