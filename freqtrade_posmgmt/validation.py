"""
How a policy reports bad configuration: one ``ValueError`` naming field, value and rule.

Framework-free. A policy written as a strategy class attribute is built while Python executes the
class body, inside Freqtrade's strategy import, where no code of ours can catch the error; the
error itself therefore names the class attribute, and its type is one Freqtrade prints in one
line: the mixins, which know Freqtrade, register that type with :func:`raise_policy_errors_as`.
"""

import ast
import linecache
import sys
from collections.abc import Callable
from functools import wraps
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


class PolicyValueError(ValueError):
    """A policy was given a bad value; the message names field, value and rule."""


_error_type: type[PolicyValueError] = PolicyValueError


def raise_policy_errors_as(error_type: type[PolicyValueError]) -> None:
    """Make every policy constructor raise ``error_type`` for bad values from now on."""
    global _error_type
    _error_type = error_type


def validated_policy(cls: T) -> T:
    """
    Class decorator for a policy dataclass: a ``ValueError`` from its constructor becomes a
    :class:`PolicyValueError` (of the registered type), prefixed with ``Class.attribute`` when
    the policy is built in a class body.
    """
    init: Callable[..., None] = cls.__init__  # type: ignore[misc]

    @wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            init(self, *args, **kwargs)
        except PolicyValueError:
            raise
        except ValueError as e:
            where = _class_attribute(sys._getframe(1))
            message = f"{where}: {e}" if where else str(e)
            raise _error_type(message) from None

    cls.__init__ = __init__  # type: ignore[misc]
    return cls


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
