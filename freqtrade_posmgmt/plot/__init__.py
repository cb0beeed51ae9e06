"""
``freqtrade-posmgmt plot``: one price chart per pair showing what position management did.

Candles, each trade's entry and exit, its stop over time coloured by the rule that set it,
ladder targets and their fills, adds, time-exit deadlines, and the entries refused or cut, with
their reason on hover. The stop over time is what Freqtrade held: the backtest is re-run with a
recorder on Freqtrade's own stop check (:mod:`.recorder`), nothing is reconstructed.
"""
