"""
What every position-management mixin shares: policy resolution, feature switches, merge helpers.

A mixin declares its ``posmgmt`` section in ``pm_section``, resolves its policy in
:meth:`PolicyMixin.pm_refresh`, asks for the Freqtrade features it needs with
:meth:`PolicyMixin.pm_enable` and declares the callbacks it needs with
:meth:`PolicyMixin.pm_use_callbacks`. Everything a switched-off capability would have turned on is
left as the user set it, and its callback overrides are bypassed: Freqtrade then calls the user's
own implementation, or IStrategy's default, directly. Chains made only of mixins are handed to
Freqtrade as :class:`ReadOnlyCallback`, which spares the trade copy Freqtrade makes before every
call of a callback that user code overrides. A chain that is on ends in the user's own
implementation (``super()`` from :class:`PolicyMixin` reaches it), asked only where Freqtrade
would have asked it without the mixins.

Stakes are settled in one place, whatever the order of the mixins: a mixin that sizes or caps
stakes registers a step (:meth:`PolicyMixin.pm_size_stakes`, :meth:`PolicyMixin.pm_cap_stakes`)
and :class:`SettledStake` runs them after the whole ``custom_stake_amount`` chain, and after the
whole ``adjust_trade_position`` chain for a positive return (an add): every sizing step first
(their factors multiply), then every cap, so a cap holds whatever a factor did.
"""

import copy
import dataclasses
import inspect
import logging
import math
from collections.abc import Callable
from functools import wraps
from types import MethodType
from typing import Any, Final, TypeVar

from freqtrade.enums import RunMode
from freqtrade.exceptions import OperationalException
from freqtrade.persistence import Trade
from freqtrade.strategy import IStrategy
from freqtrade.strategy.hyper import detect_all_parameters
from freqtrade.strategy.parameters import BaseParameter
from pandas import DataFrame

from freqtrade_posmgmt import notifications
from freqtrade_posmgmt.mixins import _sidecar
from freqtrade_posmgmt.mixins._account import decision_candle
from freqtrade_posmgmt.mixins._decisions import Decision, record_decision
from freqtrade_posmgmt.registry import TIME_EXIT_PREFIX, Capability, DecisionKind
from freqtrade_posmgmt.validation import PolicyValueError, raise_policy_errors_as

logger = logging.getLogger(__name__)

P = TypeVar("P")
F = TypeVar("F", bound=Callable[..., Any])


class _Parameters:
    def __repr__(self) -> str:
        return "PARAMETERS"


PARAMETERS: Final = _Parameters()
"""Class-attribute default meaning: build the policy from the mixin's hyperoptable Parameters."""

# Strategy attributes a mixin may switch on; restored to the user's values before each refresh.
FEATURE_ATTRIBUTES = (
    "use_custom_stoploss",
    "use_exit_signal",
    "position_adjustment_enable",
    "max_entry_position_adjustment",
    "trailing_stop",
    "trailing_stop_positive",
    "trailing_stop_positive_offset",
    "trailing_only_offset_is_reached",
)
# Callbacks Freqtrade calls with a deep copy of the trade whenever the strategy overrides them.
CALLBACKS = (
    "bot_loop_start",
    "custom_stoploss",
    "custom_exit",
    "adjust_trade_position",
    "confirm_trade_entry",
    "confirm_trade_exit",
    "custom_stake_amount",
    "order_filled",
    "leverage",
)
# What Freqtrade makes of each callback when the strategy's own raises (``strategy_safe_wrapper``'s
# default, or IStrategy's "no change" where Freqtrade suppresses the error): a failing user
# callback is "no opinion" for that call. custom_stake_amount's default is the proposed stake.
USER_FAILURE_ANSWERS: dict[str, Any] = {
    "bot_loop_start": None,
    "custom_stoploss": None,
    "custom_exit": None,
    "adjust_trade_position": None,
    "confirm_trade_entry": True,
    "confirm_trade_exit": True,
    "order_filled": None,
}
# The user's switch without which Freqtrade never calls the user's own implementation.
USER_SWITCHES = {
    "custom_stoploss": "use_custom_stoploss",
    "adjust_trade_position": "position_adjustment_enable",
}
POSMGMT_SECTIONS: set[str] = {*Capability, notifications.SECTION}
"""The package's ``posmgmt`` sections, known to every strategy whichever mixins it uses."""


