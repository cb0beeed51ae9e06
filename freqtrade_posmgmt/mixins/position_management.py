"""Every position-management capability in one base class."""

from freqtrade_posmgmt.mixins.correlation import CorrelationMixin
from freqtrade_posmgmt.mixins.dynamic_risk import DynamicRiskMixin
from freqtrade_posmgmt.mixins.mfe_mae import MFEMAEMixin
from freqtrade_posmgmt.mixins.partial_exits import PartialExitMixin
from freqtrade_posmgmt.mixins.time_exits import TimeExitMixin
from freqtrade_posmgmt.mixins.trailing_stops import TrailingStopMixin


class PositionManagementMixin(
    TimeExitMixin,
    CorrelationMixin,
    DynamicRiskMixin,
    PartialExitMixin,
    TrailingStopMixin,
    MFEMAEMixin,
):
    """
    Time exits, correlation gating, dynamic risk sizing, partial exits and scale-ins, trailing
    stops and MFE/MAE recording, stacked.

    Each capability is configured and switched off on its own (``time_exit_policy``,
    ``correlation_policy``, ``dynamic_risk_policy``, ``partial_exit_policy``,
    ``trailing_stop_policy``, ``mfe_mae_tracker``; ``None`` = off; or ``posmgmt`` in
    config.json). The capabilities are asked in the registry's declared order
    (``registry.STACK_ORDER``, the order of these bases), whatever the order of the mixins in a
    strategy's bases. Merge rules where two act on one callback, the base strategy's own included:

    - the tightest stop wins (``custom_stoploss``: trailing, breakeven after a partial exit,
      dynamic risk's tightening, the base's own);
    - the first exit reason wins (time exits are asked first, the base's own last);
    - stakes: the base's ``custom_stake_amount`` (or an add ``adjust_trade_position`` returns,
      partial exits' or the base's own) is sized by dynamic risk's factor, then cut to every
      cap (correlation); ``min_stake`` never lifts a stake over a cap (what a cap leaves
      below it is refused);
    - an entry needs every capability's consent (time windows, correlation's re-check of the
      final order) and the base's ``confirm_trade_entry``.

    Usage::

        class MyStrategy(PositionManagementMixin, IStrategy):
            trailing_stop_policy = TrailingStopPolicy(activation_threshold=0.02, atr_multiplier=2)
            partial_exit_policy = PartialExitPolicy(exit_targets=[0.03], exit_sizes=[0.5])
            correlation_policy = CorrelationConfig(max_correlated_exposure=0.3)
            time_exit_policy = None
    """
