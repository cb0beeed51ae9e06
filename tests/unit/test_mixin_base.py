"""The mixin base: policy precedence, feature switches, callback bypass, merge helpers."""

import logging
import math
import pickle
from dataclasses import dataclass
from inspect import getfullargspec
from types import SimpleNamespace

import pandas as pd
import pytest
from freqtrade.strategy import DecimalParameter, IStrategy
from freqtrade.strategy.strategy_wrapper import strategy_safe_wrapper
from hypothesis import given
from hypothesis import strategies as st

from freqtrade_posmgmt.mixins._base import (
    PARAMETERS,
    CallbackDispatcher,
    PolicyConfigError,
    PolicyMixin,
    tightest_stop,
)
from freqtrade_posmgmt.mixins._dispatch import CALLBACKS, is_mixin
from freqtrade_posmgmt.mixins._hooks import CapabilityHooks, StopAnswer
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy


@dataclass(frozen=True)
class LevelPolicy:
    level: float = 0.1

    def __post_init__(self) -> None:
        if self.level <= 0:
            raise ValueError(f"level={self.level}: must be > 0")


class LevelHooks(CapabilityHooks):
    capability = "level"

    def stop(self, request):
        return StopAnswer(-self.policy.level)

    def exit_reason(self, request):
        return "level"


class LevelMixin(PolicyMixin):
    pm_section = "level"
    level_policy = PARAMETERS
    pm_level = DecimalParameter(0.05, 0.5, default=0.1, decimals=2, space="pm_level")

    def pm_refresh(self) -> None:
        super().pm_refresh()
        self.level = self.pm_policy(
            "level", self.level_policy, lambda: LevelPolicy(self.pm_level.value)
        )
        if self.level is not None:
            self.pm_enable("use_custom_stoploss")
            self.pm_add_hooks(LevelHooks(self, self.level))


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
    assert on.custom_exit.function is CallbackDispatcher.custom_exit
    own = load(OwnStoploss)
    assert own.use_custom_stoploss is True
    assert own.custom_exit.__qualname__ == "OwnStoploss.custom_exit"


class RecordingHooks(CapabilityHooks):
    def exit_reason(self, request):
        RecordingMixin.seen.append(request.trade)


class RecordingMixin(PolicyMixin):
    seen: list = []

    def pm_refresh(self) -> None:
        super().pm_refresh()
        self.pm_add_hooks(RecordingHooks(self, None))


class MixinOnly(RecordingMixin, Plain):
    pass


class UserOverride(RecordingMixin, Plain):
    def custom_exit(self, pair, trade, **kwargs):
        return super().custom_exit(pair, trade, **kwargs)


def test_freqtrade_hands_mixins_the_trade_itself_and_user_code_a_copy():
    trade = {"pair": "BTC/USDT"}
    for strategy_class in (MixinOnly, UserOverride):
        strategy = load(strategy_class)
        strategy_safe_wrapper(strategy.custom_exit)(
            pair="BTC/USDT", trade=trade, current_time=None, current_rate=1.0, current_profit=0.0
        )
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


class FailingLevelHooks(LevelHooks):
    def stop(self, request):
        return StopAnswer(-1 / request.current_rate)


class FailingLevelMixin(PolicyMixin):
    pm_section = "level"

    def pm_refresh(self) -> None:
        super().pm_refresh()
        self.pm_enable("use_custom_stoploss")
        self.pm_add_hooks(FailingLevelHooks(self, LevelPolicy()))


class FailingLevel(FailingLevelMixin, Plain):
    pass


