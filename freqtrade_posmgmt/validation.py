"""
Checks for policy fields, shared by every policy: one style, one-line messages.

Every check raises :class:`ValueError` (whatever the wrong type) with ``field=value: rule``; the
mixins turn it into one line at strategy load, naming the config section or class attribute.
"""

import itertools
import math
from collections.abc import Iterable
from typing import Any


def fail(field: str, value: Any, rule: str) -> ValueError:
    """The error for ``field`` holding ``value`` against ``rule`` (a tuple shows as a list)."""
    shown = list(value) if isinstance(value, tuple) else value
    return ValueError(f"{field}={shown!r}: {rule}")


def is_number(value: Any) -> bool:
    """True for an int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(
    field: str,
    value: Any,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
    rule: str | None = None,
) -> float:
    """
    A finite number within the given bounds, as a float.
    :param above: exclusive lower bound
    :param at_least: inclusive lower bound
    :param below: exclusive upper bound
    :param at_most: inclusive upper bound
    :param rule: the message's rule when a bound fails, if the generated one (``must be > 0``)
        does not say enough (``must be a number of hours above 0``)
    """
    if not is_number(value) or not math.isfinite(value):
        raise fail(field, value, "must be a finite number")
    bounds = (
        (above, lambda b: value > b, "> {}"),
        (at_least, lambda b: value >= b, ">= {}"),
        (below, lambda b: value < b, "< {}"),
        (at_most, lambda b: value <= b, "<= {}"),
    )
    rules = [text.format(b) for b, ok, text in bounds if b is not None]
    if not all(ok(b) for b, ok, _ in bounds if b is not None):
        raise fail(field, value, rule or "must be " + " and ".join(rules))
    return float(value)


def optional_number(field: str, value: Any, **checks: Any) -> float | None:
    """None, or :func:`number` with the same bounds (and ``rule``)."""
    return None if value is None else number(field, value, **checks)


def whole(field: str, value: Any, minimum: int = 0, *, rule: str | None = None) -> int:
    """
    A whole number (``3`` or ``3.0``) of at least ``minimum``, as an int.
    :param rule: the message's rule, if not ``must be a whole number >= minimum``
    """
    if not (is_number(value) and float(value).is_integer()) or value < minimum:
        raise fail(field, value, rule or f"must be a whole number >= {minimum}")
    return int(value)


def flag(field: str, value: Any) -> bool:
    """A real bool: ``1`` or ``"yes"`` are refused rather than guessed."""
    if not isinstance(value, bool):
        raise fail(field, value, "must be true or false")
    return value


def one_of(field: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise fail(field, value, f"must be one of {', '.join(map(repr, choices))}")
    return value


def numbers(field: str, value: Any) -> tuple[float, ...]:
    """A list of finite numbers, as a tuple of floats."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise fail(field, value, "must be a list of numbers")
    items = tuple(value)
    if not all(is_number(v) for v in items):
        raise fail(field, value, "must be a list of numbers")
    if not all(math.isfinite(v) for v in items):
        raise fail(field, value, "must hold finite numbers")
    return tuple(float(v) for v in items)


def strictly_ascending(field: str, values: tuple[float, ...]) -> None:
    """Each value greater than the one before."""
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise fail(field, values, "must be strictly ascending")


def same_length(field: str, values: tuple, other_field: str, other: tuple) -> None:
    """Two lists that pair up item by item."""
    if len(values) != len(other):
        raise fail(field, values, f"must have as many items as {other_field} ({len(other)})")
