"""
The exit lab equals Freqtrade's backtester trade for trade (issue 20): 200 seeded random variants
over every modelled exit (fixed stop, ROI tables, built-in trailing with positive/offset/
only-offset, the package's percent and ATR trailing with activation, breakeven and profit locks,
exit signal with exit_profit_only, every time rule: max holding, weekend, end of day, flat and
entries only in session; partial-exit ladders selling part of the peak or all of it and scale-ins
(DCA and adds to winners, merged levels, caps, waits); dynamic
risk's drawdown tiers with recovery and volatility bands; force exit at the end), spot longs and
futures shorts with leverage 3, unlimited slots with a fixed stake and max_open_trades 3 with
the "unlimited" stake. Lab data come from Freqtrade's own data path once per configuration;
Freqtrade runs every variant in full. Each trade's filled orders (entry, partial exits, last exit)
are compared too: times, sides, amounts and rates.
"""

import random

import pytest
from example_strategy import ExampleStrategy

from freqtrade_posmgmt import PositionManagementMixin
from freqtrade_posmgmt.lab.runner import variant_records
from tests.support.lab_oracle import differences, freqtrade_trades, load_lab_data, random_variant
from tests.support.strategies import ExampleShort


class LabLong(PositionManagementMixin, ExampleStrategy):
    pass


class LabShort(PositionManagementMixin, ExampleShort):
    pass


# Eight pairs: with four, three slots never bound on these weeks; with eight they bind in most
# variants, so the slot and wallet rules are what is compared.
EIGHT_PAIRS = [
    "BTC/USDT",
    "ETH/USDT",
    "SOL/USDT",
    "XRP/USDT",
    "ADA/USDT",
    "DOGE/USDT",
    "LINK/USDT",
    "AVAX/USDT",
]
# name: (strategy, run arguments, variants)
CONFIGURATIONS = {
    "spot-unlimited-slots": (
        LabLong,
        {
            "pairs": ["BTC/USDT"],
            "timerange": "20250101-20250201",
            "config": {"max_open_trades": -1, "stake_amount": 1000},
        },
        60,
    ),
    "spot-3-slots": (
        LabLong,
        {
            "pairs": EIGHT_PAIRS,
            "timerange": "20250101-20250120",
            "config": {"max_open_trades": 3, "stake_amount": "unlimited"},
        },
        40,
    ),
    "futures-short-unlimited-slots": (
        LabShort,
        {
            "pairs": ["ETH/USDT"],
            "timerange": "20250101-20250201",
            "trading_mode": "futures",
            "leverage": 3.0,
            "config": {"max_open_trades": -1, "stake_amount": 500},
        },
        60,
    ),
    "futures-short-3-slots": (
        LabShort,
        {
            "pairs": EIGHT_PAIRS,
            "timerange": "20250101-20250120",
            "trading_mode": "futures",
            "leverage": 3.0,
            "config": {"max_open_trades": 3, "stake_amount": "unlimited"},
        },
        40,
    ),
}


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_lab_equals_freqtrade_trade_for_trade(name):
    strategy, run, count = CONFIGURATIONS[name]
    data = load_lab_data(strategy, **run)
    rng = random.Random(f"lab-parity-{name}")
    compared = 0
    partial_orders = 0
    scale_ins = 0
    resized = 0
    failures = []
    for index in range(count):
        variant = random_variant(rng)
        lab = variant_records(data, variant)
        theirs = freqtrade_trades(strategy, variant, **run)
        compared += len(theirs)
        # Orders beyond a trade's entry and last exit: partial exits and scale-ins.
        partial_orders += sum(len(trade["orders"]) - 2 for trade in theirs)
        scale_ins += sum(
            sum(not is_exit for _, is_exit, _, _ in trade["orders"]) - 1 for trade in theirs
        )
        if variant["posmgmt"]["dynamic_risk"]:
            unsized = {**variant, "posmgmt": {**variant["posmgmt"], "dynamic_risk": None}}
            resized += differences(variant_records(data, unsized), lab) != []
        found = differences(lab, theirs)
        if found:
            failures.append(f"variant {index} {variant}: {found[0]}")
    # What was compared, for `pytest -s`.
    print(
        f"{name}: {count} variants, {compared} trades, {partial_orders} orders beyond entry and exit"
    )
    print(f"  ({scale_ins} scale-ins), {resized} variants resized by dynamic risk")
    assert not failures, f"{len(failures)}/{count} variants differ; first: {failures[0]}"
    assert compared > count  # the variants traded
    assert partial_orders > count / 10  # and took profits on their ladders
    assert scale_ins > count / 20  # and added to positions
    assert resized > count / 20  # and dynamic risk resized entries