def test_a_failing_hook_is_no_opinion_and_logged_once(caplog):
    strategy = load(FailingLevel)
    no_stop_yet = SimpleNamespace(stop_loss=None, is_short=False, leverage=1.0)
    with caplog.at_level(logging.ERROR):
        assert strategy.custom_stoploss("BTC/USDT", no_stop_yet, None, 0.0, 0.0, False) is None
        assert strategy.custom_stoploss("BTC/USDT", no_stop_yet, None, 0.0, 0.0, False) is None
        assert strategy.custom_stoploss("BTC/USDT", no_stop_yet, None, 2.0, 0.0, False) == -0.5
    failed = [r for r in caplog.records if "FailingLevelHooks.stop failed" in r.getMessage()]
    assert len(failed) == 1


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
    no_stop_yet = SimpleNamespace(stop_loss=None, is_short=False, leverage=1.0)
    args = ("BTC/USDT", no_stop_yet, None, 100.0, 0.0)
    assert load(LevelOverUserStop).custom_stoploss(*args, False) == -0.05
    # No after_fill in its signature: Freqtrade never asked it after a fill.
    assert load(LevelOverUserStop).custom_stoploss(*args, True) == -0.3
    assert load(LevelOverUnusedUserStop).custom_stoploss(*args, False) == -0.3
    off = load(LevelOffOverUserStop)
    assert off.use_custom_stoploss is True
    # Switched off, Freqtrade calls the user's own method, with its own signature.
    assert off.custom_stoploss.function is UserStop.custom_stoploss
    assert off._ft_stop_uses_after_fill is False


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


def capability_mixins() -> list[type]:
    from freqtrade_posmgmt.mixins.position_management import PositionManagementMixin

    return [cls for cls in PositionManagementMixin.__mro__ if is_mixin(cls)]


@pytest.mark.parametrize("mixin", capability_mixins(), ids=lambda cls: cls.__name__)
def test_no_capability_mixin_defines_a_freqtrade_callback(mixin):
    # Each callback is defined once, by the dispatcher; capabilities answer through hooks.
    defined = set(vars(mixin)) & {*CALLBACKS, "advise_indicators", "ft_advise_signals",
                                  "informative_pairs"}  # fmt: skip
    if mixin is CallbackDispatcher:
        assert set(CALLBACKS) - {"leverage"} <= defined
    elif mixin is PolicyMixin:
        assert defined == {"ft_advise_signals"}  # the refresh before each backtest's signals
    else:
        assert defined == set()


def test_the_declared_order_not_the_class_bases_orders_the_capabilities():
    from freqtrade_posmgmt.mixins.position_management import PositionManagementMixin
    from freqtrade_posmgmt.mixins.time_exits import TimeExitMixin
    from freqtrade_posmgmt.mixins.trailing_stops import TrailingStopMixin
    from freqtrade_posmgmt.registry import STACK_ORDER

    class Reversed(TrailingStopMixin, TimeExitMixin, Plain):
        trailing_stop_policy = TrailingStopPolicy(atr_multiplier=2.0)

    class Declared(TimeExitMixin, TrailingStopMixin, Plain):
        trailing_stop_policy = TrailingStopPolicy(atr_multiplier=2.0)

    class Everything(PositionManagementMixin, Plain):
        trailing_stop_policy = TrailingStopPolicy(atr_multiplier=2.0)

    def order(cls):
        return [hooks.capability for hooks in load(cls)._pm_hooks]

    assert order(Reversed) == order(Declared) == ["time_exits", "trailing_stop"]
    everything = order(Everything)
    assert everything == [c for c in STACK_ORDER if c in everything]


def test_hooks_travel_with_the_strategy_to_hyperopts_workers():
    # Hyperopt pickles the strategy to each worker (-j 2): its hooks come along, bound to it.
    restored = pickle.loads(pickle.dumps(load(WithLevel)))
    (hooks,) = restored._pm_hooks
    assert hooks.strategy is restored
    assert restored._pm_asked["custom_stoploss"] == (hooks,)
    assert restored.custom_stoploss("BTC/USDT", None, None, 100.0, 0.0, False) == -0.1


@pytest.mark.parametrize(
    ("scale_ins", "expected"),
    [
        ({"scale_in_thresholds": [0.02, 0.05], "scale_in_sizes": [0.25, 0.25]}, 2),
        ({"scale_in_thresholds": [], "scale_in_sizes": []}, 0),
    ],
)
def test_a_config_ladder_of_scale_ins_is_the_ladder_listed(scale_ins, expected):
    """
    The Parameters' policy lists one add: a config section that lists two (or none) must get two
    (or none), not the one the Parameters' ladder allowed, nor an error about a field not set.
    """
    from freqtrade_posmgmt.mixins.partial_exits import PartialExitMixin

    strategy = load(
        type("Ladder", (PartialExitMixin, Plain), {}),
        {"partial_exits": {"exit_targets": [0.04], "exit_sizes": [0.5], **scale_ins}},
    )
    # Freqtrade's own cap on adds is the policy's.
    assert strategy.max_entry_position_adjustment == expected
