"""Every position-management capability in one base class."""

from freqtrade_posmgmt.mixins.mfe_mae import MFEMAEMixin
from freqtrade_posmgmt.mixins.partial_exits import PartialExitMixin
from freqtrade_posmgmt.mixins.time_exits import TimeExitMixin
from freqtrade_posmgmt.mixins.trailing_stops import TrailingStopMixin


class PositionManagementMixin(TimeExitMixin, PartialExitMixin, TrailingStopMixin, MFEMAEMixin):
    """
    Trailing stops, partial exits and scale-ins, time exits and MFE/MAE recording, stacked.

    Each capability is configured and switched off on its own (``trailing_stop_policy``,
    ``partial_exit_policy``, ``time_exit_policy``; ``None`` = off; or ``posmgmt`` in
    config.json). Merge rules where two act on one callback, the base strategy's own included:
    the tightest stop wins, the first exit reason wins (time exits are asked first, the base's
    own last), an entry needs every capability's consent and the base's.

    Usage::

        class MyStrategy(PositionManagementMixin, IStrategy):
            trailing_stop_policy = TrailingStopPolicy(activation_threshold=0.02, atr_multiplier=2)
            partial_exit_policy = PartialExitPolicy(exit_targets=[0.03], exit_sizes=[0.5])
            time_exit_policy = None
    """
