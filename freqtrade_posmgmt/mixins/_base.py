"""
What every position-management mixin shares: policy resolution and feature switches.

A mixin declares its ``posmgmt`` section in ``pm_section``, its hyperoptable Parameters and its
policy class attribute; its :meth:`PolicyMixin.pm_refresh` resolves the policy
(:meth:`PolicyMixin.pm_policy`), asks for the Freqtrade features it needs
(:meth:`PolicyMixin.pm_enable`) and, while the capability is on, hands the dispatcher its hooks
object (:meth:`~._dispatch.CallbackDispatcher.pm_add_hooks`). Everything a switched-off
capability would have turned on is left as the user set it, and it has no hooks: Freqtrade then
calls the user's own implementation, or IStrategy's default, directly. The callbacks themselves
are answered once, by the dispatcher (``_dispatch.py``).
"""

import copy
import dataclasses
import inspect
import logging
from collections.abc import Callable
from typing import Any, Final, TypeVar

from freqtrade.enums import RunMode
from freqtrade.exceptions import OperationalException
from freqtrade.strategy.hyper import detect_all_parameters
from freqtrade.strategy.parameters import BaseParameter
from pandas import DataFrame

from freqtrade_posmgmt import notifications
from freqtrade_posmgmt.merge import tightest_stop  # noqa: F401 - imported from here since 0.1
from freqtrade_posmgmt.mixins import _sidecar
from freqtrade_posmgmt.mixins._dispatch import (
    FEATURE_ATTRIBUTES,
    CallbackDispatcher,
    is_mixin,
)
from freqtrade_posmgmt.mixins._hooks import CapabilityHooks
from freqtrade_posmgmt.registry import Capability
from freqtrade_posmgmt.validation import PolicyValueError, raise_policy_errors_as

logger = logging.getLogger(__name__)

P = TypeVar("P")


class _Parameters:
    def __repr__(self) -> str:
        return "PARAMETERS"


PARAMETERS: Final = _Parameters()
"""Class-attribute default meaning: build the policy from the mixin's hyperoptable Parameters."""

POSMGMT_SECTIONS: set[str] = {*Capability, notifications.SECTION}
"""The package's ``posmgmt`` sections, known to every strategy whichever mixins it uses."""


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


class PolicyMixin(CallbackDispatcher):
    """
    Base class of every position-management mixin. It subclasses ``IStrategy`` because
    hyperopt's pickling (``-j 2``) only handles strategy classes whose bases lead to IStrategy.
    """

    pm_section: str | None = None
    """The capability's section under ``posmgmt`` in config.json; set by each capability mixin."""

    def __init__(self, config: dict) -> None:
        self._pm_own_parameters()
        super().__init__(config)
        self.pm_user_features = {
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
        for name, value in self.pm_user_features.items():
            setattr(self, name, value)
        self._pm_enabled: dict[str, Any] = {}
        self._pm_active_callbacks: set[str] = set()
        self._pm_resolved: dict[str, Resolution] = {}
        self._pm_new_hooks: list[CapabilityHooks] = []
        self.pm_refresh()
        self._pm_install_hooks(
            self._pm_new_hooks, [cls.pm_section for cls in self.pm_capabilities()]
        )
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

    def pm_capabilities(self) -> list[type]:
        """The capability mixins of this strategy (those declaring a section), outermost first."""
        return [cls for cls in type(self).__mro__ if vars(cls).get("pm_section")]

    def pm_resolved_policies(self) -> dict[str, Resolution]:
        """Each capability's resolved policy (None: off) and where it came from, by section."""
        return dict(self.__dict__.get("_pm_resolved", {}))

    def _pm_policy_attribute(self, section: str) -> str:
        for cls in self.pm_capabilities():
            if cls.pm_section == section:
                for name, value in vars(cls).items():
                    if value is PARAMETERS:
                        return name
        return "policy"

    def _pm_check_sections(self) -> None:
        posmgmt = self.config.get("posmgmt", {})
        known = POSMGMT_SECTIONS | set(self._pm_resolved)
        known |= {cls.pm_section for cls in self.pm_capabilities()}
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
        for cls in self.pm_capabilities():
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
        for cls in self.pm_capabilities():
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
        dataframe = super().ft_advise_signals(dataframe, metadata)
        for hooks in self._pm_hooks:
            hooks.on_signals(dataframe, metadata["pair"])
        return dataframe
