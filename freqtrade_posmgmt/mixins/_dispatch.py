"""
The dispatcher: each Freqtrade callback the package answers, defined once.

A capability that is on answers through its hooks object (:mod:`._hooks`); the dispatcher asks
the hooks of the capabilities that are on, in the registry's declared order
(``registry.STACK_ORDER``; a capability of the user's own after ours), merges their answers with
one function per rule (:mod:`freqtrade_posmgmt.merge`), and asks the strategy's own callback
exactly where Freqtrade would have asked it, isolated (:func:`ask_user`). A hook that raises is
"no opinion" for that call, logged once.

Routing spares what the dispatcher does not need: at each refresh, a callback no capability on
needs is handed to Freqtrade as the user's own implementation (:class:`DirectCallback`), or as
IStrategy's default; a callback some capability needs, of a strategy without its own
implementation, is handed over as a :class:`ReadOnlyCallback`, which spares the trade copy
Freqtrade makes before every call of a callback that user code overrides.
"""

import dataclasses
import inspect
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from freqtrade.persistence import Order, Trade
from freqtrade.strategy import IStrategy
from pandas import DataFrame

from freqtrade_posmgmt.merge import (
    every_consent,
    first_reason,
    loosens_stop,
    merged_stop,
    settled_stake,
)
from freqtrade_posmgmt.mixins._account import decision_candle
from freqtrade_posmgmt.mixins._decisions import Decision, record_decision
from freqtrade_posmgmt.mixins._hooks import (
    AdjustRequest,
    CapabilityHooks,
    EntryRequest,
    ExitRequest,
    StakeRequest,
    StopRequest,
)
from freqtrade_posmgmt.mixins._stop_sources import StopSources
from freqtrade_posmgmt.registry import (
    STACK_ORDER,
    TIME_EXIT_PREFIX,
    Capability,
    DecisionKind,
)

logger = logging.getLogger(__name__)

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


def _calls_super(function: Callable) -> bool:
    """True if ``function``'s code calls ``super()`` (or names it)."""
    code = getattr(function, "__code__", None)
    return code is None or "super" in code.co_names


def is_mixin(cls: type) -> bool:
    """
    A position-management mixin defines ``pm_refresh`` (the dispatcher ``pm_add_hooks``); the
    user's own strategy classes do not.
    """
    return "pm_refresh" in vars(cls) or "pm_add_hooks" in vars(cls)


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


def declared_order(hooks: Iterable[CapabilityHooks], sections: list[str]) -> list[CapabilityHooks]:
    """
    ``hooks`` in the order the dispatcher asks them: the registry's ``STACK_ORDER``, then the
    capabilities of the user's own in ``sections``' order (their mixins, outermost first).
    """
    rank = {
        section: index for index, section in enumerate(dict.fromkeys((*STACK_ORDER, *sections)))
    }
    return sorted(hooks, key=lambda hook: rank.get(hook.capability, len(rank)))


