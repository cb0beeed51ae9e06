"""The mixin base: policy precedence, feature switches, callback bypass, merge helpers."""

import logging
import math
from dataclasses import dataclass
from inspect import getfullargspec

import pandas as pd
import pytest
from freqtrade.strategy import DecimalParameter, IStrategy
from freqtrade.strategy.strategy_wrapper import strategy_safe_wrapper
from hypothesis import given
from hypothesis import strategies as st

from freqtrade_posmgmt.mixins._base import (
    PARAMETERS,
    PolicyConfigError,
    PolicyMixin,
    guarded,
    tightest_stop,
)


@dataclass(frozen=True)
class LevelPolicy:
    level: float = 0.1

    def __post_init__(self) -> None:
        if self.level <= 0:
            raise ValueError(f"level={self.level}: must be > 0")


class LevelMixin(PolicyMixin):
    level_policy = PARAMETERS
    pm_level = DecimalParameter(0.05, 0.5, default=0.1, decimals=2, space="pm_level")

    def pm_refresh(self) -> None:
        super().pm_refresh()
        self.level = self.pm_policy(
            "level", self.level_policy, lambda: LevelPolicy(self.pm_level.value)
        )
        if self.level is not None:
            self.pm_enable("use_custom_stoploss")
            self.pm_use_callbacks(LevelMixin)

    def custom_stoploss(self, pair, trade, current_time, current_rate, current_profit,
                        after_fill, **kwargs):  # fmt: skip
        other = super().custom_stoploss(
            pair, trade, current_time, current_rate, current_profit, after_fill, **kwargs
        )
        return tightest_stop(-self.level.level if self.level else None, other)

    def custom_exit(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        return (
            "level"
            if self.level
            else super().custom_exit(
                pair, trade, current_time, current_rate, current_profit, **kwargs
            )
        )


class Plain(IStrategy):
    timeframe = "1h"
    stoploss = -0.1
    minimal_roi = {"0": 1}

    def populate_indicators(self, dataframe, metadata):
        return dataframe

    def populate_entry_trend(self, dataframe, metadata):
        return dataframe

    def populate_exit_trend(self, dataframe, metadata):
        return dataframe


class WithLevel(LevelMixin, Plain):
    pass


class LevelOff(LevelMixin, Plain):
    level_policy = None


class LevelFromClass(LevelMixin, Plain):
    level_policy = LevelPolicy(0.3)


class OwnStoploss(LevelMixin, Plain):
    level_policy = None
    use_custom_stoploss = True

    def custom_exit(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        return "own"


def load(strategy: type, posmgmt: dict | None = None) -> IStrategy:
    return strategy({"posmgmt": posmgmt} if posmgmt is not None else {})


def test_policy_defaults_come_from_the_parameters():
    strategy = load(WithLevel)
    assert strategy.level == LevelPolicy(0.1)
    assert strategy.use_custom_stoploss is True


def test_class_attribute_overrides_parameters_and_none_switches_off():
    assert load(LevelFromClass).level == LevelPolicy(0.3)
    off = load(LevelOff)
    assert off.level is None
    assert off.use_custom_stoploss is False


def test_config_overrides_class_attribute_field_by_field():
    assert load(LevelFromClass, {"level": {"level": 0.2}}).level == LevelPolicy(0.2)
    assert load(LevelOff, {"level": {"level": 0.2}}).level == LevelPolicy(0.2)
    assert load(LevelFromClass, {"level": None}).level is None
    assert load(LevelFromClass, {"level": {"enabled": False}}).level is None
    # A section of another of the package's capabilities is not this strategy's business.
    assert load(LevelFromClass, {"dynamic_risk": {"x": 1}}).level == LevelPolicy(0.3)


def test_a_mistyped_section_fails_at_load_naming_the_known_sections():
    with pytest.raises(PolicyConfigError) as error:
        load(LevelFromClass, {"levels": {"level": 0.2}})
    assert str(error.value) == (
        "posmgmt.levels: unknown section; known sections: correlation, dynamic_risk, level, "
        "mfe_mae, notifications, partial_exits, time_exits, trailing_stop"
    )


def test_the_notifications_section_is_known_and_checked_at_load():
    assert load(LevelFromClass, {"notifications": {"time_exits": True}}).level == LevelPolicy(0.3)
    with pytest.raises(PolicyConfigError) as error:
        load(LevelFromClass, {"notifications": {"trailing": True}})
    assert str(error.value).startswith("posmgmt.notifications.trailing=True: unknown capability")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"level": -1}, "posmgmt.level: level=-1: must be > 0"),
        ({"levle": 0.2}, "posmgmt.level.levle: unknown field; known fields: level"),
        (5, "posmgmt.level=5: must be an object of policy fields, or null"),
    ],
)
def test_bad_config_fails_at_load_naming_field_and_rule(section, expected):
    with pytest.raises(PolicyConfigError) as error:
        load(WithLevel, {"level": section})
    assert str(error.value) == expected


