"""
Cost of the whole stack (ten pairs, whole span, 1h).

- ``full_stack``: ``ExampleManagedStrategy``, all six capabilities on, against
  ``noop_callbacks`` (every position-management callback present and doing nothing, the
  machinery's floor). Target: <= 1.15.
- ``stack_off``: ``PositionManagementMixin`` with every capability switched off, against the
  plain ``example`` strategy. Target: <= 1.02.
- Peak memory of ``full_stack`` against ``example``: target <= 1.2 (checked after the timings).
"""

from example_strategy import ExampleStrategy

from tests.benchmarks.bench import Target, Variant, main
from tests.support.strategies import EverythingOff

MODULE = "tests.benchmarks.bench_stack"


class StackOff(EverythingOff, ExampleStrategy):
    pass


VARIANTS = [
    Variant("example", "example_strategy:ExampleStrategy"),
    Variant("stack_off", f"{MODULE}:StackOff"),
    Variant("noop_callbacks", "tests.benchmarks.strategies:NoopCallbacks"),
    Variant("full_stack", "example_managed_strategy:ExampleManagedStrategy"),
]
TARGETS = [
    Target("full_stack", "noop_callbacks", at_most=1.15),
    Target("stack_off", "example", at_most=1.02),
    Target("full_stack", "example", at_most=1.2, measure="peak"),
]

if __name__ == "__main__":
    main(VARIANTS, TARGETS)
