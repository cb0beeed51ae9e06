"""
A failing callback of the user's is "no opinion" for that call, and a failing decision of a
mixin's is too: neither voids the other's answer in the same callback.
"""

import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import ClassVar

import pytest
from example_strategy import ExampleStrategy

from freqtrade_posmgmt.mixins._base import PolicyMixin
from freqtrade_posmgmt.mixins._hooks import CapabilityHooks, StopAnswer

NOW = datetime(2025, 3, 1, tzinfo=UTC)
TRADE = SimpleNamespace(pair="BTC/USDT", is_short=False, leverage=1.0, stop_loss=None, amount=1.0)
ARGUMENTS = {
    "custom_stoploss": {"pair": "BTC/USDT", "trade": TRADE, "current_time": NOW,
                        "current_rate": 100.0, "current_profit": 0.0, "after_fill": False},
    "custom_exit": {"pair": "BTC/USDT", "trade": TRADE, "current_time": NOW, "current_rate": 100.0,
                    "current_profit": 0.0},
    "confirm_trade_entry": {"pair": "BTC/USDT", "order_type": "limit", "amount": 1.0,
                            "rate": 100.0, "time_in_force": "GTC", "current_time": NOW,
                            "entry_tag": None, "side": "long"},
    "custom_stake_amount": {"pair": "BTC/USDT", "current_time": NOW, "current_rate": 100.0,
                            "proposed_stake": 100.0, "min_stake": 1.0, "max_stake": 1000.0,
                            "leverage": 1.0, "entry_tag": None, "side": "long"},
    "bot_loop_start": {"current_time": NOW},
}  # fmt: skip


class Plain(ExampleStrategy):
    use_custom_stoploss = True
    raises = False
    calls: ClassVar[list] = []


class User(Plain):
    """The user's own answer to every callback, or a failure when ``raises``."""

    def _answer(self, value):
        if self.raises:
            raise ValueError("the user's bug")
        return value

    def custom_stoploss(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        return self._answer(-0.05)

    def custom_exit(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        return self._answer("users_exit")

    def confirm_trade_entry(self, pair, order_type, amount, rate, time_in_force, current_time,
                            entry_tag, side, **kwargs):  # fmt: skip
        return self._answer(False)

    def custom_stake_amount(self, pair, current_time, current_rate, proposed_stake, min_stake,
                            max_stake, leverage, entry_tag, side, **kwargs):  # fmt: skip
        return self._answer(50.0)

    def bot_loop_start(self, current_time, **kwargs):
        self.calls.append("user")
        self._answer(None)


class DeciderHooks(CapabilityHooks):
    """An answer in every callback, each through the strategy's ``_decide``, which may fail."""

    capability = "decider"

    def stop(self, request):
        ratio = self.strategy._decide(-0.02)
        return None if ratio is None else StopAnswer(ratio)

    def exit_reason(self, request):
        return self.strategy._decide("our_exit")

    def entry_refusal(self, request):
        return None if self.strategy._decide(True) else "our refusal"

    def on_loop_start(self, current_time):
        self.strategy.calls.append(self.strategy._decide("ours"))

    def size_stake(self, request):
        return self.strategy._decide(request.stake / 2) or request.stake


class Decider(PolicyMixin):
    """A capability with an answer in every callback, or a failing decision when ``fails``."""

    pm_section = "decider"
    fails = False

    def pm_refresh(self) -> None:
        super().pm_refresh()
        self.pm_enable("use_custom_stoploss")
        self.pm_add_hooks(DeciderHooks(self, None))

    def _decide(self, value):
        if self.fails:
            raise RuntimeError("our bug")
        return value


class Stacked(Decider, User):
    pass


def answers(user_raises: bool, we_fail: bool) -> dict:
    strategy = Stacked({})
    strategy.raises, strategy.fails, strategy.calls = user_raises, we_fail, []
    result = {}
    for name, kwargs in ARGUMENTS.items():
        result[name] = getattr(strategy, name)(**kwargs)
    result["bot_loop_start"] = list(strategy.calls)
    return result


def test_a_failing_user_callback_leaves_every_answer_of_ours_standing(caplog):
    caplog.set_level(logging.INFO)
    assert answers(user_raises=True, we_fail=False) == {
        "custom_stoploss": -0.02,  # ours, the user's "no opinion"
        "custom_exit": "our_exit",
        "confirm_trade_entry": True,  # Freqtrade's default for a failing confirmation
        "custom_stake_amount": 50.0,  # the proposed stake, halved by our sizing step
        "bot_loop_start": ["ours", "user"],
    }
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    named = sorted(message.split(" ")[0] for message in failures)
    assert named == [
        "User.bot_loop_start",
        "User.confirm_trade_entry",
        "User.custom_stake_amount",
        "User.custom_stoploss",
    ]  # custom_exit: ours answered first, the user's was never asked


def test_each_user_failure_is_logged_once_per_callback(caplog):
    strategy = Stacked({})
    strategy.raises = True
    for _ in range(3):
        strategy.custom_stoploss(**ARGUMENTS["custom_stoploss"])
    assert len([r for r in caplog.records if "User.custom_stoploss failed" in r.getMessage()]) == 1


def test_a_failing_decision_of_ours_leaves_the_users_answers_standing():
    assert answers(user_raises=False, we_fail=True) == {
        "custom_stoploss": -0.05,
        "custom_exit": "users_exit",
        "confirm_trade_entry": False,
        "custom_stake_amount": 50.0,
        "bot_loop_start": ["user"],  # our failing hook appended nothing
    }


@pytest.mark.parametrize("user_raises", [False, True])
def test_positional_super_calls_still_reach_the_user(user_raises):
    strategy = Stacked({})
    strategy.raises, strategy.fails = user_raises, True
    kwargs = ARGUMENTS["custom_exit"]
    assert strategy.custom_exit(*kwargs.values()) == (None if user_raises else "users_exit")
