"""
The anchors later benchmarks are measured against (ten pairs, whole span, 1h):
the example strategy alone, with Freqtrade's built-in trailing stop, with a hand-written
custom_stoploss reproducing it, with the docs-style ATR stop, and with every callback a no-op.
"""

from tests.benchmarks.bench import Target, Variant, main

STRATEGIES = "tests.benchmarks.strategies"
VARIANTS = [
    Variant("example", "example_strategy:ExampleStrategy"),
    Variant("builtin_trailing", f"{STRATEGIES}:BuiltinTrailing"),
    Variant("handwritten_custom_stoploss", f"{STRATEGIES}:HandwrittenTrailing"),
    Variant("docs_atr_stop", f"{STRATEGIES}:DocsAtrStop"),
    Variant("noop_callbacks", f"{STRATEGIES}:NoopCallbacks"),
]
# No bounds: these are the facts later targets are set against.
TARGETS = [
    Target("handwritten_custom_stoploss", "builtin_trailing"),
    Target("docs_atr_stop", "handwritten_custom_stoploss"),
    Target("docs_atr_stop", "noop_callbacks"),
    Target("noop_callbacks", "example"),
]

if __name__ == "__main__":
    main(VARIANTS, TARGETS)
