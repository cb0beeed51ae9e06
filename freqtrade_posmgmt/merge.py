"""
How the capabilities' answers to one Freqtrade callback become one answer, one function per rule.
Framework-free: the dispatcher (``mixins/_base.py``) hands over plain values.

- :func:`merged_stop`: the tightest stop wins, and after a fill no capability loosens the stop
  in force;
- :func:`first_reason`: the first exit reason wins;
- :func:`every_consent`: an entry needs every capability's consent;
- :func:`settled_stake`: sizers first (their factors multiply), then every cap holds; a refusal
  (0) is final.
"""

import math
from collections.abc import Callable, Iterable


def tightest_stop(*ratios: float | None) -> float | None:
    """
    Merge ``custom_stoploss`` returns: the smallest distance from the current rate wins.
    None, 0, NaN and infinities mean "no change" to Freqtrade and are ignored.
    :return: the tightest ratio, or None if no ratio asks for a change
    """
    valid = [r for r in ratios if r is not None and r != 0 and math.isfinite(r)]
    return min(valid, key=abs) if valid else None


def loosens_stop(
    ratio: float | None,
    stop_in_force: float | None,
    current_rate: float,
    is_short: bool,
    leverage: float,
) -> bool:
    """
    True if Freqtrade, given ``ratio`` from ``custom_stoploss`` at ``current_rate``, would place
    the stop below ``stop_in_force`` (above it for shorts).
    """
    if ratio is None or ratio == 0 or not math.isfinite(ratio) or not stop_in_force:
        return False
    distance = abs(ratio / (leverage or 1.0))
    if is_short:
        return current_rate * (1 + distance) > stop_in_force
    return current_rate * (1 - distance) < stop_in_force


def merged_stop(
    ours: Iterable[float | None],
    theirs: float | None,
    after_fill: bool,
    loosens: Callable[[float | None], bool],
) -> float | None:
    """
    The stop of ``custom_stoploss``: the tightest of the capabilities' answers (``ours``) and
    the strategy's own (``theirs``). Freqtrade lets the call after a fill move the stop either
    way: there an answer of ours that would lower the stop in force is dropped, and while any
    answer of ours is given, neither may the strategy's own lower it; with no answer of ours,
    the strategy's own answer is its own.
    :param loosens: whether a ratio would lower the stop in force (see :func:`loosens_stop`)
    """
    answers = [ratio for ratio in ours if ratio is not None]
    if not answers:
        return theirs
    if after_fill:
        answers = [ratio for ratio in (*answers, theirs) if not loosens(ratio)]
    else:
        answers.append(theirs)
    return tightest_stop(*answers)


def first_reason(reasons: Iterable[str | None]) -> str | None:
    """The first exit reason given, None if none is; later answers are not asked for."""
    return next((reason for reason in reasons if reason is not None), None)


def every_consent(refusals: Iterable[str | None]) -> str | None:
    """The first refusal of an entry, None when every capability consents (asked lazily)."""
    return first_reason(refusals)


def settled_stake(
    stake: float,
    sizers: Iterable[Callable[[float], float]],
    caps: Iterable[Callable[[float], float]],
) -> float:
    """
    A positive ``stake`` after every sizer (each takes the stake so far, so factors multiply),
    then every cap (each takes the stake so far and returns at most it: a cap holds whatever a
    sizer did). A step returning 0 or less refuses the stake: 0, and no later step is asked.
    """
    for step in (*sizers, *caps):
        stake = step(stake)
        if not stake or stake <= 0:
            return 0.0
    return stake
