"""
What each position-management capability contributed to a strategy's backtest.

Freqtrade's own backtester runs the strategy with every capability as configured ("all on"), then
once with each capability that is on switched off through config.json's ``posmgmt`` section
(``{"<section>": null}``), and the plain strategy when one is given: a capability's contribution
is all on minus that one off. Exact by construction: each run is Freqtrade's backtest of the
strategy with that config, on candles loaded once (as ``--strategy-list`` does).

Layers: :mod:`.runs` (the backtests, Freqtrade-facing) -> :mod:`.table` (the terminal table) ->
:mod:`.command` (``freqtrade-posmgmt attribution`` and the demo's table). This module imports no
Freqtrade, so the report can find an attribution without loading it.
"""

from pathlib import Path

from freqtrade_posmgmt import registry

METRICS = ("trades", "profit_abs", "profit_ratio", "max_drawdown", "calmar")
"""One run's numbers, all Freqtrade's: trades, total profit (stake currency and ratio of the
starting balance), max drawdown of the account (ratio) and Calmar."""
NOT_IN_BACKTESTS = {
    "mfe_mae": "records excursions in dry-run and live only: a backtest is the same without it",
}
"""Capabilities that do nothing in a backtest: listed, never run."""


def attribution_path(result_file: Path) -> Path:
    """
    Where the attribution of a backtest result is written: ``posmgmt/<result>.attribution.json``
    beside it (Freqtrade lists any ``backtest-result-*.json`` next to its results as a result).
    :param result_file: Freqtrade's exported result (``backtest-result-<date>.zip``)
    """
    result_file = Path(result_file)
    stem = result_file.name.removesuffix(".zip").removesuffix(".json")
    return result_file.parent / registry.DECISIONS_DIRECTORY / f"{stem}.attribution.json"
