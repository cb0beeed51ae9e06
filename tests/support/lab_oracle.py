"""
The exit lab against Freqtrade's backtester: lab data built on the harness's temporary user_data,
random variants, and Freqtrade's trades for them (compared by ``lab.verify.differences``).
"""

import random
from typing import Any

from freqtrade_posmgmt.dynamic_risk import DynamicRiskConfig
from freqtrade_posmgmt.lab import data as lab_data
from freqtrade_posmgmt.lab.variants import OFF_SECTIONS, policy_dict
from freqtrade_posmgmt.lab.verify import differences, freqtrade_records, variant_config
from freqtrade_posmgmt.partial_manager import PartialExitPolicy
from tests.support.backtest_harness import backtesting_for, deep_merge, run_backtest


def load_lab_data(strategy: type, **run: Any) -> lab_data.LabData:
    """The lab's data for the run ``run_backtest`` would make with the same arguments."""
    with backtesting_for(strategy, **run) as backtesting:
        return lab_data.load(backtesting)


SESSION = {"name": "NYSE", "calendar": "XNYS"}
# Every time rule: holding time (added at random), weekend with and without a session, end of
# day, flat outside the session, entries only while it is open.
TIME_EXITS = [
    {"max_holding_hours": 24},
    {"weekend_flat": True},
    {"weekend_flat": True, "market_timezone": "Asia/Tokyo"},
    {"end_of_day_flat": True, "market_session": SESSION, "exit_minutes_before_close": 30},
    {"time_restrictions": {"no_overnight": True}, "market_session": SESSION},
    {
        "time_restrictions": {"trading_hours_only": True, "no_weekend": True},
        "market_session": {
            "name": "Frankfurt",
            "timezone": "Europe/Berlin",
            "open_time": "09:00",
            "close_time": "17:30",
            "days_of_week": [1, 2, 3, 4, 5],
        },
    },
]


def random_variant(rng: random.Random) -> dict[str, Any]:
    """A variant drawing every modelled exit: stop, ROI, built-in and package trails, time."""
    roi: dict[str, float] = {}
    if rng.random() < 0.8:
        minutes = 0
        value = rng.uniform(0.03, 0.15)
        for _ in range(rng.randint(1, 4)):
            roi[str(minutes)] = round(value, 4)
            minutes += rng.choice([60, 120, 300, 720])
            value *= rng.uniform(0.3, 0.9)
    else:
        roi = {"0": 10.0}
    builtin = rng.random() < 0.3
    positive = round(rng.uniform(0.003, 0.03), 4)
    # Freqtrade's config validation: an offset, if any, above the positive distance.
    offset = round(positive + rng.uniform(0.001, 0.03), 4) if rng.random() < 0.7 else 0.0
    with_positive = builtin and rng.random() < 0.8
    strategy = {
        "stoploss": round(-rng.uniform(0.015, 0.12), 4),
        "trailing_stop": builtin,
        "trailing_stop_positive": positive if with_positive else None,
        "trailing_stop_positive_offset": offset,
        "trailing_only_offset_is_reached": with_positive and offset > 0 and rng.random() < 0.6,
        "minimal_roi": roi,
        "use_exit_signal": rng.random() < 0.7,
        "exit_profit_only": rng.random() < 0.2,
        "exit_profit_offset": round(rng.uniform(0, 0.01), 4),
        "ignore_roi_if_entry_signal": rng.random() < 0.2,
    }
    trailing = None
    if not builtin and rng.random() < 0.7:
        activation = round(rng.uniform(0.0, 0.05), 4)
        trailing = {
            "activation_threshold": activation,
            "trailing_distance_pct": round(rng.uniform(0.002, 0.03), 4),
            "atr_multiplier": round(rng.uniform(0.5, 4), 2) if rng.random() < 0.4 else None,
            "breakeven_threshold": round(rng.uniform(0.004, 0.03), 4)
            if rng.random() < 0.4
            else None,
            "breakeven_buffer": 0.001,
            "profit_locks": [[0.03, 0.01], [0.06, 0.03]] if rng.random() < 0.3 else [],
            "trail_on": "candle_close" if rng.random() < 0.3 else "current_rate",
        }
    time_exits = None
    if strategy["use_exit_signal"] and rng.random() < 0.5:
        time_exits = rng.choice(TIME_EXITS)
        if rng.random() < 0.5:
            time_exits = {**time_exits, "max_holding_hours": rng.choice([3, 6, 12.5, 24, 48])}
    posmgmt: dict[str, Any] = {
        "trailing_stop": trailing,
        "time_exits": time_exits,
        "partial_exits": random_ladder(rng) if rng.random() < 0.5 else None,
        "dynamic_risk": random_risk(rng) if rng.random() < 0.4 else None,
    }
    posmgmt.update({name: None for name in OFF_SECTIONS})
    posmgmt["mfe_mae"] = None
    return {"strategy": strategy, "posmgmt": posmgmt}


