"""
What the trailing-stop mixin costs (ten pairs, whole span, 1h): a plain policy compiled to
Freqtrade's built-in trailing stop against the built-in itself, and an ATR trail running in
``custom_stoploss`` against the smallest hand-written ``custom_stoploss`` and against the
docs-style ATR stop that reads the analysed dataframe on every call.
"""

from example_strategy import ExampleStrategy

from freqtrade_posmgmt.mixins.trailing_stops import TrailingStopMixin
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy
from tests.benchmarks.bench import Target, Variant, main
from tests.benchmarks.strategies import TRAIL_DISTANCE, TRAIL_OFFSET


class PlainTrailingMixin(TrailingStopMixin, ExampleStrategy):
    """BuiltinTrailing's settings as a policy: compiled to the built-in, no callback."""

    trailing_stop_policy = TrailingStopPolicy(
        activation_threshold=TRAIL_OFFSET, trailing_distance_pct=TRAIL_DISTANCE
    )


class AtrTrailingMixin(TrailingStopMixin, ExampleStrategy):
    """DocsAtrStop's stop (2 ATR once profit exceeds the offset) as a policy."""

    trailing_stop_policy = TrailingStopPolicy(activation_threshold=TRAIL_OFFSET, atr_multiplier=2.0)


class AtrCandleCloseMixin(AtrTrailingMixin):
    """The same ATR trail moved only from closed candles (trail_on="candle_close")."""

    trailing_stop_policy = TrailingStopPolicy(
        activation_threshold=TRAIL_OFFSET, atr_multiplier=2.0, trail_on="candle_close"
    )


STRATEGIES = "tests.benchmarks.strategies"
HERE = "tests.benchmarks.bench_trailing_stops"
VARIANTS = [
    Variant("builtin_trailing", f"{STRATEGIES}:BuiltinTrailing"),
    Variant("plain_trailing_mixin", f"{HERE}:PlainTrailingMixin"),
    Variant("handwritten_custom_stoploss", f"{STRATEGIES}:HandwrittenTrailing"),
    Variant("atr_trailing_mixin", f"{HERE}:AtrTrailingMixin"),
    Variant("docs_atr_stop", f"{STRATEGIES}:DocsAtrStop"),
    Variant("atr_candle_close_mixin", f"{HERE}:AtrCandleCloseMixin"),
]
TARGETS = [
    Target("plain_trailing_mixin", "builtin_trailing"),
    Target("atr_trailing_mixin", "handwritten_custom_stoploss", at_most=1.10),
    Target("docs_atr_stop", "atr_trailing_mixin", at_least=1.4),
    Target("atr_candle_close_mixin", "atr_trailing_mixin", at_most=1.15),
]

if __name__ == "__main__":
    main(VARIANTS, TARGETS)