def test_switched_off_capability_leaves_user_features_and_bypasses_callbacks():
    off = load(LevelOff)
    assert off.custom_exit.function is IStrategy.custom_exit
    assert off.custom_stoploss.function is IStrategy.custom_stoploss
    on = load(WithLevel)
    assert on.custom_exit.function is LevelMixin.custom_exit
    own = load(OwnStoploss)
    assert own.use_custom_stoploss is True
    assert own.custom_exit.__qualname__ == "OwnStoploss.custom_exit"


class RecordingMixin(PolicyMixin):
    seen: list = []

    def pm_refresh(self) -> None:
        super().pm_refresh()
        self.pm_use_callbacks(RecordingMixin)

    def custom_exit(self, pair, trade, **kwargs):
        RecordingMixin.seen.append(trade)


class MixinOnly(RecordingMixin, Plain):
    pass


class UserOverride(RecordingMixin, Plain):
    def custom_exit(self, pair, trade, **kwargs):
        return super().custom_exit(pair, trade, **kwargs)


def test_freqtrade_hands_mixins_the_trade_itself_and_user_code_a_copy():
    trade = {"pair": "BTC/USDT"}
    for strategy_class in (MixinOnly, UserOverride):
        strategy = load(strategy_class)
        strategy_safe_wrapper(strategy.custom_exit)(pair="BTC/USDT", trade=trade)
    assert RecordingMixin.seen[0] is trade
    assert RecordingMixin.seen[1] == trade and RecordingMixin.seen[1] is not trade


def test_custom_stoploss_keeps_after_fill_in_its_signature():
    assert "after_fill" in getfullargspec(load(WithLevel).custom_stoploss).args


def test_merged_stop_is_the_tightest_and_terminates_before_istrategy_default():
    strategy = load(WithLevel)
    assert strategy.custom_stoploss("BTC/USDT", None, None, 100.0, 0.0, False) == -0.1
    off = load(LevelOff)
    assert PolicyMixin.custom_stoploss(off, "BTC/USDT", None, None, 100.0, 0.0, False) is None


def test_parameter_change_is_picked_up_before_the_next_backtest():
    strategy = load(WithLevel)
    strategy.pm_level.value = 0.25
    frame = pd.DataFrame(
        {"date": pd.to_datetime(["2025-01-01"], utc=True), "open": [1.0], "high": [1.0],
         "low": [1.0], "close": [1.0], "volume": [1.0]}
    )  # fmt: skip
    strategy.ft_advise_signals(frame, {"pair": "BTC/USDT"})
    assert strategy.level == LevelPolicy(0.25)


def test_a_strategys_parameter_values_do_not_leak_into_the_next_strategy_loaded():
    # Freqtrade loads hyperopt values into Parameter objects; a mixin's are class attributes
    # shared by every strategy built on it (--strategy-list, hyperopt epochs, tests).
    first = load(WithLevel)
    first.pm_level.value = 0.25
    assert load(WithLevel).level == LevelPolicy(0.1)
    assert load(OwnStoploss).pm_level.value == 0.1
    assert first.pm_level.value == 0.25


@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))))
def test_tightest_stop_is_the_smallest_meaningful_distance(ratios):
    meaningful = [r for r in ratios if r is not None and r != 0 and math.isfinite(r)]
    merged = tightest_stop(*ratios)
    if not meaningful:
        assert merged is None
    else:
        assert merged in meaningful
        assert all(abs(merged) <= abs(r) for r in meaningful)


def test_guarded_returns_the_default_and_logs_once(caplog):
    class Failing(WithLevel):
        @guarded(default=None)
        def decide(self, value):
            return 1 / value

    strategy = load(Failing)
    with caplog.at_level(logging.ERROR):
        assert strategy.decide(0) is None
        assert strategy.decide(0) is None
        assert strategy.decide(2) == 0.5
    assert len([r for r in caplog.records if "decide failed" in r.getMessage()]) == 1