def random_ladder(rng: random.Random) -> dict[str, Any]:
    """
    A take-profit ladder of one to three targets; its sizes sell a part of the peak or all of
    it (the last target's order then closes the trade under its tag); none to two scale-ins,
    mostly on drawdowns (DCA), sometimes without targets.
    """
    levels = rng.randint(1, 3)
    target = rng.uniform(0.004, 0.03)
    targets = []
    for _ in range(levels):
        targets.append(round(target, 4))
        target *= rng.uniform(1.3, 2.5)
    shares = [rng.choice([1, 2, 3]) for _ in range(levels)]
    whole = rng.random() < 0.4
    total = sum(shares) if whole else sum(shares) / rng.choice([0.25, 0.5, 0.8])
    adds = sorted(
        {
            round(rng.uniform(0.005, 0.05) * rng.choice([-1, -1, 1]), 4)
            for _ in range(rng.randint(0, 2))
        }
    )
    if rng.random() < 0.2:
        targets = shares = []  # scale-ins alone
        adds = adds or [-0.01]
    # Every field written: config.json's section is laid over the mixin's Parameters, whose
    # default ladder scales in.
    ladder = PartialExitPolicy(
        exit_targets=targets,
        exit_sizes=[s / total for s in shares],
        scale_in_thresholds=adds,
        scale_in_sizes=[rng.choice([0.25, 0.5, 1.0]) for _ in adds],
        max_scale_ins=rng.choice([None, 1]) if adds else None,
        scale_in_after_exit=rng.random() < 0.5,
        scale_in_min_candles=rng.choice([0, 0, 3]),
    )
    return policy_dict(ladder)


def random_risk(rng: random.Random) -> dict[str, Any]:
    """
    Drawdown tiers shallow enough to bind within a few weeks, gradual recovery, and (mostly)
    volatility bands around the shipped pairs' daily volatility.
    """
    levels = rng.randint(1, 3)
    first = rng.uniform(0.002, 0.02)
    low = rng.uniform(0.01, 0.03)
    risk = DynamicRiskConfig(
        drawdown_thresholds=[round(first * n, 4) for n in range(1, levels + 1)],
        risk_reduction_factors=[round(1 - 0.25 * n, 2) for n in range(1, levels + 1)],
        recovery_thresholds=sorted({round(rng.uniform(0.001, 0.01), 4), 0.02}),
        volatility_adjustment_enabled=rng.random() < 0.7,
        volatility_window_days=rng.choice([7, 14, 30]),
        low_volatility_threshold=round(low, 4),
        high_volatility_threshold=round(low + rng.uniform(0.003, 0.02), 4),
        volatility_risk_multipliers=[rng.choice([0.5, 0.7]), rng.choice([1.0, 1.2])],
        performance_adjustment_enabled=False,
        tighten_stops=False,
    )
    return policy_dict(risk)


def freqtrade_trades(strategy: type, variant: dict, **kwargs: Any) -> list[dict[str, Any]]:
    """Freqtrade's trades for ``variant``, as the lab's ``trade_records`` writes them."""
    config = deep_merge(variant_config(variant), kwargs.pop("config", None) or {})
    return freqtrade_records(run_backtest(strategy, config=config, **kwargs).trades)


__all__ = ["differences", "freqtrade_trades", "load_lab_data", "random_variant"]
