"""
Live notifications of what position management decided, through Freqtrade's own channel
(``strategy.dp.send_msg``, which reaches Telegram, webhooks and FreqUI in dry-run and live).

Framework-free: messages are formatted from a decision (``registry.Decision``: refusals,
cuts and resizes) or a :class:`Notice` (a stop moved to breakeven or locked, a take-profit or an
add placed); the ``posmgmt.notifications`` section switches each capability's messages on or
off (:class:`NotificationSettings`); :class:`Notifier` sends one message per decision, pair and
candle. :func:`notify` is the one function the mixin layer calls; it never raises, and sends
nothing outside dry-run and live (a backtest or hyperopt costs one comparison).
"""

import logging
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from freqtrade_posmgmt.validation import fail, flag

logger = logging.getLogger(__name__)

SECTION = "notifications"
"""The ``posmgmt`` section: ``"posmgmt": {"notifications": {"time_exits": true, ...}}``."""
LIVE_RUNMODES = ("live", "dry_run")
# Kinds of notice that are not the mixins' decisions.
STOP_MOVED = "stop_moved"
TAKE_PROFIT = "take_profit"
ADD = "add"
# Stop rules worth a message: the trail's every step is not news, its breakeven and locks are.
NOTIFIED_STOP_RULES = ("breakeven", "lock", "breakeven_after_tp")


@dataclass(frozen=True)
class NotificationSettings:
    """
    Which capabilities' decisions reach Telegram, webhooks and FreqUI. The defaults are what a
    live trader wants to hear about: money kept out of the market, stops that now protect
    profit, orders placed for them; not the schedule they set themselves.
    """

    correlation: bool = True
    """Entries refused or cut by the correlation cap."""
    dynamic_risk: bool = True
    """Stakes cut (or raised) by the drawdown, volatility and performance factors."""
    partial_exits: bool = True
    """Take-profits and adds placed, the stop moved to breakeven after a take-profit."""
    trailing_stop: bool = True
    """The stop moved to breakeven or to a profit lock (never each trailing step)."""
    time_exits: bool = False
    """Entries refused outside the trading window: expected, so off by default."""

    def wants(self, capability: str) -> bool:
        return bool(getattr(self, capability, False))


def notification_settings(section: Any) -> NotificationSettings:
    """
    The validated ``posmgmt.notifications`` section (None or absent: the defaults).
    :raise ValueError: one line naming the field, its value and the rule
    """
    if section is None:
        return NotificationSettings()
    if not isinstance(section, dict):
        raise fail(f"posmgmt.{SECTION}", section, "must be an object of capability: true/false")
    known = [field.name for field in fields(NotificationSettings)]
    for key in section:
        if key not in known:
            raise fail(f"posmgmt.{SECTION}.{key}", section[key],
                       f"unknown capability; known: {', '.join(known)}")  # fmt: skip
    return NotificationSettings(
        **{key: flag(f"posmgmt.{SECTION}.{key}", value) for key, value in section.items()}
    )


def settings_from_config(config: dict[str, Any]) -> NotificationSettings:
    """The settings of a Freqtrade config (its ``posmgmt`` section)."""
    return notification_settings((config.get("posmgmt") or {}).get(SECTION))


@dataclass(frozen=True)
class Notice:
    """Something worth a message that is not a refused or resized entry."""

    capability: str
    kind: str
    """:data:`STOP_MOVED`, :data:`TAKE_PROFIT` or :data:`ADD`."""
    pair: str
    candle: datetime
    reason: str = ""
    """For a stop: the rule that set it (``breakeven``, ``lock``, ``breakeven_after_tp``)."""
    price: float | None = None
    """The stop, or the order's price."""
    stake: float | None = None
    """The order's stake (take-profit or add), in stake currency."""


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _price(value: float) -> str:
    return f"{value:,.8g}" if abs(value) < 1 else f"{value:,.2f}"


def format_message(decision: Any, stake_currency: str = "") -> str:
    """
    One short line for a decision (``capability``, ``kind``, ``reason``, ``pair``, ``candle``,
    and ``stake_not_deployed`` for refusals and resizes) or a :class:`Notice`.
    """
    pair, capability, kind = decision.pair, decision.capability, decision.kind
    reason = str(getattr(decision, "reason", "") or "")
    currency = f" {stake_currency}" if stake_currency else ""
    when = decision.candle.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if kind == STOP_MOVED:
        rule = {"breakeven": "breakeven", "lock": "a profit lock",
                "breakeven_after_tp": "breakeven after a take-profit"}.get(reason, reason)  # fmt: skip
        text = f"{pair}: stop moved to {rule} at {_price(decision.price)}"
    elif kind in (TAKE_PROFIT, ADD):
        what = "take-profit" if kind == TAKE_PROFIT else "add"
        stake = f" ({_money(decision.stake)}{currency})" if decision.stake is not None else ""
        price = f" at {_price(decision.price)}" if decision.price is not None else ""
        text = f"{pair}: {what} placed{price}{stake}" + (f", {reason}" if reason else "")
    else:
        held = float(getattr(decision, "stake_not_deployed", 0.0) or 0.0)
        if kind == "refused":
            action, amount = "entry refused", f"{_money(held)}{currency} not deployed"
        elif held >= 0:
            action, amount = "stake cut", f"{_money(held)}{currency} held back"
        else:
            action, amount = "stake raised", f"{_money(-held)}{currency} more"
        text = f"{pair}: {action} by {capability} ({amount}): {reason}"
    return f"[posmgmt] {text} [{when}]"


class Notifier:
    """Remembers what was sent: one message per capability, kind, pair and candle."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str, str], datetime] = {}

    def first(self, decision: Any) -> bool:
        """True the first time this capability's decision of this kind is seen for its pair
        and candle (Freqtrade may ask about the same candle many times)."""
        key = (decision.capability, decision.kind, decision.pair)
        if self._last.get(key) == decision.candle:
            return False
        self._last[key] = decision.candle
        return True


def is_live(config: dict[str, Any]) -> bool:
    """Dry-run or live (Freqtrade's ``RunMode``, or its value)."""
    runmode = config.get("runmode")
    return getattr(runmode, "value", runmode) in LIVE_RUNMODES


def notify(strategy: Any, decision: Any) -> bool:
    """
    Send ``decision`` through the strategy's Freqtrade channel, if the run is dry-run or live,
    its capability is switched on, and it is the first of its kind for its pair and candle.
    Never raises: a notification must not cost a decision.
    :param strategy: the strategy object (``config``, ``dp``)
    :param decision: a :class:`~freqtrade_posmgmt.registry.Decision` or a :class:`Notice`
    :return: whether a message was sent
    """
    try:
        config = strategy.config
        if not is_live(config):
            return False
        state = strategy.__dict__
        settings = state.get("_pm_notification_settings")
        if settings is None:
            settings = state["_pm_notification_settings"] = settings_from_config(config)
        if not settings.wants(decision.capability):
            return False
        if decision.kind == STOP_MOVED and decision.reason not in NOTIFIED_STOP_RULES:
            return False
        if not state.setdefault("_pm_notifier", Notifier()).first(decision):
            return False
        message = format_message(decision, config.get("stake_currency", ""))
        strategy.dp.send_msg(message, always_send=True)
        return True
    except Exception:  # the decision stands whatever the channel does
        logger.warning("position management: notification not sent", exc_info=True)
        return False
