"""
What set the stop a trade was stopped out at: names, and how they travel in an order tag.

Freqtrade labels every stop exit ``stop_loss`` or ``trailing_stop_loss``, whoever moved the stop.
The mixins remember which of their rules set the stop in force and, when the stop fills, append
the rule to the exit order's tag: ``trailing_stop_loss (pm_stop=breakeven)``. The trade's
``exit_reason`` stays Freqtrade's; the exit order's ``ft_order_tag`` is exported with every
backtest result (``trades[].orders[]``), so a report reads the rule from there, and nothing runs
per candle beyond the mixins' own stop decision.
"""

import re

STOP_TRAIL = "trail"
"""The trailing distance (percent or ATR) behind the best rate."""
STOP_BREAKEVEN = "breakeven"
"""The trailing policy's fee-aware breakeven."""
STOP_LOCK = "lock"
"""One of the trailing policy's stepped profit locks."""
STOP_BREAKEVEN_AFTER_TP = "breakeven_after_tp"
"""The partial-exit policy's breakeven once the first target filled."""
STOP_SOURCES = (STOP_TRAIL, STOP_BREAKEVEN, STOP_LOCK, STOP_BREAKEVEN_AFTER_TP)

# Freqtrade's exit reasons (ExitType values) for a stop that filled.
STOP_EXIT_REASONS = ("stop_loss", "trailing_stop_loss")

_TAG_RE = re.compile(r" \(pm_stop=([a-z_]+)\)$")


def stop_exit_tag(exit_reason: str, source: str) -> str:
    """
    The exit order's tag for a stop exit: Freqtrade's reason and the rule that set the stop.
    :param exit_reason: Freqtrade's exit reason, e.g. ``trailing_stop_loss``.
    :param source: one of :data:`STOP_SOURCES`.
    """
    return f"{exit_reason} (pm_stop={source})"


def stop_source(tag: str | None) -> str | None:
    """
    The rule named by a tag written by :func:`stop_exit_tag`, else None (a stop exit of a
    stop the mixins did not set, or not a stop exit).
    :param tag: an exit order's tag (``ft_order_tag``, in the exported result ``orders[]``).
    """
    match = _TAG_RE.search(tag or "")
    return match.group(1) if match else None
