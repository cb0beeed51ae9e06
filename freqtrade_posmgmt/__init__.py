"""
Position management for Freqtrade strategies.

The policies (``freqtrade_posmgmt.trailing_stops.TrailingStopPolicy`` and the rest) are plain,
framework-free dataclasses. The mixins that put them on Freqtrade's callbacks are exported here
and imported lazily, so a policy can be used without importing Freqtrade.

Layout: the policies and their helpers at the package root, framework-free (tested:
tests/unit/test_framework_free.py); Freqtrade's side in ``mixins/`` (its callbacks), ``cli/``
(the ``freqtrade-posmgmt`` command line) and ``report/`` (reading its results).

Seed compatibility: the ``position_management`` package this one comes from is used as
``from src.position_management.<module> import <name>``; with ``freqtrade_posmgmt`` for
``src.position_management`` those imports and the calls of its README keep working.
:data:`SEED_COMPATIBLE` lists them (``module`` or ``module:attribute``); they stay where they
are, and a test resolves each.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

SEED_COMPATIBLE = (
    # The seed's modules, under the same names.
    "freqtrade_posmgmt.correlation_engine",
    "freqtrade_posmgmt.dynamic_risk",
    "freqtrade_posmgmt.mfe_mae_analyzer",
    "freqtrade_posmgmt.mfe_mae_tracker",
    "freqtrade_posmgmt.partial_manager",
    "freqtrade_posmgmt.time_exits",
    "freqtrade_posmgmt.trailing_stops",
    # What its README imports and calls.
    "freqtrade_posmgmt.dynamic_risk:DynamicRiskConfig",
    "freqtrade_posmgmt.dynamic_risk:DynamicRiskManager.calculate_risk_adjustment",
    "freqtrade_posmgmt.correlation_engine:CorrelationEngine.check_entry_allowed",
    "freqtrade_posmgmt.partial_manager:PartialExitPolicy.check_partial_exits",
    "freqtrade_posmgmt.partial_manager:PartialExitPolicy.check_scale_in_opportunity",
    "freqtrade_posmgmt.time_exits:TimeExitPolicy",
    "freqtrade_posmgmt.time_exits:MarketSessionDef",
    "freqtrade_posmgmt.time_exits:TimeRestrictions",
    "freqtrade_posmgmt.trailing_stops:TrailingStopPolicy",
)

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
    "SEED_COMPATIBLE",
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