def _calls_super(function: Callable) -> bool:
    """True if ``function``'s code calls ``super()`` (or names it)."""
    code = getattr(function, "__code__", None)
    return code is None or "super" in code.co_names


def is_mixin(cls: type) -> bool:
    """A position-management mixin defines ``pm_refresh``; the user's own strategy classes do not."""
    return "pm_refresh" in vars(cls)


class PolicyConfigError(OperationalException):
    """A position-management policy is configured wrongly; stops the strategy at load."""


class PolicyDefinitionError(PolicyValueError, OperationalException):
    """
    A policy was built with a bad value, e.g. as a strategy class attribute. Freqtrade prints its
    errors in one line; this one is raised while Freqtrade imports the strategy's module.
    """


raise_policy_errors_as(PolicyDefinitionError)


@dataclasses.dataclass(frozen=True)
class Resolution:
    """Where a capability's policy came from."""

    policy: Any
    source: str
    """e.g. ``class attribute trailing_stop_policy``"""
    uses_parameters: bool
    """True when the hyperoptable Parameters feed the policy."""


def tightest_stop(*ratios: float | None) -> float | None:
    """
    Merge ``custom_stoploss`` returns: the smallest distance from the current rate wins.
    None, 0, NaN and infinities mean "no change" to Freqtrade and are ignored.
    :return: the tightest ratio, or None if no ratio asks for a change
    """
    valid = [r for r in ratios if r is not None and r != 0 and math.isfinite(r)]
    return min(valid, key=abs) if valid else None


def loosens_stop(ratio: float | None, trade: Trade, current_rate: float) -> bool:
    """
    True if Freqtrade, given ``ratio`` from ``custom_stoploss`` at ``current_rate``, would place
    the stop below the one in force (above it for shorts).
    """
    if ratio is None or ratio == 0 or not math.isfinite(ratio) or not trade.stop_loss:
        return False
    distance = abs(ratio / (trade.leverage or 1.0))
    if trade.is_short:
        return current_rate * (1 + distance) > trade.stop_loss
    return current_rate * (1 - distance) < trade.stop_loss


