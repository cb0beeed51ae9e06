"""
Exit variants: what a space names, sampled, validated by the package's own policies, and turned
into the kernel's parameter rows. Framework-free.

A variant is ``{"strategy": {FIELD: value}, "posmgmt": {"trailing_stop": {...} | None,
"time_exits": {...} | None, ...}}``: the strategy's exit attributes and the ``posmgmt`` sections
exactly as config.json takes them.
"""

import dataclasses
import functools
import json
import random
from typing import Any

import numpy as np

from freqtrade_posmgmt.dynamic_risk import DynamicRiskConfig
from freqtrade_posmgmt.lab import kernel
from freqtrade_posmgmt.lab.refusals import STRATEGY_FIELDS, LabRefusal, check_policies
from freqtrade_posmgmt.partial_manager import PartialExitPolicy
from freqtrade_posmgmt.time_exits import TimeExitPolicy
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy

POLICY_CLASSES = {
    "trailing_stop": TrailingStopPolicy,
    "time_exits": TimeExitPolicy,
    "partial_exits": PartialExitPolicy,
    "dynamic_risk": DynamicRiskConfig,
}
OFF_SECTIONS = ("correlation",)
# What a space drawing a section the config leaves off starts from: every field, since
# config.json's section is laid over the mixin's Parameters (whose default ladder scales in).
SECTION_STARTS = {
    "partial_exits": {"exit_targets": [0.04], "exit_sizes": [0.5], "max_scale_ins": 0},
    # What the lab models of dynamic risk: drawdown tiers and volatility.
    "dynamic_risk": {"performance_adjustment_enabled": False, "tighten_stops": False},
}
MAX_ROI_STEPS = 16
MAX_LOCKS = 8


def policy_dict(policy: Any) -> dict[str, Any] | None:
    """A policy as config.json's ``posmgmt`` section takes it (every init field)."""
    if policy is None:
        return None
    values = {}
    for f in dataclasses.fields(policy):
        if not f.init:
            continue
        value = getattr(policy, f.name)
        if dataclasses.is_dataclass(value):
            value = json.loads(json.dumps(dataclasses.asdict(value), default=str))
        elif isinstance(value, tuple):
            value = [list(item) if isinstance(item, tuple) else item for item in value]
        values[f.name] = value
    return values


def base_variant(strategy_values: dict[str, Any], policies: dict[str, Any]) -> dict[str, Any]:
    """The variant of the strategy and config as they are."""
    posmgmt: dict[str, Any] = {name: policy_dict(policies.get(name)) for name in POLICY_CLASSES}
    posmgmt.update({name: None for name in OFF_SECTIONS})
    return {"strategy": dict(strategy_values), "posmgmt": posmgmt}


def sample_value(spec: Any, rng: random.Random) -> Any:
    """A list is a choice; ``{"low": a, "high": b}`` a uniform range (integers stay integers)."""
    if isinstance(spec, list):
        return rng.choice(spec)
    if isinstance(spec, dict) and set(spec) == {"low", "high"}:
        low, high = spec["low"], spec["high"]
        if isinstance(low, int) and isinstance(high, int):
            return rng.randint(low, high)
        return round(rng.uniform(low, high), 6)
    return spec


def sample(space: dict[str, Any], base: dict[str, Any], count: int, seed: int) -> list[dict]:
    """
    ``count`` variants of ``base`` with the fields ``space`` names drawn (seeded); the first is
    ``base`` itself. Each is validated by the package's policies.
    :raise LabRefusal: a field the lab does not know
    """
    rng = random.Random(seed)
    variants = [base]
    error: Exception | None = None
    for section, fields in space.items():
        if section != "strategy" and section not in POLICY_CLASSES:
            raise LabRefusal(
                f"space section {section!r} (the lab models: strategy, {', '.join(POLICY_CLASSES)})"
            )
        known = (
            set(STRATEGY_FIELDS)
            if section == "strategy"
            else {f.name for f in dataclasses.fields(POLICY_CLASSES[section]) if f.init}
            | {"enabled"}
        )
        for name in fields:
            if name not in known:
                raise LabRefusal(
                    f"{section}.{name}: unknown field; known: {', '.join(sorted(known))}"
                )
    attempts = 0
    while len(variants) < count:
        attempts += 1
        if attempts > 100 * count:
            raise LabRefusal(f"the space's draws keep failing the policies' validation: {error}")
        variant = {"strategy": dict(base["strategy"]), "posmgmt": dict(base["posmgmt"])}
        for section, fields in space.items():
            drawn = {name: sample_value(spec, rng) for name, spec in fields.items()}
            if section == "strategy":
                variant["strategy"].update(drawn)
                continue
            current = variant["posmgmt"][section]
            if drawn.pop("enabled", True) is False:
                variant["posmgmt"][section] = None
                continue
            start = policy_dict(POLICY_CLASSES[section](**SECTION_STARTS.get(section, {})))
            merged = dict(current or start)
            merged.update(drawn)
            variant["posmgmt"][section] = merged
        try:
            resolve(variant)
        except (ValueError, TypeError) as rejected:
            error = rejected
            continue  # a draw the policy rejects (e.g. breakeven below its buffer): draw again
        variants.append(variant)
    return variants