class UserStop(Plain):
    """A user's own stop, written without after_fill as most public strategies are."""

    use_custom_stoploss = True

    def custom_stoploss(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        return -0.05


class LevelOverUserStop(LevelMixin, UserStop):
    level_policy = LevelPolicy(0.3)


class LevelOffOverUserStop(LevelMixin, UserStop):
    level_policy = None


class LevelOverUnusedUserStop(LevelMixin, UserStop):
    """The user wrote a stop but left it off: Freqtrade never asked it."""

    level_policy = LevelPolicy(0.3)
    use_custom_stoploss = False


def test_the_users_own_stop_is_reached_where_freqtrade_would_have_asked_it():
    args = ("BTC/USDT", None, None, 100.0, 0.0)
    assert load(LevelOverUserStop).custom_stoploss(*args, False) == -0.05
    # No after_fill in its signature: Freqtrade never asked it after a fill.
    assert load(LevelOverUserStop).custom_stoploss(*args, True) == -0.3
    assert load(LevelOverUnusedUserStop).custom_stoploss(*args, False) == -0.3
    off = load(LevelOffOverUserStop)
    assert off.use_custom_stoploss is True
    # Switched off, Freqtrade calls the user's own method, with its own signature.
    assert off.custom_stoploss.function is UserStop.custom_stoploss
    assert off._ft_stop_uses_after_fill is False


@dataclass
class Stopped:
    """What pm_merge_stops reads of a trade: the stop in force."""

    stop_loss: float
    is_short: bool = False
    leverage: float = 1.0


def ratio_for(stop: float, rate: float, is_short: bool = False) -> float:
    return (stop / rate - 1) if is_short else (1 - stop / rate)


@pytest.mark.parametrize("is_short", [False, True])
def test_breakeven_alone_does_not_drop_the_stop_after_a_fill(is_short):
    strategy = load(WithLevel)
    # In force 106.5; the breakeven at 100.21 would drop it (mirrored for a short).
    in_force, breakeven, rate = (93.5, 99.79, 90.0) if is_short else (106.5, 100.21, 110.0)
    trade = Stopped(in_force, is_short)
    ours = ratio_for(breakeven, rate, is_short)
    assert strategy.pm_merge_stops(ours, None, trade, rate, after_fill=True) is None
    # Outside the after-fill call Freqtrade only ever raises the stop: the answer stands.
    assert strategy.pm_merge_stops(ours, None, trade, rate, after_fill=False) == ours
    # A tighter answer after a fill still moves the stop.
    tighter = ratio_for(108.0 if not is_short else 92.0, rate, is_short)
    assert strategy.pm_merge_stops(tighter, None, trade, rate, after_fill=True) == tighter


@given(
    in_force=st.floats(50, 150),
    rate=st.floats(151, 200),
    ours=st.one_of(st.none(), st.floats(0.0001, 0.9)),
    theirs=st.one_of(st.none(), st.floats(0.0001, 0.9)),
    leverage=st.sampled_from([1.0, 3.0]),
)
def test_after_a_fill_a_mixins_answer_never_loosens_the_stop(
    in_force, rate, ours, theirs, leverage
):
    strategy = load(WithLevel)
    trade = Stopped(in_force, leverage=leverage)
    merged = strategy.pm_merge_stops(ours and -ours, theirs and -theirs, trade, rate, True)
    if ours is not None and merged is not None:
        assert rate * (1 - abs(merged) / leverage) >= in_force
    if ours is None:
        assert merged == (theirs and -theirs)  # the user's own answer is the user's


def test_a_bad_policy_class_attribute_names_the_attribute_in_one_freqtrade_error():
    from freqtrade.exceptions import OperationalException

    from freqtrade_posmgmt.partial_manager import PartialExitPolicy

    with pytest.raises(OperationalException) as error:

        class Bad(Plain):
            partial_exit_policy = PartialExitPolicy(
                exit_targets=[0.06, 0.03], exit_sizes=[0.3, 0.3]
            )

    assert isinstance(error.value, ValueError)
    assert str(error.value).endswith(
        "Bad.partial_exit_policy: exit_targets=[0.06, 0.03]: must be strictly ascending"
    )


class UserDCA(Plain):
    position_adjustment_enable = True
    max_entry_position_adjustment = 2

    def adjust_trade_position(self, trade, current_time, **kwargs):
        return 10.0, "own_dca"


def test_the_users_own_position_adjustment_keeps_running_beside_partial_exits():
    from freqtrade_posmgmt.mixins.partial_exits import PartialExitMixin
    from freqtrade_posmgmt.partial_manager import PartialExitPolicy

    policy = PartialExitPolicy(
        exit_targets=[0.05],
        exit_sizes=[0.5],
        scale_in_thresholds=[-0.05],
        scale_in_sizes=[0.5],
        max_scale_ins=1,
    )
    own = type("OwnDCA", (PartialExitMixin, UserDCA), {"partial_exit_policy": policy})
    unlimited = type("Unlimited", (own,), {"max_entry_position_adjustment": -1})
    without = type("NoDCA", (PartialExitMixin, Plain), {"partial_exit_policy": policy})
    assert load(own).max_entry_position_adjustment == 3  # the user's 2 and our 1
    assert load(unlimited).max_entry_position_adjustment == -1
    assert load(without).max_entry_position_adjustment == 1
    args = {"current_time": None, "current_rate": 1.0, "current_profit": 0.0, "min_stake": None,
            "max_stake": 100.0, "current_entry_rate": 1.0, "current_exit_rate": 1.0,
            "current_entry_profit": 0.0, "current_exit_profit": 0.0}  # fmt: skip
    # Our policy has nothing to do with this (mocked, open-order) trade: the user's own answers.
    busy = type("Busy", (), {"has_open_orders": True})()
    assert load(own).adjust_trade_position(trade=busy, **args) == (10.0, "own_dca")
    assert load(without).adjust_trade_position(trade=busy, **args) is None


@pytest.mark.parametrize("enabled", ["false", "yes", 1, 0, None])
def test_enabled_must_be_a_boolean(enabled):
    # "false" as a string used to leave the capability on.
    with pytest.raises(PolicyConfigError) as error:
        load(WithLevel, {"level": {"enabled": enabled}})
    assert str(error.value) == (
        f"posmgmt.level.enabled={enabled!r}: must be true or false (a JSON boolean)"
    )
    assert load(WithLevel, {"level": {"enabled": True}}).level == LevelPolicy(0.1)
