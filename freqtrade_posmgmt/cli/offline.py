"""
Run Freqtrade with a static markets snapshot instead of asking the exchange.

Freqtrade has no offline mode: at start-up ``Exchange.reload_markets`` asks the exchange for its
market list. Only that one coroutine is replaced here, so Freqtrade's own validation, precision,
minimum-stake and fee logic all still run on the snapshot's markets.
"""

import copy
import json
from pathlib import Path
from typing import Any

from freqtrade_posmgmt.cli import CommandError

# The shipped snapshot, inside the user data directory (``--userdir`` or the config's
# ``user_data_dir``), so the default does not depend on the working directory.
MARKETS_IN_USERDIR = Path("markets/binance_spot.json")


class OfflineError(CommandError):
    """A problem with the offline inputs, worded for one line of output."""


def load_markets(path: Path) -> dict[str, dict[str, Any]]:
    """
    Read a ccxt markets snapshot (``{symbol: market}``) from a JSON file.
    :param path: the snapshot file
    :return: the markets, keyed by symbol
    """
    if not path.is_file():
        raise OfflineError(
            f"markets file {path} not found: pass --markets PATH pointing to a ccxt markets "
            "snapshot (JSON)"
        )
    try:
        markets = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise OfflineError(f"markets file {path} is not valid JSON ({e}): replace it") from e
    if not isinstance(markets, dict) or not all(
        isinstance(m, dict) and m.get("symbol") == symbol for symbol, m in markets.items()
    ):
        raise OfflineError(
            f"markets file {path} is not a ccxt markets snapshot ({{symbol: market}}): replace it"
        )
    return markets


def use_static_markets(markets: dict[str, dict[str, Any]]) -> None:
    """
    Make every Freqtrade exchange in this process load ``markets`` instead of fetching them.
    :param markets: ccxt markets keyed by symbol, as returned by :func:`load_markets`
    """
    from freqtrade.exchange.exchange import Exchange

    async def _api_reload_markets(self: Exchange, reload: bool = False) -> None:
        # ccxt annotates the market dicts it is given; keep the snapshot pristine for reloads.
        self._api_async.set_markets(copy.deepcopy(markets))

    Exchange._api_reload_markets = _api_reload_markets