@functools.lru_cache(maxsize=4096)
def _policy(section: str, values: str) -> Any:
    # Sessions build calendars: variants sharing a section share its policy object.
    return POLICY_CLASSES[section](**json.loads(values))


def resolve(variant: dict[str, Any]) -> dict[str, Any]:
    """The variant's policies, built and validated by the package's own dataclasses."""
    policies = {}
    for section in POLICY_CLASSES:
        values = variant["posmgmt"].get(section)
        policies[section] = (
            None if values is None else _policy(section, json.dumps(values, sort_keys=True))
        )
    for section in OFF_SECTIONS:
        policies[section] = variant["posmgmt"].get(section)
    check_policies(policies)
    return policies


def _trail_choice(policy: TrailingStopPolicy | None, strategys: tuple) -> tuple:
    """
    TrailingStopMixin's choice: a policy Freqtrade's built-in trail expresses replaces the
    strategy's built-in trail fields (unless the strategy trails on its own); any other runs in
    custom_stoploss beside them. Returns the built-in fields and whether the custom path runs.
    """
    if policy is None:
        return (*strategys, False)
    builtin = (True, policy.trailing_distance_pct, policy.activation_threshold, True)
    users_own = strategys[0] and strategys != builtin
    if policy.is_builtin_expressible() and not users_own:
        return (*builtin, False)
    return (*strategys, True)


def _tables(minimal_roi: dict, policy: TrailingStopPolicy | None) -> tuple:
    """The ROI table and the profit locks as the kernel's NaN-padded arrays."""
    roi = np.full((MAX_ROI_STEPS, 2), np.nan)
    steps = sorted((int(k), float(v)) for k, v in minimal_roi.items())
    if len(steps) > MAX_ROI_STEPS:
        raise LabRefusal(f"minimal_roi with more than {MAX_ROI_STEPS} steps")
    for k, (minutes, value) in enumerate(steps):
        roi[k] = minutes, value
    locks = np.full((MAX_LOCKS, 2), np.nan)
    if policy is not None:
        if len(policy.profit_locks) > MAX_LOCKS:
            raise LabRefusal(f"more than {MAX_LOCKS} profit_locks")
        for k, lock in enumerate(policy.profit_locks):
            locks[k] = lock
    return roi, locks


def ladder_table(policy: PartialExitPolicy | None) -> np.ndarray:
    """The partial-exit ladder as the kernel's NaN-padded rows (target, size)."""
    return _levels(policy and (policy.exit_targets, policy.exit_sizes), "exit_targets")


def scale_in_table(policy: PartialExitPolicy | None) -> np.ndarray:
    """The scale-ins as the kernel's NaN-padded rows (threshold, size)."""
    return _levels(
        policy and (policy.scale_in_thresholds, policy.scale_in_sizes), "scale_in_thresholds"
    )


def _levels(columns: tuple | None, name: str) -> np.ndarray:
    table = np.full((kernel.MAX_TARGETS, 2), np.nan)
    if columns:
        if len(columns[0]) > kernel.MAX_TARGETS:
            raise LabRefusal(f"more than {kernel.MAX_TARGETS} partial_exits.{name}")
        for k, row in enumerate(zip(*columns, strict=True)):
            table[k] = row
    return table


def risk_tables(policy: DynamicRiskConfig | None) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic risk's tiers, rows (threshold, factor), and recovery thresholds, NaN-padded."""
    tiers = np.full((kernel.MAX_TIERS, 2), np.nan)
    recovery = np.full(kernel.MAX_TIERS, np.nan)
    if policy is not None and policy.enabled:
        rows = list(zip(policy.drawdown_thresholds, policy.risk_reduction_factors, strict=True))
        if len(rows) > kernel.MAX_TIERS or len(policy.recovery_thresholds) > kernel.MAX_TIERS:
            raise LabRefusal(f"dynamic_risk with more than {kernel.MAX_TIERS} tiers or recoveries")
        for k, row in enumerate(rows):
            tiers[k] = row
        recovery[: len(policy.recovery_thresholds)] = policy.recovery_thresholds
    return tiers, recovery


