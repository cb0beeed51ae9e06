import ast
import dataclasses
import importlib
import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freqtrade_posmgmt.validation import (
    fail,
    flag,
    is_number,
    number,
    numbers,
    one_of,
    optional_number,
    same_length,
    strictly_ascending,
    whole,
)


def message(check, *args, **kwargs) -> str:
    with pytest.raises(ValueError) as error:
        check(*args, **kwargs)
    text = str(error.value)
    assert "\n" not in text
    return text


def test_fail_names_field_value_and_rule_and_shows_tuples_as_lists():
    assert str(fail("exit_targets", (0.06, 0.03), "must be strictly ascending")) == (
        "exit_targets=[0.06, 0.03]: must be strictly ascending"
    )


@pytest.mark.parametrize(
    ("value", "expected"), [(1, True), (1.5, True), (True, False), ("1", False), (None, False)]
)
def test_is_number_refuses_bools_and_strings(value, expected):
    assert is_number(value) is expected


def test_number_coerces_to_float_within_its_bounds():
    assert number("x", 3, above=0, below=5) == 3.0 and isinstance(number("x", 3), float)
    assert number("x", 0, at_least=0) == 0.0
    assert number("x", 1, at_most=1) == 1.0


@pytest.mark.parametrize(
    ("value", "bounds", "text"),
    [
        ("high", {}, "x='high': must be a finite number"),
        (True, {}, "x=True: must be a finite number"),
        (math.nan, {}, "x=nan: must be a finite number"),
        (math.inf, {"above": 0}, "x=inf: must be a finite number"),
        (0, {"above": 0, "below": 1}, "x=0: must be > 0 and < 1"),
        (1, {"above": 0, "below": 1}, "x=1: must be > 0 and < 1"),
        (-1, {"at_least": 0}, "x=-1: must be >= 0"),
        (2, {"at_most": 1}, "x=2: must be <= 1"),
        (0, {"above": 0, "rule": "must be a number of hours above 0"}, "x=0: must be a number"),
    ],
)
def test_number_refuses_with_one_line(value, bounds, text):
    assert message(number, "x", value, **bounds).startswith(text)


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(-10, 10))
def test_number_accepts_exactly_what_its_bound_allows(value, bound):
    if value > bound:
        assert number("x", value, above=bound) == value
    else:
        with pytest.raises(ValueError):
            number("x", value, above=bound)


def test_optional_number_lets_none_through():
    assert optional_number("x", None, above=0) is None
    assert message(optional_number, "x", 0, above=0, rule="must be > 0 (or None)") == (
        "x=0: must be > 0 (or None)"
    )


def test_whole_accepts_integral_floats_only():
    assert whole("n", 3.0) == 3 and isinstance(whole("n", 3.0), int)
    assert message(whole, "n", 2.5) == "n=2.5: must be a whole number >= 0"
    assert message(whole, "n", 0, 1) == "n=0: must be a whole number >= 1"
    assert message(whole, "n", True) == "n=True: must be a whole number >= 0"
    assert message(whole, "n", "3", 1, rule="must be an integer >= 1") == (
        "n='3': must be an integer >= 1"
    )


def test_flag_takes_real_bools_only():
    assert flag("f", True) is True and flag("f", False) is False
    assert message(flag, "f", 1) == "f=1: must be true or false"
    assert message(flag, "f", "yes") == "f='yes': must be true or false"


def test_one_of_lists_the_choices():
    assert one_of("mode", "a", ("a", "b")) == "a"
    assert message(one_of, "mode", "c", ("a", "b")) == "mode='c': must be one of 'a', 'b'"


def test_numbers_gives_a_tuple_of_floats():
    assert numbers("xs", [1, 2.5]) == (1.0, 2.5)
    assert message(numbers, "xs", "0.03") == "xs='0.03': must be a list of numbers"
    assert message(numbers, "xs", 0.03) == "xs=0.03: must be a list of numbers"
    assert message(numbers, "xs", [1, True]) == "xs=[1, True]: must be a list of numbers"
    assert message(numbers, "xs", [1, math.inf]) == "xs=[1, inf]: must hold finite numbers"


def test_strictly_ascending_and_same_length():
    strictly_ascending("xs", (1.0, 2.0))
    assert (
        message(strictly_ascending, "xs", (1.0, 1.0)) == "xs=[1.0, 1.0]: must be strictly ascending"
    )
    same_length("sizes", (0.5,), "targets", (0.03,))
    assert message(same_length, "sizes", (0.5,), "targets", (0.03, 0.06)) == (
        "sizes=[0.5]: must have as many items as targets (2)"
    )


POLICIES = {
    "trailing_stops": "TrailingStopPolicy",
    "partial_manager": "PartialExitPolicy",
    "time_exits": "TimeExitPolicy",
    "mfe_mae_tracker": "MFEMAETracker",
    "correlation_engine": "CorrelationConfig",
    "dynamic_risk": "DynamicRiskConfig",
}


@pytest.mark.parametrize("module", [*POLICIES, "market_sessions", "excursions", "mfe_mae_analyzer"])
def test_policy_modules_raise_no_error_of_their_own_making(module):
    # Every error goes through validation.fail, so every message reads field=value: rule.
    tree = ast.parse(
        Path(importlib.import_module(f"freqtrade_posmgmt.{module}").__file__).read_text()
    )
    raised = [
        ast.unparse(node.exc)
        for node in ast.walk(tree)
        if isinstance(node, ast.Raise) and node.exc is not None
    ]
    assert [r for r in raised if not re.match(r"(validation\.|check\.)?fail\(", r)] == []


@pytest.mark.parametrize(("module", "name"), POLICIES.items())
def test_each_policy_names_an_unknown_field_and_the_known_ones_in_one_line(module, name):
    policy = getattr(importlib.import_module(f"freqtrade_posmgmt.{module}"), name)
    with pytest.raises(ValueError) as error:
        policy(no_such_field=1)
    known = ", ".join(f.name for f in dataclasses.fields(policy) if f.init)
    assert str(error.value) == f"no_such_field=1: unknown field; known fields: {known}"
