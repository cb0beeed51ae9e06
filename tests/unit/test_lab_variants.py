"""Sampling a lab space: seeded, within its ranges, validated by the package's policies."""

import numpy as np
import pytest

from freqtrade_posmgmt.lab import kernel
from freqtrade_posmgmt.lab.refusals import LabRefusal
from freqtrade_posmgmt.lab.variants import (
    base_variant,
    ladder_table,
    parameter_row,
    resolve,
    sample,
)
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy

STRATEGY = {
    "stoploss": -0.06,
    "trailing_stop": False,
    "trailing_stop_positive": None,
    "trailing_stop_positive_offset": 0.0,
    "trailing_only_offset_is_reached": False,
    "minimal_roi": {"0": 0.1},
    "use_exit_signal": True,
    "exit_profit_only": False,
    "exit_profit_offset": 0.0,
    "ignore_roi_if_entry_signal": False,
}
SPACE = {
    "strategy": {"stoploss": {"low": -0.1, "high": -0.02}},
    "trailing_stop": {
        "activation_threshold": {"low": 0.01, "high": 0.05},
        "atr_multiplier": [None, 2.0],
    },
    "time_exits": {"max_holding_hours": {"low": 6, "high": 48}},
}


def test_sample_is_seeded_within_the_space_and_starts_with_the_configured_variant():
    base = base_variant(STRATEGY, {"trailing_stop": TrailingStopPolicy()})
    variants = sample(SPACE, base, 50, seed=3)
    assert variants == sample(SPACE, base, 50, seed=3)
    assert variants != sample(SPACE, base, 50, seed=4)
    assert variants[0] is base
    for variant in variants[1:]:
        assert -0.1 <= variant["strategy"]["stoploss"] <= -0.02
        trailing = variant["posmgmt"]["trailing_stop"]
        assert 0.01 <= trailing["activation_threshold"] <= 0.05
        assert trailing["atr_multiplier"] in (None, 2.0)
        hours = variant["posmgmt"]["time_exits"]["max_holding_hours"]
        assert isinstance(hours, int) and 6 <= hours <= 48
        assert variant["posmgmt"]["partial_exits"] is None
    assert {v["posmgmt"]["trailing_stop"]["atr_multiplier"] for v in variants[1:]} == {None, 2.0}


def test_unknown_fields_and_unmodelled_sections_are_refused_by_name():
    base = base_variant(STRATEGY, {})
    with pytest.raises(LabRefusal, match="trailing_stop.activaton: unknown field"):
        sample({"trailing_stop": {"activaton": [0.1]}}, base, 2, 0)
    with pytest.raises(LabRefusal, match="space section 'correlation'"):
        sample({"correlation": {"max_correlated_positions": [2]}}, base, 2, 0)
    with pytest.raises(LabRefusal, match="dynamic_risk.performance_adjustment_enabled"):
        sample({"dynamic_risk": {"performance_adjustment_enabled": [True]}}, base, 2, 0)
    with pytest.raises(LabRefusal, match="dynamic_risk.tighten_stops"):
        sample({"dynamic_risk": {"tighten_stops": [True]}}, base, 2, 0)
    with pytest.raises(LabRefusal, match="partial_exits.breakeven_after_first_exit"):
        sample({"partial_exits": {"breakeven_after_first_exit": [True]}}, base, 2, 0)


def test_a_partial_exit_ladder_is_drawn_and_becomes_the_kernels_table():
    base = base_variant(STRATEGY, {})
    space = {"partial_exits": {"exit_targets": [[0.02, 0.05], [0.03]], "exit_sizes": [[0.5, 0.5]]}}
    variants = sample(space, base, 12, 3)
    # A draw whose sizes do not fit its targets fails the policy's validation and is redrawn.
    assert {tuple(v["posmgmt"]["partial_exits"]["exit_targets"]) for v in variants[1:]} == {
        (0.02, 0.05)
    }
    ladder = ladder_table(resolve(variants[1])["partial_exits"])
    assert ladder[:2].tolist() == [[0.02, 0.5], [0.05, 0.5]]
    assert np.isnan(ladder[2:]).all()
    with pytest.raises(LabRefusal, match="strategy.custom_price"):
        sample({"strategy": {"custom_price": [1]}}, base, 2, 0)


def test_a_trail_freqtrade_can_express_runs_as_its_builtin_trail_as_the_mixin_compiles_it():
    expressible = base_variant(
        STRATEGY, {"trailing_stop": TrailingStopPolicy(activation_threshold=0.02)}
    )
    params, _, _ = parameter_row(expressible)
    assert params[kernel.P_PM_TRAIL] == 0 and params[kernel.P_TRAILING_STOP] == 1
    assert params[kernel.P_TRAILING_POSITIVE] == 0.005
    assert params[kernel.P_TRAILING_OFFSET] == 0.02
    with_atr = base_variant(STRATEGY, {"trailing_stop": TrailingStopPolicy(atr_multiplier=2.0)})
    params, _, _ = parameter_row(with_atr)
    assert params[kernel.P_PM_TRAIL] == 1 and params[kernel.P_TRAILING_STOP] == 0