def parameter_row(variant: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    The kernel's (params, roi, locks) for a variant, with the TrailingStopMixin's choice between
    Freqtrade's built-in trailing stop and ``custom_stoploss``.
    """
    s = variant["strategy"]
    policies = resolve(variant)
    params = np.full(kernel.N_PARAMS, np.nan)
    trailing = bool(s["trailing_stop"])
    positive = s["trailing_stop_positive"]
    offset = s["trailing_stop_positive_offset"]
    only_offset = bool(s["trailing_only_offset_is_reached"])
    policy: TrailingStopPolicy | None = policies["trailing_stop"]
    trailing, positive, offset, only_offset, pm_trail = _trail_choice(
        policy, (trailing, positive, offset, only_offset)
    )
    if policy is not None:
        params[kernel.P_ACTIVATION] = policy.activation_threshold
        params[kernel.P_DISTANCE] = policy.trailing_distance_pct
        if policy.atr_multiplier is not None:
            params[kernel.P_ATR_MULTIPLIER] = policy.atr_multiplier
        if policy.breakeven_threshold is not None:
            params[kernel.P_BREAKEVEN_THRESHOLD] = policy.breakeven_threshold
        params[kernel.P_BREAKEVEN_BUFFER] = policy.breakeven_buffer
        params[kernel.P_TRAIL_ON_CLOSE] = policy.trails_on_candle_close
    params[kernel.P_STOPLOSS] = s["stoploss"]
    params[kernel.P_TRAILING_STOP] = trailing
    if positive is not None:
        params[kernel.P_TRAILING_POSITIVE] = positive
    params[kernel.P_TRAILING_OFFSET] = offset or 0.0
    params[kernel.P_TRAILING_ONLY_OFFSET] = only_offset
    params[kernel.P_USE_EXIT_SIGNAL] = bool(s["use_exit_signal"])
    params[kernel.P_EXIT_PROFIT_ONLY] = bool(s["exit_profit_only"])
    params[kernel.P_EXIT_PROFIT_OFFSET] = s["exit_profit_offset"]
    params[kernel.P_IGNORE_ROI_IF_ENTRY] = bool(s["ignore_roi_if_entry_signal"])
    params[kernel.P_PM_TRAIL] = pm_trail
    time_policy: TimeExitPolicy | None = policies["time_exits"]
    params[kernel.P_MAX_HOLDING_US] = -1
    if time_policy is not None:
        if not s["use_exit_signal"]:
            raise LabRefusal("use_exit_signal=False with time exits (the mixin refuses it)")
        if time_policy._hold_us is not None:
            params[kernel.P_MAX_HOLDING_US] = time_policy._hold_us
    risk: DynamicRiskConfig | None = policies["dynamic_risk"]
    params[kernel.P_RISK] = risk is not None and risk.enabled
    if risk is not None and risk.volatility_adjustment_enabled:
        params[kernel.P_VOLATILITY_HIGH] = risk.high_volatility_threshold
        params[kernel.P_VOLATILITY_LOW] = risk.low_volatility_threshold
        high, low = risk.volatility_risk_multipliers
        params[kernel.P_VOLATILITY_HIGH_FACTOR] = high
        params[kernel.P_VOLATILITY_LOW_FACTOR] = low
    partial: PartialExitPolicy | None = policies["partial_exits"]
    params[kernel.P_MAX_SCALE_INS] = 0 if partial is None else partial.scale_in_cap
    if partial is not None:
        params[kernel.P_SCALE_IN_AFTER_EXIT] = partial.scale_in_after_exit
        params[kernel.P_SCALE_IN_MIN_CANDLES] = partial.scale_in_min_candles
    roi, locks = _tables(s["minimal_roi"], policy)
    return params, roi, locks


TRAILING_FIELDS = (
    "trailing_stop",
    "trailing_stop_positive",
    "trailing_stop_positive_offset",
    "trailing_only_offset_is_reached",
)


def export_strategy(values: dict[str, Any]) -> dict[str, Any]:
    """
    A variant's strategy fields as config.json keys. Without a built-in trailing stop its fields
    stay out: a config key ``trailing_stop`` is applied after the mixins compiled a trailing
    policy to Freqtrade's built-in stop, and would switch that off.
    """
    keep = {k: v for k, v in values.items() if v is not None}
    if not values.get("trailing_stop"):
        for name in TRAILING_FIELDS:
            keep.pop(name, None)
    return keep


def atr_period(variant: dict[str, Any]) -> int | None:
    """The ATR period the variant's trailing policy reads, None if it reads no ATR."""
    values = variant["posmgmt"].get("trailing_stop")
    if not values or values.get("atr_multiplier") is None:
        return None
    return int(values.get("atr_period", 14))