class CallbackDispatcher(IStrategy):
    """
    Answers each Freqtrade callback once, from the hooks of the capabilities that are on (see
    the module's docstring). Base of :class:`~freqtrade_posmgmt.mixins._base.PolicyMixin`.
    """

    # Set at each refresh (PolicyMixin.pm_refresh_all).
    _pm_hooks: tuple[CapabilityHooks, ...] = ()
    _pm_asked: dict[str, tuple[CapabilityHooks, ...]] = {}
    _pm_stop_sources: StopSources | None = None

    def pm_add_hooks(self, hooks: CapabilityHooks) -> None:
        """Have the dispatcher ask ``hooks`` (a capability that is on; call in ``pm_refresh``)."""
        self._pm_new_hooks.append(hooks)

    def pm_hooks(self, capability: str) -> CapabilityHooks | None:
        """The hooks object (policy and runtime state) of ``capability``, None while it is off."""
        return next((h for h in self._pm_hooks if h.capability == capability), None)

    def pm_stop_source(self, trade: Trade) -> tuple[datetime, float, str] | None:
        """The tightest stop a capability recorded for ``trade``: (open date, stop, rule)."""
        return None if self._pm_stop_sources is None else self._pm_stop_sources.recorded_stop(trade)

    def _pm_install_hooks(self, hooks: list[CapabilityHooks], sections: list[str]) -> None:
        """Order the capabilities' hooks, and note which callbacks each needs."""
        self._pm_hooks = tuple(declared_order(hooks, sections))
        needs = {id(hook): hook.callbacks() for hook in self._pm_hooks}
        self._pm_asked = {
            name: tuple(h for h in self._pm_hooks if name in needs[id(h)]) for name in CALLBACKS
        }
        self._pm_active_callbacks.update(name for name, asked in self._pm_asked.items() if asked)
        names_stops = any(hook.names_stops for hook in self._pm_asked["custom_stoploss"])
        self._pm_stop_sources = StopSources(self) if names_stops else None
        if names_stops:
            self._pm_active_callbacks.add("order_filled")  # to tag a filled stop's exit

    def pm_exit_capability(self, trade: Trade, exit_reason: str) -> str | None:
        """
        The capability whose exit ``exit_reason`` is, None for the strategy's own: a stop exit is
        a capability's when its rule set the stop in force.
        """
        if self._pm_stop_sources is not None:
            capability = self._pm_stop_sources.exit_capability(trade, exit_reason)
            if capability is not None:
                return capability
        if exit_reason.startswith(TIME_EXIT_PREFIX):
            return Capability.TIME_EXITS
        trailing = self._pm_resolved.get(Capability.TRAILING_STOP)
        if exit_reason == "trailing_stop_loss" and trailing is not None and trailing.policy:
            return Capability.TRAILING_STOP  # also Freqtrade's own trail, compiled from ours
        return None

    def _pm_warn_bypassed_callbacks(self) -> None:
        """
        A callback defined in a class placed before the mixins, without ``super()``, is called
        by Freqtrade instead of the dispatcher: the capabilities on it never run. Say so.
        """
        mro = type(self).__mro__
        first = next(index for index, cls in enumerate(mro) if is_mixin(cls))
        mixins = {cls.pm_section: cls.__name__ for cls in self.pm_capabilities()}
        for name in sorted(self._pm_active_callbacks):
            skipped = [
                f"{mixins.get(h.capability, type(h).__name__)}.{name}"
                for h in self._pm_asked.get(name, ())
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
                        " and ".join(skipped),
                        name,
                        type(self).__name__,
                    )
                    break

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
        # Freqtrade calls custom_stoploss after fills only if it takes after_fill (resolver).
        self._ft_stop_uses_after_fill = (
            "custom_stoploss" in self._pm_active_callbacks or self._pm_user_stop_after_fill
        )

    def _pm_user_implementation(self, name: str) -> Callable | None:
        """The user's own ``name`` that ``super()`` from the dispatcher reaches, if any."""
        mro = type(self).__mro__
        for cls in mro[mro.index(CallbackDispatcher) + 1 :]:
            if name in vars(cls):
                return None if cls is IStrategy else vars(cls)[name]
        return None

    def _pm_asks_user(self, name: str) -> bool:
        """True if Freqtrade, without the mixins, would call the user's own ``name``."""
        return self.pm_user_features[USER_SWITCHES[name]] and (
            name != "custom_stoploss" or self._pm_user_stop is not None
        )

    def _pm_ask_user(self, name: str, kwargs: dict) -> Any:
        """The user's own ``name`` (IStrategy's default without one), isolated."""
        return ask_user(self, getattr(super(), name), name, kwargs)

    def _pm_ask_user_with(self, name: str, request: Any, kwargs: dict) -> Any:
        """The user's own ``name``, asked with the request's fields (Freqtrade's arguments)."""
        arguments = {
            field.name: getattr(request, field.name) for field in dataclasses.fields(request)
        }
        return self._pm_ask_user(name, arguments | kwargs)

    def _pm_ask(self, hook: Callable, *args: Any) -> Any:
        """A capability's hook, isolated: a failure logs once and is "no opinion" (None)."""
        try:
            return hook(*args)
        except Exception:
            logged = self.__dict__.setdefault("_pm_failed_methods", set())
            if hook.__qualname__ not in logged:
                logged.add(hook.__qualname__)
                logger.exception(
                    "%s failed; position management makes no change here", hook.__qualname__
                )
            return None

    # --- the callbacks ---------------------------------------------------------------------------

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
        request = StopRequest(pair, trade, current_time, current_rate, current_profit, after_fill)
        answers = [self._pm_ask(h.stop, request) for h in self._pm_asked["custom_stoploss"]]
        for answer in answers:
            if answer is not None and answer.source is not None and self._pm_stop_sources:
                self._pm_ask(self._pm_stop_sources.record, trade, answer.stop, answer.source)
        # IStrategy's default returns self.stoploss, which would act as a trailing stop here: only
        # a user's own stop is asked, and only where Freqtrade would have asked it without us.
        theirs = None
        if self._pm_asks_user("custom_stoploss") and (
            not after_fill or self._pm_user_stop_after_fill
        ):
            theirs = self._pm_ask_user_with("custom_stoploss", request, kwargs)
        return merged_stop(
            (None if answer is None else answer.ratio for answer in answers),
            theirs,
            after_fill,
            lambda ratio: loosens_stop(
                ratio, trade.stop_loss, current_rate, trade.is_short, trade.leverage
            ),
        )

    def custom_exit(
        self,
        pair: str,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        **kwargs,
    ) -> str | bool | None:
        request = ExitRequest(pair, trade, current_time, current_rate, current_profit)
        reason = first_reason(
            self._pm_ask(h.exit_reason, request) for h in self._pm_asked["custom_exit"]
        )
        if reason is not None:
            return reason
        return self._pm_ask_user_with("custom_exit", request, kwargs)

    def confirm_trade_entry(
        self,
        pair: str,
        order_type: str,
        amount: float,
        rate: float,
        time_in_force: str,
        current_time: datetime,
        entry_tag: str | None,
        side: str,
        **kwargs,
    ) -> bool:
        request = EntryRequest(
            pair, order_type, amount, rate, time_in_force, current_time, entry_tag, side
        )
        asked = self._pm_asked["confirm_trade_entry"]
        if every_consent(self._pm_ask(h.entry_refusal, request) for h in asked) is not None:
            return False
        confirmed = self._pm_ask_user_with("confirm_trade_entry", request, kwargs)
        if not confirmed:
            return confirmed
        # The final order, once every other consent is given (correlation's re-check).
        return every_consent(self._pm_ask(h.order_refusal, request) for h in asked) is None

    def custom_stake_amount(
        self,
        pair: str,
        current_time: datetime,
        current_rate: float,
        proposed_stake: float,
        min_stake: float | None,
        max_stake: float,
        leverage: float,
        entry_tag: str | None,
        side: str,
        **kwargs,
    ) -> float:
        stake = self._pm_ask_user(
            "custom_stake_amount",
            {
                "pair": pair,
                "current_time": current_time,
                "current_rate": current_rate,
                "proposed_stake": proposed_stake,
                "min_stake": min_stake,
                "max_stake": max_stake,
                "leverage": leverage,
                "entry_tag": entry_tag,
                "side": side,
                **kwargs,
            },
        )
        if not stake or stake <= 0:
            return stake  # the strategy's own "no trade" stands
        request = StakeRequest(
            pair, side, current_time, float(stake), min_stake, max_stake, leverage, False
        )
        return self._pm_settle(request)

    def adjust_trade_position(
        self,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        min_stake: float | None,
        max_stake: float,
        current_entry_rate: float,
        current_exit_rate: float,
        current_entry_profit: float,
        current_exit_profit: float,
        **kwargs,
    ) -> float | tuple[float | None, str | None] | None:
        request = AdjustRequest(
            trade, current_time, current_rate, current_profit, min_stake, max_stake,
            current_entry_rate, current_exit_rate, current_entry_profit, current_exit_profit,
        )  # fmt: skip
        asked = self._pm_asked["adjust_trade_position"]
        answers = (self._pm_ask(h.adjustment, request) for h in asked)
        result = next((answer for answer in answers if answer is not None), None)
        # The user's own position adjustment runs only if the user switched it on.
        if result is None and self._pm_asks_user("adjust_trade_position"):
            result = self._pm_ask_user_with("adjust_trade_position", request, kwargs)
        return self._pm_settle_add(trade, result, current_time, min_stake, max_stake)

    def _pm_settle_add(
        self,
        trade: Trade,
        result: Any,
        current_time: datetime,
        min_stake: float | None,
        max_stake: float,
    ) -> Any:
        """An add (a positive stake) settled as an entry's stake is; anything else untouched."""
        if not self._pm_asked["custom_stake_amount"]:
            return result
        stake, tag = result if isinstance(result, tuple) else (result, None)
        if stake is None or stake <= 0:
            return result  # exits and "no change" pass untouched
        side = "short" if trade.is_short else "long"
        request = StakeRequest(
            trade.pair, side, current_time, stake, min_stake, max_stake, trade.leverage or 1.0, True
        )
        settled = self._pm_settle(request)
        if settled == stake:
            return result
        if settled <= 0:
            return None
        return (settled, tag) if isinstance(result, tuple) else settled

    def _pm_settle(self, request: StakeRequest) -> float:
        """Every sizer's stake, then every cap's (``merge.settled_stake``); 0 refuses."""

        def step(hook: Callable) -> Callable[[float], float]:
            def settle(stake: float) -> float:
                answer = self._pm_ask(hook, dataclasses.replace(request, stake=stake))
                return stake if answer is None else answer

            return settle

        asked = self._pm_asked["custom_stake_amount"]
        return settled_stake(
            request.stake,
            [step(h.size_stake) for h in asked],
            [step(h.cap_stake) for h in asked],
        )

    def bot_loop_start(self, current_time: datetime, **kwargs) -> None:
        for hooks in self._pm_asked["bot_loop_start"]:
            self._pm_ask(hooks.on_loop_start, current_time)
        self._pm_ask_user("bot_loop_start", {"current_time": current_time, **kwargs})

    def order_filled(
        self, pair: str, trade: Trade, order: Order, current_time: datetime, **kwargs
    ) -> None:
        for hooks in self._pm_asked["order_filled"]:
            self._pm_ask(hooks.on_fill, trade, order, current_time)
        if self._pm_stop_sources is not None:
            self._pm_ask(self._pm_stop_sources.on_fill, trade, order)
        self._pm_ask_user(
            "order_filled",
            {"pair": pair, "trade": trade, "order": order, "current_time": current_time, **kwargs},
        )

    def confirm_trade_exit(
        self,
        pair: str,
        trade: Trade,
        order_type: str,
        amount: float,
        rate: float,
        time_in_force: str,
        exit_reason: str,
        current_time: datetime,
        **kwargs,
    ) -> bool:
        # Freqtrade confirms stop and custom exits; an exit of ours the strategy refuses is a
        # decision like any other, logged and counted.
        confirmed = self._pm_ask_user(
            "confirm_trade_exit",
            {
                "pair": pair,
                "trade": trade,
                "order_type": order_type,
                "amount": amount,
                "rate": rate,
                "time_in_force": time_in_force,
                "exit_reason": exit_reason,
                "current_time": current_time,
                **kwargs,
            },
        )
        if not confirmed:
            self._pm_ask(self._pm_exit_refused, pair, trade, str(exit_reason), current_time)
        return confirmed

    def _pm_exit_refused(
        self, pair: str, trade: Trade, reason: str, current_time: datetime
    ) -> None:
        capability = self.pm_exit_capability(trade, reason)
        if capability is None:
            return
        refuser = getattr(super().confirm_trade_exit, "__qualname__", "confirm_trade_exit")
        candle = decision_candle(self.timeframe, current_time)
        decision = Decision(
            capability, DecisionKind.EXIT_REFUSED, f"{reason} refused by {refuser}", 0.0,
            pair, candle,
        )  # fmt: skip
        record_decision(self, decision)

    # --- the analysed candles: every capability on sees them, after the strategy's own -----------

    def advise_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe = super().advise_indicators(dataframe, metadata)
        for hooks in self._pm_hooks:
            hooks.analyze(dataframe, metadata["pair"])
        return dataframe

    def informative_pairs(self) -> list[tuple[str, str]]:
        pairs = super().informative_pairs()
        for hooks in self._pm_hooks:
            pairs += hooks.informative_pairs()
        return pairs
