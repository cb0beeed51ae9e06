"""
Helpers shared by several test modules. Framework-free: the policy tests import it with
Freqtrade made unimportable (tests/unit/test_framework_free.py).
"""

import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from hypothesis import strategies as st

from freqtrade_posmgmt.partial_manager import (
    PartialExit,
    PartialExitPolicy,
    PositionState,
    ScaleIn,
)

FEE = 0.001
CLI = Path(sys.executable).parent / "freqtrade-posmgmt"


def run_cli(*args: str, cwd: Path, columns: int | None = None) -> subprocess.CompletedProcess:
    """
    Run ``freqtrade-posmgmt`` as a user would, from ``cwd``; ``columns``: the terminal width
    rich lays its tables out for (unset, it may abbreviate cells to fit 80).
    """
    env = None if columns is None else {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [str(CLI), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def ladder(**overrides) -> PartialExitPolicy:
    """The seed README's ladder: 25% at 3%, 25% at 6%, the rest at 10%."""
    values = {"exit_targets": [0.03, 0.06, 0.10], "exit_sizes": [0.25, 0.25, 0.5]}
    return PartialExitPolicy(**(values | overrides))


def adds(**overrides) -> PartialExitPolicy:
    """The ladder with two DCA levels and one add to a winner."""
    values = {
        "scale_in_thresholds": [-0.10, -0.05, 0.02],
        "scale_in_sizes": [1.0, 0.5, 0.25],
        "max_scale_ins": 3,
    }
    return ladder(**(values | overrides))


def only_exit(policy: PartialExitPolicy, position: PositionState, price: float, **kwargs):
    """The one exit ``check_partial_exits`` lists, or None when its list is empty."""
    exits = policy.check_partial_exits(position, price, **kwargs)
    assert isinstance(exits, list) and len(exits) <= 1
    return exits[0] if exits else None


def apply_partial_exit(position: PositionState, action: PartialExit) -> PositionState:
    """The position after ``action`` filled at its price (never selling more than held)."""
    return replace(
        position,
        current_size=position.current_size - min(action.amount, position.current_size),
        partial_exits_taken=position.partial_exits_taken.union(action.levels),
        partly_exited=True,
    )


def apply_scale_in(position: PositionState, action: ScaleIn) -> PositionState:
    """The position after ``action`` filled at its price: larger, with a new average entry."""
    added = action.stake * position.leverage / action.price
    size = position.current_size + added
    return replace(
        position,
        entry_price=(position.current_size * position.entry_price + added * action.price) / size,
        current_size=size,
        peak_size=max(position.peak_size, size),
        scale_ins_taken=position.scale_ins_taken.union(action.levels),
    )


@st.composite
def policies(draw) -> PartialExitPolicy:
    n_targets = draw(st.integers(0, 4))
    targets = sorted(draw(st.sets(st.integers(1, 40), min_size=n_targets, max_size=n_targets)))
    weights = draw(st.lists(st.integers(1, 10), min_size=n_targets, max_size=n_targets))
    whole = draw(st.booleans())
    total = sum(weights) if whole else sum(weights) + draw(st.integers(0, 10))
    thresholds = sorted(
        draw(st.sets(st.integers(-30, 30).filter(bool), min_size=0 if n_targets else 1, max_size=4))
    )
    return PartialExitPolicy(
        exit_targets=[t / 100 for t in targets],
        exit_sizes=[w / total for w in weights],
        scale_in_thresholds=[t / 100 for t in thresholds],
        scale_in_sizes=draw(
            st.lists(st.floats(0.1, 2.0), min_size=len(thresholds), max_size=len(thresholds))
        ),
        max_scale_ins=draw(st.none() | st.integers(1, len(thresholds))) if thresholds else None,
        scale_in_after_exit=draw(st.booleans()),
    )


# Candle-to-candle moves in basis points around a drawn trend, so paths reach the targets.
paths = st.integers(-150, 150).flatmap(
    lambda trend: st.lists(
        st.integers(-500, 500).map(lambda move: move + trend), min_size=5, max_size=40
    )
)


def walk(start: float, moves: list[int]) -> list[float]:
    prices, price = [], start
    for move in moves:
        price *= math.exp(move / 10_000)
        prices.append(price)
    return prices
