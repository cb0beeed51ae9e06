"""
Policy validation, shared by every policy: one check style, one-line messages, one error type.

The idiom, the same in every policy module:

- the policy dataclass is decorated with :func:`validated_policy`;
- its ``__post_init__`` checks each field with the checks below and stores the checked
  (coerced) values with :func:`coerce`;
- every error, of a check or of a policy's own rule, is made by :func:`fail`: a
  :class:`ValueError` (whatever the wrong type) reading ``field=value: rule``.

A policy written as a strategy class attribute is built while Python executes the class body,
inside Freqtrade's strategy import, where no code of ours can catch the error; the error itself
therefore names the class attribute (:func:`validated_policy`), and its type is one Freqtrade
prints in one line: the mixins, which know Freqtrade, register that type with
:func:`raise_policy_errors_as`. Framework-free.
"""

import ast
import dataclasses
import itertools
import linecache
import math
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


class PolicyValueError(ValueError):
    """A policy was given a bad value; the message names field, value and rule."""

    where: str | None = None
    """The class attribute named in front of the message, if the policy was built as one."""


_error_type: type[PolicyValueError] = PolicyValueError


def raise_policy_errors_as(error_type: type[PolicyValueError]) -> None:
    """Make every policy constructor raise ``error_type`` for bad values from now on."""
    global _error_type
    _error_type = error_type


def validated_policy(cls: T) -> T:
    """
    Class decorator for a policy dataclass: a ``ValueError`` from its constructor, or an unknown
    field name, becomes a :class:`PolicyValueError` (of the registered type), prefixed with
    ``Class.attribute`` when the policy is built in a class body (see also :func:`where`).
    """
    init: Callable[..., None] = cls.__init__  # type: ignore[misc]
    known = [f.name for f in dataclasses.fields(cls) if f.init]

    @wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            unknown = sorted(set(kwargs) - set(known))
            if unknown:
                raise fail(
                    unknown[0],
                    kwargs[unknown[0]],
                    f"unknown field; known fields: {', '.join(known)}",
                )
            init(self, *args, **kwargs)
        except ValueError as e:
            if isinstance(e, PolicyValueError) and e.where is not None:
                raise  # a nested policy built in the class body already names it
            location = _class_attribute(sys._getframe(1))
            error = _error_type(f"{location}: {e}" if location else str(e))
            error.where = location
            raise error from None
        object.__setattr__(self, "_pm_where", _class_attribute(sys._getframe(1)))

    cls.__init__ = __init__  # type: ignore[misc]
    return cls


def where(policy: Any) -> str | None:
    """
    ``Class.attribute`` of the strategy class body that built ``policy``, else None (built in
    code, from config, or changed by ``dataclasses.replace``): how an error found later, e.g.
    when the strategy starts, names the policy.
    """
    return vars(policy).get("_pm_where")


def coerce(policy: Any, **values: Any) -> None:
    """
    Store checked values on a (frozen) policy dataclass from its ``__post_init__``: JSON's ints
    become floats, lists become tuples, so the policy holds what its fields say.
    """
    for name, value in values.items():
        object.__setattr__(policy, name, value)


def _class_attribute(frame: FrameType | None) -> str | None:
    """``Class.attribute`` if ``frame`` executes a class body assigning it, else None."""
    # Nested policies (a session inside a time policy) are built while the outer call's
    # arguments are evaluated, in the same frame: only the class body frame matters.
    if frame is None or "__qualname__" not in frame.f_locals or "__module__" not in frame.f_locals:
        return None
    qualname = frame.f_locals["__qualname__"]
    source = "".join(linecache.getlines(frame.f_code.co_filename))
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return qualname
    code = frame.f_code
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef) or node.name != code.co_name:
            continue
        if min([node.lineno] + [d.lineno for d in node.decorator_list]) != code.co_firstlineno:
            continue
        for statement in node.body:
            if statement.lineno <= frame.f_lineno <= (statement.end_lineno or statement.lineno):
                name = _assigned_name(statement)
                return f"{qualname}.{name}" if name else qualname
    return qualname


def _assigned_name(statement: ast.stmt) -> str | None:
    if isinstance(statement, ast.Assign):
        target = statement.targets[0]
    elif isinstance(statement, ast.AnnAssign):
        target = statement.target
    else:
        return None
    return target.id if isinstance(target, ast.Name) else None


_UNSHOWN = object()


def fail(field: str, value: Any = _UNSHOWN, rule: str = "") -> ValueError:
    """
    The one way a policy reports a bad value: the error for ``field`` holding ``value`` against
    ``rule``, ``field=value: rule`` (a tuple shows as a list). Without ``value``, ``field`` is
    the whole subject (``high=1.0, low=2.0``) and the message reads ``field: rule``.
    """
    if value is _UNSHOWN:
        return ValueError(f"{field}: {rule}")
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


def each(field: str, values: tuple[float, ...], **bounds: float) -> None:
    """Every item of a list within :func:`number`'s bounds; the message names the whole list."""
    for value in values:
        try:
            number(field, value, **bounds)
        except ValueError as e:
            rule = str(e).split(": ", 1)[1]
            raise fail(field, values, rule.replace("must be", "must each be", 1)) from None


def non_increasing(field: str, values: tuple[float, ...]) -> None:
    """Each value at most the one before."""
    if any(b > a for a, b in itertools.pairwise(values)):
        raise fail(field, values, "must not increase from one item to the next")
