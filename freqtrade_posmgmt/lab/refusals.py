"""
What the exit lab cannot reproduce exactly, named in one line: the lab never differs silently.
"""

from typing import Any

# A user's own implementation of these runs code the kernel cannot run.
USER_CALLBACKS = (
    "custom_stoploss",
    "custom_exit",
    "custom_roi",
    "adjust_trade_position",
    "confirm_trade_exit",
    "confirm_trade_entry",
    "custom_entry_price",
    "custom_exit_price",
    "custom_stake_amount",
    "adjust_entry_price",
    "adjust_exit_price",
    "adjust_order_price",
    "order_filled",
    "bot_loop_start",
    "check_entry_timeout",
    "check_exit_timeout",
)
# The strategy attributes the kernel models; their values come from the strategy or a variant.
STRATEGY_FIELDS = (
    "stoploss",
    "trailing_stop",
    "trailing_stop_positive",
    "trailing_stop_positive_offset",
    "trailing_only_offset_is_reached",
    "minimal_roi",
    "use_exit_signal",
    "exit_profit_only",
    "exit_profit_offset",
    "ignore_roi_if_entry_signal",
)


class LabRefusal(Exception):
    """A feature the lab cannot reproduce exactly; the message names it in one line."""


def user_callbacks(strategy_class: type) -> list[str]:
    """The callbacks of :data:`USER_CALLBACKS` that the user's own classes implement."""
    found = []
    for name in USER_CALLBACKS:
        for cls in strategy_class.__mro__:
            module = cls.__module__
            if module.startswith(("freqtrade.", "freqtrade_posmgmt.")) or cls is object:
                continue
            if name in vars(cls):
                found.append(name)
                break
    return found


def check_strategy(strategy: Any, config: dict) -> None:
    """
    Refuse a strategy or config the kernel cannot reproduce.
    :raise LabRefusal: naming the first such feature
    """
    users = user_callbacks(type(strategy))
    if users:
        raise LabRefusal(f"the strategy's own {users[0]}() (the lab cannot run user callbacks)")
    # The user's own switches: a mixin may have switched position adjustment on for itself.
    own = getattr(strategy, "pm_user_features", {})
    for attribute in ("position_adjustment_enable", "use_custom_roi"):
        if own.get(attribute, getattr(strategy, attribute, False)):
            raise LabRefusal(f"{attribute}=True")
    checks = {
        "enable_protections": config.get("enable_protections", False),
        "timeframe_detail": config.get("timeframe_detail"),
        "position_stacking": config.get("position_stacking", False),
        "margin_mode=cross": config.get("margin_mode") == "cross",
    }
    for name, on in checks.items():
        if on:
            raise LabRefusal(f"{name} (not modelled by the lab)")


def check_policies(policies: dict[str, Any]) -> None:
    """
    Refuse position-management capabilities the kernel does not model.
    :param policies: section name -> resolved policy (None when off)
    """
    if policies.get("correlation") is not None:
        raise LabRefusal("posmgmt.correlation (not modelled by the lab yet)")
    risk = policies.get("dynamic_risk")
    if risk is not None and risk.enabled:
        # The lab sizes by the drawdown tier and the pair's volatility; these need more.
        for name in ("performance_adjustment_enabled", "risk_per_trade"):
            if getattr(risk, name) not in (False, None):
                raise LabRefusal(f"posmgmt.dynamic_risk.{name} (not modelled by the lab yet)")
        if risk.can_tighten:
            raise LabRefusal(
                "posmgmt.dynamic_risk.tighten_stops (not modelled by the lab yet: set it false)"
            )
    partial = policies.get("partial_exits")
    if partial is not None and partial.breakeven_after_first_exit:
        raise LabRefusal(
            "posmgmt.partial_exits.breakeven_after_first_exit (not modelled by the lab yet)"
        )
