"""
Cost of time exits (ten pairs, whole span, 1h) against the same strategy with a no-op
``custom_exit``, the callback every time rule runs on.

- ``time_exits_evaluated``: every rule is evaluated on every call but none ever fires (a 24/7
  session has no weekend and is never closed; the holding limit is out of reach), so the trades
  are the baseline's and the ratio is the pure overhead. Target: <= 1.10.
- ``time_exits_nyse``: what a user would run: the NYSE calendar (holidays, early closes),
  flat at each close, at weekends and after 48 hours. Its trades differ; reported for scale.
"""

from datetime import datetime

from example_strategy import ExampleStrategy
from freqtrade.persistence import Trade

from freqtrade_posmgmt.mixins.time_exits import TimeExitMixin
from freqtrade_posmgmt.time_exits import MarketSessionDef, TimeExitPolicy, TimeRestrictions
from tests.benchmarks.bench import Target, Variant, main


class NoopCustomExit(ExampleStrategy):
    def custom_exit(
        self,
        pair: str,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        **kwargs,
    ) -> str | None:
        return None


ALWAYS_OPEN = MarketSessionDef("always open", is_24h=True)


class TimeExitsEvaluated(TimeExitMixin, ExampleStrategy):
    time_exit_policy = TimeExitPolicy(
        max_holding_hours=1_000_000,
        weekend_flat=True,
        market_session=ALWAYS_OPEN,
        time_restrictions=TimeRestrictions(no_overnight=True, trading_hours_only=True),
    )


class TimeExitsNyse(TimeExitMixin, ExampleStrategy):
    time_exit_policy = TimeExitPolicy(
        max_holding_hours=48,
        end_of_day_flat=True,
        weekend_flat=True,
        market_session=MarketSessionDef("NYSE", calendar="XNYS"),
    )


MODULE = "tests.benchmarks.bench_time_exits"
VARIANTS = [
    Variant("noop_custom_exit", f"{MODULE}:NoopCustomExit"),
    Variant("time_exits_evaluated", f"{MODULE}:TimeExitsEvaluated"),
    Variant("time_exits_nyse", f"{MODULE}:TimeExitsNyse"),
]
TARGETS = [
    Target("time_exits_evaluated", "noop_custom_exit", at_most=1.10),
    Target("time_exits_nyse", "noop_custom_exit"),
]

if __name__ == "__main__":
    main(VARIANTS, TARGETS)
