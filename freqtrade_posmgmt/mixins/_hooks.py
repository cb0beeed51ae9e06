"""
What a capability answers, as typed hooks, and the frozen requests the dispatcher asks them with.

A capability that is on builds one :class:`CapabilityHooks` object at each refresh, from its
resolved policy; the object holds the policy and the capability's runtime state (caches, candle
arrays, account memos). The dispatcher (:class:`~freqtrade_posmgmt.mixins._base.PolicyMixin`)
defines each Freqtrade callback once and asks the hooks of the capabilities that are on, in the
registry's declared order (``registry.STACK_ORDER``), merging their answers with one function per
rule (``freqtrade_posmgmt.merge``). Every hook is a no-op here: a capability overrides the ones
it answers. A hook that raises is "no opinion" for that call (logged once).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from freqtrade.persistence import Order, Trade
from pandas import DataFrame

if TYPE_CHECKING:
    from freqtrade.strategy import IStrategy


@dataclass(frozen=True, slots=True)
class StopRequest:
    """A ``custom_stoploss`` call."""

    pair: str
    trade: Trade
    current_time: datetime
    current_rate: float
    current_profit: float
    after_fill: bool


@dataclass(frozen=True, slots=True)
class StopAnswer:
    """A stop a capability asks for: ``ratio`` as ``custom_stoploss`` returns it."""

    ratio: float
    stop: float | None = None
    """The stop price, when ``source`` names the rule that set it."""
    source: str | None = None
    """The rule (``stop_sources``) a stop exit at this stop is tagged with; None: untagged."""


@dataclass(frozen=True, slots=True)
class ExitRequest:
    """A ``custom_exit`` call."""

    pair: str
    trade: Trade
    current_time: datetime
    current_rate: float
    current_profit: float


@dataclass(frozen=True, slots=True)
class EntryRequest:
    """A ``confirm_trade_entry`` call: the final order."""

    pair: str
    order_type: str
    amount: float
    rate: float
    time_in_force: str
    current_time: datetime
    entry_tag: str | None
    side: str


@dataclass(frozen=True, slots=True)
class StakeRequest:
    """A positive stake to settle: an entry's (``custom_stake_amount``) or an add's."""

    pair: str
    side: str
    current_time: datetime
    stake: float
    min_stake: float | None
    max_stake: float
    leverage: float
    scale_in: bool


@dataclass(frozen=True, slots=True)
class AdjustRequest:
    """An ``adjust_trade_position`` call."""

    trade: Trade
    current_time: datetime
    current_rate: float
    current_profit: float
    min_stake: float | None
    max_stake: float
    current_entry_rate: float
    current_exit_rate: float
    current_entry_profit: float
    current_exit_profit: float


Adjustment = tuple[float, str]
"""A stake to add (positive) or take out (negative), and its order tag."""

# The Freqtrade callback each hook answers in.
HOOK_CALLBACKS: dict[str, tuple[str, ...]] = {
    "stop": ("custom_stoploss",),
    "exit_reason": ("custom_exit",),
    "entry_refusal": ("confirm_trade_entry",),
    "order_refusal": ("confirm_trade_entry",),
    "adjustment": ("adjust_trade_position",),
    "size_stake": ("custom_stake_amount", "adjust_trade_position"),
    "cap_stake": ("custom_stake_amount", "adjust_trade_position"),
    "on_fill": ("order_filled",),
    "on_loop_start": ("bot_loop_start",),
}


class CapabilityHooks:
    """
    A capability's answers and runtime state, built at each refresh while the capability is on.

    :param strategy: the strategy it answers for (its config, timeframe, decision log)
    :param policy: the capability's resolved policy
    """

    capability: ClassVar[str] = ""
    """The capability's section under ``posmgmt`` (``registry.Capability`` for ours)."""
    names_stops: bool = False
    """Its stops name their rule (``StopAnswer.source``): stop exits are tagged with it."""

    def __init__(self, strategy: "IStrategy", policy: Any) -> None:
        self.strategy = strategy
        self.policy = policy

    def callbacks(self) -> set[str]:
        """
        The Freqtrade callbacks this capability needs (they are left to Freqtrade's default or
        the strategy's own while no capability needs them): those of the hooks it overrides.
        """
        return {
            callback
            for hook, names in HOOK_CALLBACKS.items()
            if getattr(type(self), hook) is not getattr(CapabilityHooks, hook)
            for callback in names
        }

    # --- decisions -------------------------------------------------------------------------------

    def stop(self, request: StopRequest) -> StopAnswer | None:
        """The stop this capability asks for (the tightest of all wins), None for none."""
        return None

    def exit_reason(self, request: ExitRequest) -> str | None:
        """An exit reason to close the trade with (the first given wins), None to keep it."""
        return None

    def entry_refusal(self, request: EntryRequest) -> str | None:
        """Why the entry is refused, asked before the strategy's own ``confirm_trade_entry``."""
        return None

    def order_refusal(self, request: EntryRequest) -> str | None:
        """Why the final order is refused, asked once every other consent is given."""
        return None

    def adjustment(self, request: AdjustRequest) -> Adjustment | None:
        """A partial exit or an add (the first given wins over the strategy's own)."""
        return None

    def size_stake(self, request: StakeRequest) -> float | None:
        """The stake this capability sizes ``request.stake`` to (sizers run first)."""
        return None

    def cap_stake(self, request: StakeRequest) -> float | None:
        """The stake this capability cuts ``request.stake`` to (0 refuses); caps run last."""
        return None

    # --- events and data -------------------------------------------------------------------------

    def on_fill(self, trade: Trade, order: Order, current_time: datetime) -> None:
        """An order of ``trade`` filled (``order_filled``)."""

    def on_loop_start(self, current_time: datetime) -> None:
        """A bot loop (a candle, in backtesting) starts (``bot_loop_start``)."""

    def analyze(self, dataframe: DataFrame, pair: str) -> None:
        """The strategy's indicators are computed: read (or add columns to) ``dataframe``."""

    def on_signals(self, dataframe: DataFrame, pair: str) -> None:
        """The signals of ``pair`` are computed: a backtest's or epoch's first look at it."""

    def informative_pairs(self) -> list[tuple[str, str]]:
        """Pairs (and timeframes) whose candles this capability reads."""
        return []
