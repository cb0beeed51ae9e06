"""The merge rules, one function each (freqtrade_posmgmt.merge): framework-free, property-tested."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freqtrade_posmgmt.merge import (
    every_consent,
    first_reason,
    loosens_stop,
    merged_stop,
    settled_stake,
)

ANSWER = st.one_of(st.none(), st.floats(0.0001, 0.9))


def ratio_for(stop: float, rate: float, is_short: bool = False) -> float:
    return (stop / rate - 1) if is_short else (1 - stop / rate)


def stop_price(ratio: float, rate: float, leverage: float, is_short: bool = False) -> float:
    """Where Freqtrade places the stop a ``custom_stoploss`` ratio asks for."""
    distance = abs(ratio) / leverage
    return rate * (1 + distance) if is_short else rate * (1 - distance)


@pytest.mark.parametrize("is_short", [False, True])
def test_breakeven_alone_does_not_drop_the_stop_after_a_fill(is_short):
    # In force 106.5; the breakeven at 100.21 would drop it (mirrored for a short).
    in_force, breakeven, rate = (93.5, 99.79, 90.0) if is_short else (106.5, 100.21, 110.0)

    def loosens(ratio):
        return loosens_stop(ratio, in_force, rate, is_short, 1.0)

    ours = ratio_for(breakeven, rate, is_short)
    assert merged_stop([ours], None, True, loosens) is None
    # Outside the after-fill call Freqtrade only ever raises the stop: the answer stands.
    assert merged_stop([ours], None, False, loosens) == ours
    # A tighter answer after a fill still moves the stop.
    tighter = ratio_for(108.0 if not is_short else 92.0, rate, is_short)
    assert merged_stop([tighter], None, True, loosens) == tighter


@given(
    in_force=st.floats(50, 150),
    rate=st.floats(151, 200),
    ours=st.lists(ANSWER, max_size=4),
    theirs=ANSWER,
    leverage=st.sampled_from([1.0, 3.0]),
    is_short=st.booleans(),
)
def test_after_a_fill_the_merged_stop_never_loosens_the_stop_in_force(
    in_force, rate, ours, theirs, leverage, is_short
):
    if is_short:
        in_force, rate = rate, in_force  # a short's stop sits above the rate

    def loosens(ratio):
        return loosens_stop(ratio, in_force, rate, is_short, leverage)

    answers = [a and -a for a in ours]
    merged = merged_stop(answers, theirs and -theirs, True, loosens)
    if any(a is not None for a in answers):
        if merged is not None:
            placed = stop_price(merged, rate, leverage, is_short)
            assert placed <= in_force if is_short else placed >= in_force
    else:
        assert merged == (theirs and -theirs)  # the user's own answer is the user's


@given(ours=st.lists(ANSWER, max_size=4), theirs=ANSWER, after_fill=st.booleans())
def test_the_merged_stop_is_never_looser_than_any_answer_that_holds(ours, theirs, after_fill):
    def loosens(ratio):
        return False  # no stop in force yet: every answer holds

    answers = [a and -a for a in ours]
    merged = merged_stop(answers, theirs and -theirs, after_fill, loosens)
    given_ = [a for a in (*answers, theirs and -theirs) if a is not None]
    if not any(a is not None for a in answers):
        assert merged == (theirs and -theirs)
    elif given_:
        assert merged in given_
        assert all(abs(merged) <= abs(a) for a in given_)


@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))))
def test_the_first_reason_wins(reasons):
    given_ = [r for r in reasons if r is not None]
    assert first_reason(reasons) == (given_[0] if given_ else None)


def test_every_consent_stops_asking_at_the_first_refusal():
    asked = []

    def refusals():
        for answer in (None, "closed", "never asked"):
            asked.append(answer)
            yield answer

    assert every_consent(refusals()) == "closed"
    assert asked == [None, "closed"]
    assert every_consent([None, None]) is None


@given(
    stake=st.floats(1, 10_000),
    factors=st.lists(st.floats(0, 3), max_size=3),
    caps=st.lists(st.floats(0, 10_000), max_size=3),
)
def test_a_settled_stake_never_exceeds_any_cap_and_factors_multiply(stake, factors, caps):
    settled = settled_stake(
        stake,
        [lambda s, f=f: s * f for f in factors],
        [lambda s, c=c: min(s, c) for c in caps],
    )
    assert all(settled <= cap for cap in caps)
    if not caps:
        expected = stake
        for factor in factors:
            expected *= factor
        assert settled == (expected if expected > 0 else 0.0)


def test_a_refused_stake_stays_refused():
    later = []
    assert settled_stake(100.0, [lambda s: 0.0], [lambda s: later.append(s) or s]) == 0.0
    assert later == []
