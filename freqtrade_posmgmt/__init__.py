"""
Position management for Freqtrade strategies.

The policies (``freqtrade_posmgmt.trailing_stops.TrailingStopPolicy`` and the rest) are plain,
framework-free dataclasses. The mixins that put them on Freqtrade's callbacks are exported here
and imported lazily, so a policy can be used without importing Freqtrade.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

_MIXINS = {
    "PolicyMixin": "freqtrade_posmgmt.mixins._base",
    "TrailingStopMixin": "freqtrade_posmgmt.mixins.trailing_stops",
    "PartialExitMixin": "freqtrade_posmgmt.mixins.partial_exits",
    "TimeExitMixin": "freqtrade_posmgmt.mixins.time_exits",
    "MFEMAEMixin": "freqtrade_posmgmt.mixins.mfe_mae",
    "DynamicRiskMixin": "freqtrade_posmgmt.mixins.dynamic_risk",
    "CorrelationMixin": "freqtrade_posmgmt.mixins.correlation",
    "PositionManagementMixin": "freqtrade_posmgmt.mixins.position_management",
}


def __getattr__(name: str) -> Any:
    if name in _MIXINS:
        return getattr(importlib.import_module(_MIXINS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CorrelationMixin",
    "DynamicRiskMixin",
    "MFEMAEMixin",
    "PartialExitMixin",
    "PolicyMixin",
    "PositionManagementMixin",
    "TimeExitMixin",
    "TrailingStopMixin",
    "__version__",
]
