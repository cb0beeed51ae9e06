"""
What every position-management mixin shares: policy resolution, feature switches, merge helpers.

A mixin resolves its policy in :meth:`PolicyMixin.pm_refresh`, asks for the Freqtrade features it
needs with :meth:`PolicyMixin.pm_enable` and declares the callbacks it needs with
:meth:`PolicyMixin.pm_use_callbacks`. Everything a switched-off capability would have turned on is
left as the user set it, and its callback overrides are bypassed. Chains made only of mixins are
handed to Freqtrade as :class:`ReadOnlyCallback`, which spares the trade copy Freqtrade makes
before every call of a callback that user code overrides.
"""

import dataclasses
import inspect
import logging
import math
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, Final, TypeVar

from freqtrade.exceptions import OperationalException
from freqtrade.persistence import Trade
from freqtrade.strategy import IStrategy
from freqtrade.strategy.hyper import detect_all_parameters
from pandas import DataFrame

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


class PolicyConfigError(OperationalException):
    """A position-management policy is configured wrongly; stops the strategy at load."""


def tightest_stop(*ratios: float | None) -> float | None:
    """
    Merge ``custom_stoploss`` returns: the smallest distance from the current rate wins.
    None, 0, NaN and infinities mean "no change" to Freqtrade and are ignored.
    :return: the tightest ratio, or None if no ratio asks for a change
    """
    valid = [r for r in ratios if r is not None and r != 0 and math.isfinite(r)]
    return min(valid, key=abs) if valid else None


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


class ReadOnlyCallback:
    """
    A callback chain made only of our mixins (or of IStrategy's defaults), as Freqtrade calls it.

    Freqtrade deep-copies the trade before each call of a callback a strategy overrides, to
    protect itself from strategies that modify it, and skips the copy for IStrategy's own
    defaults, which it recognises by their qualified name. The mixins only read the trade, so a
    chain of theirs carries IStrategy's name and calls ``owner``'s implementation directly.
    """

    def __init__(self, strategy: IStrategy, name: str, owner: type) -> None:
        self.strategy = strategy
        self.function = getattr(owner, name)
        self.__name__ = name
        self.__qualname__ = f"IStrategy.{name}"

    @property
    def __signature__(self) -> inspect.Signature:
        # Freqtrade inspects custom_stoploss for its after_fill parameter.
        return inspect.signature(self.function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(self.strategy, *args, **kwargs)


class PolicyMixin(IStrategy):
    """
    Base class of every position-management mixin. It subclasses ``IStrategy`` because
    hyperopt's pickling (``-j 2``) only handles strategy classes whose bases lead to IStrategy.
    """

    def __init__(self, config: dict) -> None:
        super().__init__(config)
        self._pm_user_features = {
            # IStrategy only annotates use_exit_signal; the resolver defaults it to True.
            name: config.get(name, getattr(self, name, True))
            for name in FEATURE_ATTRIBUTES
        }
        self._pm_parameters = [
            parameter
            for space in detect_all_parameters(type(self)).values()
            for parameter in space.values()
        ]
        self._pm_parameter_values: tuple | None = None
        self.pm_refresh_all()

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
        policy = from_parameters() if class_value is PARAMETERS else class_value
        overrides = self.config.get("posmgmt", {}).get(section, PARAMETERS)
        if overrides is PARAMETERS:
            return policy  # type: ignore[return-value]
        if overrides is None:
            return None
        if not isinstance(overrides, dict):
            raise PolicyConfigError(
                f"posmgmt.{section}={overrides!r}: must be an object of policy fields, or null"
            )
        overrides = dict(overrides)
        if not overrides.pop("enabled", True):
            return None
        base = from_parameters() if policy is None else policy
        known = {f.name for f in dataclasses.fields(base) if f.init}  # type: ignore[arg-type]
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise PolicyConfigError(
                f"posmgmt.{section}.{unknown[0]}: unknown field; known fields: "
                f"{', '.join(sorted(known))}"
            )
        try:
            return dataclasses.replace(base, **overrides)  # type: ignore[type-var]
        except (TypeError, ValueError) as e:
            raise PolicyConfigError(f"posmgmt.{section}: {e}") from e

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

    def _pm_route_callbacks(self) -> None:
        for name in CALLBACKS:
            self.__dict__.pop(name, None)
            definers = [cls for cls in type(self).__mro__ if name in vars(cls)]
            # A mixin is a class that defines pm_refresh; the user's own strategy classes do not.
            if not all("pm_refresh" in vars(cls) or cls is IStrategy for cls in definers):
                continue  # user code is in the chain: Freqtrade keeps protecting its trade
            owner = definers[0] if name in self._pm_active_callbacks else IStrategy
            setattr(self, name, ReadOnlyCallback(self, name, owner))

    def _pm_current_parameter_values(self) -> tuple:
        return tuple(parameter.value for parameter in self._pm_parameters)

    def _pm_refresh_if_parameters_changed(self) -> None:
        if self._pm_current_parameter_values() != self._pm_parameter_values:
            self.pm_refresh_all()

    def ft_bot_start(self, **kwargs) -> None:
        # Parameter values may now come from the strategy's hyperopt result file.
        super().ft_bot_start(**kwargs)
        self._pm_refresh_if_parameters_changed()

    def ft_advise_signals(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        # Backtesting and every hyperopt epoch pass through here before the first candle.
        self._pm_refresh_if_parameters_changed()
        return super().ft_advise_signals(dataframe, metadata)

    def custom_stoploss(
        self,
        pair: str,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        after_fill: bool,
        **kwargs,
    ) -> float | None:
        # IStrategy's default returns self.stoploss, which would act as a trailing stop here.
        return None