def guarded(default: Any) -> Callable[[F], F]:
    """
    Keep a mixin's decision method from raising into Freqtrade mid-trade: the first failure of
    each method is logged with its traceback, and every failure returns ``default`` ("no change").
    """

    def decorate(method: F) -> F:
        @wraps(method)
        def wrapper(self: IStrategy, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except Exception:
                logged = self.__dict__.setdefault("_pm_failed_methods", set())
                if method.__qualname__ not in logged:
                    logged.add(method.__qualname__)
                    logger.exception(
                        "%s failed; position management makes no change here",
                        method.__qualname__,
                    )
                return default

        return wrapper  # type: ignore[return-value]

    return decorate


def ask_user(strategy: IStrategy, function: Callable, name: str, kwargs: dict) -> Any:
    """
    Call the strategy's own ``name`` (``function``) with ``kwargs``, isolated: if it raises, the
    call answers what Freqtrade would have made of the failure ("no opinion", see
    :data:`USER_FAILURE_ANSWERS`), so the mixins' answers in the same callback still count. The
    first failure of each callback is logged with its traceback, naming the user's method.
    """
    try:
        return function(**kwargs)
    except Exception:
        answer = (
            kwargs.get("proposed_stake")
            if name == "custom_stake_amount"
            else USER_FAILURE_ANSWERS.get(name)
        )
        failed = strategy.__dict__.setdefault("_pm_failed_user_callbacks", set())
        if name not in failed:
            failed.add(name)
            logger.exception(
                "%s failed; Freqtrade's default (%r) stands for it on each call where it fails, "
                "and position management's answers still count (logged once)",
                getattr(function, "__qualname__", name),
                answer,
            )
        return answer


class DirectCallback:
    """
    A callback as Freqtrade calls it, routed straight to ``owner``'s implementation. Unlike a
    bound method it pickles by reference, as hyperopt's workers (``-j 2``) need.
    """

    def __init__(self, strategy: IStrategy, name: str, owner: type) -> None:
        self.strategy = strategy
        self.function = getattr(owner, name)
        self.__name__ = name
        self.__qualname__ = self.function.__qualname__

    @property
    def __signature__(self) -> inspect.Signature:
        # Freqtrade inspects custom_stoploss for its after_fill parameter.
        return inspect.signature(self.function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(self.strategy, *args, **kwargs)


class ReadOnlyCallback(DirectCallback):
    """
    A callback chain made only of our mixins (or of IStrategy's defaults), as Freqtrade calls it.

    Freqtrade deep-copies the trade before each call of a callback a strategy overrides, to
    protect itself from strategies that modify it, and skips the copy for IStrategy's own
    defaults, which it recognises by their qualified name. The mixins only read the trade, so a
    chain of theirs carries IStrategy's name and calls ``owner``'s implementation directly.
    """

    def __init__(self, strategy: IStrategy, name: str, owner: type) -> None:
        super().__init__(strategy, name, owner)
        self.__qualname__ = f"IStrategy.{name}"


STAKE_CALLBACKS = ("custom_stake_amount", "adjust_trade_position")


class SettledStake:
    """
    ``custom_stake_amount`` or ``adjust_trade_position`` as Freqtrade calls it: the chain as
    routed, then the strategy's registered stake steps on a positive stake (sizers, then caps).
    A step takes ``(pair, side, current_time, stake, min_stake, max_stake, leverage, scale_in)``
    and returns the new stake, 0 to refuse. A step's decision is final: a stake refused (0)
    stays refused.
    """

    def __init__(self, strategy: IStrategy, name: str) -> None:
        self.strategy = strategy
        # The routed callback, or None for the class's own chain (user code in it).
        self.routed: DirectCallback | None = strategy.__dict__.get(name)
        self.__name__ = name
        # Freqtrade copies the trade for user code only: keep the chain's name.
        self.__qualname__ = (self.routed or getattr(type(strategy), name)).__qualname__
        self._scale_in = name == "adjust_trade_position"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs = as_keywords(self.__name__, args, kwargs)
        # The user's own code may be reached here directly: its failure must not void the steps.
        chain = self.routed or MethodType(
            getattr(type(self.strategy), self.__name__), self.strategy
        )
        result = ask_user(self.strategy, chain, self.__name__, kwargs)
        if not self._scale_in:
            if not result or result <= 0:
                return result  # the strategy's own "no trade" stands
            return self._settle(
                kwargs["pair"], kwargs["side"], kwargs["leverage"], float(result), kwargs, False
            )
        stake, tag = result if isinstance(result, tuple) else (result, None)
        if stake is None or stake <= 0:
            return result  # exits and "no change" pass untouched
        trade = kwargs["trade"]
        side = "short" if trade.is_short else "long"
        settled = self._settle(trade.pair, side, trade.leverage or 1.0, stake, kwargs, True)
        if settled == stake:
            return result
        if settled <= 0:
            return None
        return (settled, tag) if isinstance(result, tuple) else settled

    def _settle(
        self, pair: str, side: str, leverage: float, stake: float, kwargs: dict, scale_in: bool
    ) -> float:
        strategy = self.strategy
        for name in (*strategy._pm_stake_sizers, *strategy._pm_stake_caps):
            stake = getattr(strategy, name)(
                pair,
                side,
                kwargs["current_time"],
                stake,
                kwargs.get("min_stake"),
                kwargs["max_stake"],
                leverage,
                scale_in,
            )
            if not stake or stake <= 0:
                return 0.0
        return stake


_SIGNATURES = {name: inspect.signature(getattr(IStrategy, name)) for name in CALLBACKS}


def as_keywords(name: str, args: tuple, kwargs: dict) -> dict:
    """The arguments of a call of callback ``name`` as keywords, as Freqtrade passes them."""
    if not args:
        return kwargs
    bound = _SIGNATURES[name].bind(None, *args, **kwargs).arguments
    bound.pop("self")
    bound.update(bound.pop("kwargs", {}))
    return bound


class PolicyMixin(IStrategy):
    """
    Base class of every position-management mixin. It subclasses ``IStrategy`` because
    hyperopt's pickling (``-j 2``) only handles strategy classes whose bases lead to IStrategy.
    """

    pm_section: str | None = None
    """The capability's section under ``posmgmt`` in config.json; set by each capability mixin."""

    def __init__(self, config: dict) -> None:
        self._pm_own_parameters()
        super().__init__(config)
        self._pm_user_features = {
            # IStrategy only annotates use_exit_signal; the resolver defaults it to True.
            name: config.get(name, getattr(self, name, True))
            for name in FEATURE_ATTRIBUTES
        }
        self._pm_user_stop = self._pm_user_implementation("custom_stoploss")
        self._pm_user_stop_after_fill = self._pm_user_stop is not None and (
            "after_fill" in inspect.getfullargspec(self._pm_user_stop).args
        )
        self._pm_parameters = [
            parameter
            for space in detect_all_parameters(self).values()
            for parameter in space.values()
        ]
        self._pm_parameter_values: tuple | None = None
        self._pm_logged = False
        posmgmt = config.get("posmgmt", {})
        if not isinstance(posmgmt, dict):
            raise PolicyConfigError(f"posmgmt={posmgmt!r}: must be an object of sections")
        self.pm_refresh_all()
        self._pm_check_sections()
        self._pm_check_hyperopt_spaces()
        self._pm_warn_bypassed_callbacks()

    def pm_timeframe(self) -> str:
        """
        The strategy's timeframe, also while it loads: a strategy may leave ``timeframe`` to
        config.json, which Freqtrade's resolver sets on it only after ``__init__``.
        """
        return getattr(self, "timeframe", None) or self.config["timeframe"]

    def _pm_own_parameters(self) -> None:
        """
        Give this strategy its own copy of each mixin Parameter, at the value it was declared
        with. Freqtrade loads values into Parameter objects, which are class attributes: a
        mixin's are shared by every strategy class built on it, so one strategy's hyperopt
        result or epoch would otherwise leak into the next strategy loaded in the same process
        (``--strategy-list``, tests).
        """
        cls = type(self)
        for owner in cls.__mro__:
            if not is_mixin(owner):
                continue
            for name, declared in vars(owner).items():
                if isinstance(declared, BaseParameter) and getattr(cls, name) is declared:
                    # Captured before any strategy of this process loaded a value into it.
                    value = declared.__dict__.setdefault("_pm_declared_value", declared.value)
                    own = copy.copy(declared)
                    own.value = value
                    setattr(self, name, own)

    def pm_refresh(self) -> None:
        """
        Resolve this mixin's policy and switch on what it needs. Overrides call
        ``super().pm_refresh()`` first. Runs at strategy load and once per backtest or hyperopt
        epoch, so hyperopt's sampled Parameter values take effect.
        """

    def pm_refresh_all(self) -> None:
        """Re-resolve every mixin's policy from scratch."""
        for name, value in self._pm_user_features.items():
            setattr(self, name, value)
        self._pm_enabled: dict[str, Any] = {}
        self._pm_active_callbacks: set[str] = set()
        self._pm_resolved: dict[str, Resolution] = {}
        self._pm_stake_sizers: list[str] = []
        self._pm_stake_caps: list[str] = []
        self.pm_refresh()
        for name, value in self._pm_enabled.items():
            setattr(self, name, value)
        self._pm_route_callbacks()
        self._pm_parameter_values = self._pm_current_parameter_values()

    def pm_policy(
        self, section: str, class_value: P | None | _Parameters, from_parameters: Callable[[], P]
    ) -> P | None:
        """
        Resolve a policy in Freqtrade's order of precedence: the mixin's Parameters, then the
        strategy's class attribute, then ``config["posmgmt"][section]``.
        :param section: the key under ``posmgmt`` in config.json, e.g. ``"trailing_stop"``
        :param class_value: the strategy's class attribute: a policy, None (off) or PARAMETERS
        :param from_parameters: builds the policy from the Parameters' current values
        :return: the policy, or None when the capability is switched off
        """
        resolution = self._pm_resolve(section, class_value, from_parameters)
        self._pm_resolved[section] = resolution
        return resolution.policy

    def _pm_resolve(
        self, section: str, class_value: Any, from_parameters: Callable[[], Any]
    ) -> Resolution:
        attribute = f"class attribute {self._pm_policy_attribute(section)}"
        if class_value is PARAMETERS:
            policy, source = from_parameters(), "Parameters"
        else:
            policy, source = class_value, attribute + (" = None" if class_value is None else "")
        overrides = self.config.get("posmgmt", {}).get(section, PARAMETERS)
        if overrides is PARAMETERS:
            return Resolution(policy, source, class_value is PARAMETERS)
        if overrides is None:
            return Resolution(None, f"posmgmt.{section}=null in config", False)
        if not isinstance(overrides, dict):
            raise PolicyConfigError(
                f"posmgmt.{section}={overrides!r}: must be an object of policy fields, or null"
            )
        overrides = dict(overrides)
        enabled = overrides.pop("enabled", True)
        if not isinstance(enabled, bool):
            # "false" (a string) is truthy: it would leave the capability on.
            raise PolicyConfigError(
                f"posmgmt.{section}.enabled={enabled!r}: must be true or false (a JSON boolean)"
            )
        if not enabled:
            return Resolution(None, f"posmgmt.{section}.enabled=false in config", False)
        uses_parameters = policy is None or class_value is PARAMETERS
        base = from_parameters() if policy is None else policy
        known = {f.name for f in dataclasses.fields(base) if f.init}  # type: ignore[arg-type]
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise PolicyConfigError(
                f"posmgmt.{section}.{unknown[0]}: unknown field; known fields: "
                f"{', '.join(sorted(known))}"
            )
        try:
            policy = dataclasses.replace(base, **overrides)
        except (TypeError, ValueError) as e:
            raise PolicyConfigError(f"posmgmt.{section}: {e}") from e
        over = "Parameters" if uses_parameters else attribute
        return Resolution(policy, f"posmgmt.{section} in config over {over}", uses_parameters)

    def _pm_capabilities(self) -> list[type]:
        """The capability mixins of this strategy (those declaring a section), outermost first."""
        return [cls for cls in type(self).__mro__ if vars(cls).get("pm_section")]

    def _pm_policy_attribute(self, section: str) -> str:
        for cls in self._pm_capabilities():
            if cls.pm_section == section:
                for name, value in vars(cls).items():
                    if value is PARAMETERS:
                        return name
        return "policy"

    def _pm_check_sections(self) -> None:
        posmgmt = self.config.get("posmgmt", {})
        known = POSMGMT_SECTIONS | set(self._pm_resolved)
        known |= {cls.pm_section for cls in self._pm_capabilities()}
        unknown = sorted(set(posmgmt) - known)
        if unknown:
            raise PolicyConfigError(
                f"posmgmt.{unknown[0]}: unknown section; known sections: {', '.join(sorted(known))}"
            )
        try:
            notifications.settings_from_config(self.config)
        except ValueError as e:
            raise PolicyConfigError(str(e)) from None

    def _pm_check_hyperopt_spaces(self) -> None:
        """Stop a hyperopt that asks for a space whose Parameters cannot change the policy."""
        if self.config.get("runmode") != RunMode.HYPEROPT:
            return
        asked = set(self.config.get("spaces") or ())
        for cls in self._pm_capabilities():
            resolution = self._pm_resolved.get(cls.pm_section)
            if resolution is None or (resolution.uses_parameters and resolution.policy):
                continue
            spaces = {v.space for v in vars(cls).values() if isinstance(v, BaseParameter)}
            state = "is switched off" if resolution.policy is None else "takes its policy"
            attribute = self._pm_policy_attribute(cls.pm_section)
            fixes = []
            if resolution.source.startswith("posmgmt.") and resolution.policy is None:
                fixes.append(f"remove posmgmt.{cls.pm_section} from the config")
            if getattr(self, attribute, PARAMETERS) is not PARAMETERS:
                fixes.append(f"remove the class attribute {attribute}")
            for space in sorted(s for s in spaces if s):
                if space in asked:
                    raise PolicyConfigError(
                        f"hyperopt space {space}: {cls.__name__} {state} from {resolution.source}, "
                        f"so its Parameters change nothing: {' and '.join(fixes)} to tune them, "
                        f"or leave {space} out of --spaces"
                    )
                if asked & {"all", "default"}:
                    logger.warning(
                        "hyperopt space %s is not tuned: %s %s from %s",
                        space,
                        cls.__name__,
                        state,
                        resolution.source,
                    )

    def _pm_log_policies(self) -> None:
        for cls in self._pm_capabilities():
            resolution = self._pm_resolved.get(cls.pm_section)
            if resolution is None:
                continue
            source = resolution.source
            if source == "Parameters" and not any(
                isinstance(value, BaseParameter) for value in vars(cls).values()
            ):
                source = "defaults"
            if resolution.policy is None:
                logger.info("%s: switched off by %s", cls.__name__, source)
            else:
                logger.info("%s: policy from %s: %r", cls.__name__, source, resolution.policy)

    def pm_enable(self, attribute: str, value: Any = True) -> None:
        """
        Ask for a Freqtrade feature, e.g. ``pm_enable("use_custom_stoploss")``. Booleans are
        or-ed across mixins; other values are set as given.
        """
        if attribute not in FEATURE_ATTRIBUTES:
            raise ValueError(f"{attribute} is not a switchable strategy attribute")
        if isinstance(value, bool):
            value = value or bool(self._pm_enabled.get(attribute, getattr(self, attribute)))
        self._pm_enabled[attribute] = value

    def pm_use_callbacks(self, mixin: type) -> None:
        """Mark the callbacks ``mixin`` overrides as needed (its capability is on)."""
        self._pm_active_callbacks.update(name for name in CALLBACKS if name in vars(mixin))

    def pm_watch_exits(self) -> None:
        """
        Count the capability's exits the strategy's own ``confirm_trade_exit`` refuses (see
        :meth:`confirm_trade_exit`); for a capability whose exits Freqtrade confirms.
        """
        self._pm_active_callbacks.add("confirm_trade_exit")

    def pm_exit_capability(self, trade: Trade, exit_reason: str) -> str | None:
        """
        The capability whose exit ``exit_reason`` is, None for the strategy's own. Mixins that
        set stops extend it: a stop exit is theirs when their stop is the one in force.
        """
        if exit_reason.startswith(TIME_EXIT_PREFIX):
            return Capability.TIME_EXITS
        trailing = self._pm_resolved.get(Capability.TRAILING_STOP)
        if exit_reason == "trailing_stop_loss" and trailing is not None and trailing.policy:
            return Capability.TRAILING_STOP  # also Freqtrade's own trail, compiled from ours
        return None

    def _pm_warn_bypassed_callbacks(self) -> None:
        """
        A callback defined in a class placed before the mixins, without ``super()``, is called
        by Freqtrade instead of the mixins' chain: the capabilities on it never run. Say so.
        """
        mro = type(self).__mro__
        first = next(index for index, cls in enumerate(mro) if is_mixin(cls))
        for name in sorted(self._pm_active_callbacks):
            skipped = [
                cls.__name__
                for cls in mro[first:]
                if is_mixin(cls) and cls is not PolicyMixin and name in vars(cls)
            ]
            for cls in mro[:first]:
                function = vars(cls).get(name)
                if skipped and function is not None and not _calls_super(function):
                    logger.warning(
                        "%s.%s does not call super().%s(...), so %s never run: call it there "
                        "and merge its answer, or move %s into a base class placed after the "
                        "mixins (class %s(<mixins>, YourBase))",
                        cls.__name__,
                        name,
                        name,
                        " and ".join(f"{mixin}.{name}" for mixin in skipped),
                        name,
                        type(self).__name__,
                    )
                    break

    def pm_size_stakes(self, step: str) -> None:
        """
        Run the method named ``step`` on every positive stake, initial and add, before the caps
        (see :class:`SettledStake`). Sizing steps run in registration order: factors multiply.
        """
        self._pm_stake_sizers.append(step)

    def pm_cap_stakes(self, step: str) -> None:
        """
        Run the method named ``step`` on every positive stake, initial and add, after every
        sizing step (see :class:`SettledStake`): its cap holds whatever a sizer did.
        """
        self._pm_stake_caps.append(step)

    def _pm_route_callbacks(self) -> None:
        for name in CALLBACKS:
            self.__dict__.pop(name, None)
            definers = [cls for cls in type(self).__mro__ if name in vars(cls)]
            users = [cls for cls in definers if not is_mixin(cls) and cls is not IStrategy]
            active = name in self._pm_active_callbacks
            if not users:
                owner = definers[0] if active else IStrategy
                setattr(self, name, ReadOnlyCallback(self, name, owner))
            elif not active and is_mixin(definers[0]):
                # Switched off: Freqtrade calls the user's own code, exactly as without us.
                setattr(self, name, DirectCallback(self, name, users[0]))
            # Otherwise the class's own chain runs, and Freqtrade hands user code a copy of the trade.
        if self._pm_stake_sizers or self._pm_stake_caps:
            for name in STAKE_CALLBACKS:
                setattr(self, name, SettledStake(self, name))
        # Freqtrade calls custom_stoploss after fills only if it takes after_fill (resolver).
        self._ft_stop_uses_after_fill = (
            "custom_stoploss" in self._pm_active_callbacks or self._pm_user_stop_after_fill
        )

    def _pm_user_implementation(self, name: str) -> Callable | None:
        """The user's own ``name`` that ``super()`` from PolicyMixin reaches, if any."""
        mro = type(self).__mro__
        for cls in mro[mro.index(PolicyMixin) + 1 :]:
            if name in vars(cls):
                return None if cls is IStrategy else vars(cls)[name]
        return None

    def _pm_asks_user(self, name: str) -> bool:
        """True if Freqtrade, without the mixins, would call the user's own ``name``."""
        return self._pm_user_features[USER_SWITCHES[name]] and (
            name != "custom_stoploss" or self._pm_user_stop is not None
        )

    def pm_merge_stops(
        self,
        ours: float | None,
        theirs: float | None,
        trade: Trade,
        current_rate: float,
        after_fill: bool,
    ) -> float | None:
        """
        Merge a mixin's own ``custom_stoploss`` answer with the rest of the chain's: the tightest
        wins. Freqtrade lets the call after a fill move the stop either way: there a mixin's own
        answer never lowers the stop in force, whoever set it, and never lets another lower it.
        :param ours: the mixin's own ratio, None for no opinion
        :param theirs: what ``super().custom_stoploss`` returned
        """
        if after_fill and ours is not None and loosens_stop(ours, trade, current_rate):
            return None if loosens_stop(theirs, trade, current_rate) else theirs
        return ours if theirs is None else tightest_stop(ours, theirs)

    def _pm_current_parameter_values(self) -> tuple:
        return tuple(parameter.value for parameter in self._pm_parameters)

    def _pm_refresh_if_parameters_changed(self) -> None:
        if self._pm_current_parameter_values() != self._pm_parameter_values:
            self.pm_refresh_all()

    def ft_bot_start(self, **kwargs) -> None:
        # Parameter values may now come from the strategy's hyperopt result file.
        super().ft_bot_start(**kwargs)
        self._pm_refresh_if_parameters_changed()
        # The resolver may have switched after-fill calls on since the routing decided.
        self._pm_route_callbacks()
        if not self._pm_logged:
            self._pm_logged = True
            self._pm_log_policies()
        # A backtest's decisions go next to its exported result, for the report.
        _sidecar.register(self)

    def ft_advise_signals(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        # Backtesting and every hyperopt epoch pass through here before the first candle.
        self._pm_refresh_if_parameters_changed()
        return super().ft_advise_signals(dataframe, metadata)

    # The end of every chain: the user's own callback, asked isolated (see ask_user). Mixins may
    # call super() with positional arguments, as IStrategy's signatures allow.

    def custom_stoploss(self, *args: Any, **kwargs: Any) -> float | None:
        # IStrategy's default returns self.stoploss, which would act as a trailing stop here: only
        # a user's own stop is asked, and only where Freqtrade would have asked it without us.
        kwargs = as_keywords("custom_stoploss", args, kwargs)
        if not self._pm_asks_user("custom_stoploss") or (
            kwargs["after_fill"] and not self._pm_user_stop_after_fill
        ):
            return None
        return self._pm_ask_user("custom_stoploss", kwargs=kwargs)

    def adjust_trade_position(self, *args: Any, **kwargs: Any) -> float | tuple | None:
        # The user's own position adjustment runs only if the user switched it on.
        if not self._pm_asks_user("adjust_trade_position"):
            return None
        return self._pm_ask_user("adjust_trade_position", args, kwargs)

    def custom_exit(self, *args: Any, **kwargs: Any) -> str | bool | None:
        return self._pm_ask_user("custom_exit", args, kwargs)

    def confirm_trade_entry(self, *args: Any, **kwargs: Any) -> bool:
        return self._pm_ask_user("confirm_trade_entry", args, kwargs)

    def bot_loop_start(self, *args: Any, **kwargs: Any) -> None:
        self._pm_ask_user("bot_loop_start", args, kwargs)

    def order_filled(self, *args: Any, **kwargs: Any) -> None:
        self._pm_ask_user("order_filled", args, kwargs)

    def confirm_trade_exit(self, *args: Any, **kwargs: Any) -> bool:
        # Freqtrade confirms stop and custom exits; an exit of ours the strategy refuses is a
        # decision like any other, logged and counted.
        kwargs = as_keywords("confirm_trade_exit", args, kwargs)
        confirmed = self._pm_ask_user("confirm_trade_exit", kwargs=kwargs)
        if not confirmed:
            self._pm_exit_refused(kwargs)
        return confirmed

    @guarded(None)
    def _pm_exit_refused(self, kwargs: dict) -> None:
        trade, reason = kwargs["trade"], str(kwargs.get("exit_reason"))
        capability = self.pm_exit_capability(trade, reason)
        if capability is None:
            return
        refuser = getattr(super().confirm_trade_exit, "__qualname__", "confirm_trade_exit")
        candle = decision_candle(self.timeframe, kwargs["current_time"])
        decision = Decision(
            capability, DecisionKind.EXIT_REFUSED, f"{reason} refused by {refuser}", 0.0,
            kwargs["pair"], candle,
        )  # fmt: skip
        record_decision(self, decision)

    def _pm_ask_user(self, name: str, args: tuple = (), kwargs: dict | None = None) -> Any:
        """The user's own ``name`` (IStrategy's default without one), isolated."""
        return ask_user(self, getattr(super(), name), name, as_keywords(name, args, kwargs or {}))
