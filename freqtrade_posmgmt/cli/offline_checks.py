"""
Checks of ``freqtrade-posmgmt offline``'s inputs before Freqtrade runs, each failing in one line
(:class:`~freqtrade_posmgmt.cli.offline.OfflineError`) where Freqtrade would print a traceback, a
wall of log, or a WARNING followed by a backtest with no trades. What Freqtrade runs with (an
informative pair without candles: the strategy gets an empty frame) is a warning, not an error.
"""

import copy
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

from freqtrade.configuration import Configuration
from freqtrade.configuration.config_validation import validate_config_schema
from freqtrade.data.dataprovider import DataProvider
from freqtrade.data.history.datahandlers.idatahandler import get_datahandlerclass
from freqtrade.enums import CandleType, RunMode
from freqtrade.exceptions import FreqtradeException
from freqtrade.resolvers import StrategyResolver

from freqtrade_posmgmt.cli.offline import MARKETS_IN_USERDIR, OfflineError

# Subcommands that read candles of the whitelisted pairs, so every pair must have them.
CANDLE_SUBCOMMANDS = {
    "backtesting",
    "hyperopt",
    "lookahead-analysis",
    "recursive-analysis",
}


class MissingInformative(NamedTuple):
    """An informative pair and timeframe without candles: one warning, said once."""

    pair: str
    timeframe: str
    warning: str


class QuietAbout(logging.Filter):
    """
    Drops Freqtrade's own warnings about informative pairs already warned of (one per call of
    the data provider: one per traded pair and more), so that each is said once.
    """

    def __init__(self, missing: list[MissingInformative]) -> None:
        super().__init__()
        self.phrases = [
            phrase
            for m in missing
            for phrase in (f"No history for {m.pair}, ", f"No data found for ({m.pair}, ")
        ]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(message.startswith(phrase) for phrase in self.phrases)


# Where Freqtrade warns about candles it cannot find.
NO_DATA_LOGGERS = (
    "freqtrade.data.history.datahandlers.idatahandler",
    "freqtrade.data.dataprovider",
)


def load_config(parsed: dict[str, Any]) -> dict[str, Any]:
    """
    Freqtrade's configuration for parsed Freqtrade arguments, schema-checked.
    :raise OfflineError: a missing or malformed config, in one line naming the file
    """
    logging.disable(logging.CRITICAL)  # Freqtrade logs its own copy of any config error.
    try:
        config = Configuration(parsed, RunMode.OTHER).get_config()
        validate_config_schema(config)
    except FreqtradeException as e:
        files = ", ".join(parsed["config"])
        first_line = str(e).strip().splitlines()[0]
        raise OfflineError(f"config {files}: {first_line.rstrip('.')} (fix the config file)") from e
    finally:
        logging.disable(logging.NOTSET)
    return config


def default_markets(parsed: dict[str, Any], config: dict[str, Any] | None) -> Path:
    """The snapshot in the user data directory: the config's (which ``--userdir`` overrides),
    else ``--userdir``, else ``./user_data`` as Freqtrade defaults to."""
    if config is not None:
        return Path(config["user_data_dir"]) / MARKETS_IN_USERDIR
    return Path(parsed.get("user_data_dir") or "user_data") / MARKETS_IN_USERDIR


def _pair_origin(parsed: dict[str, Any]) -> str:
    """Where the pairs came from, for the fix in an error message."""
    return "-p/--pairs" if parsed.get("pairs") else "pair_whitelist"


def check_offline_inputs(
    subcommand: str, parsed: dict[str, Any], config: dict[str, Any], markets: dict
) -> list[MissingInformative]:
    """
    Fail early, in one line: a pair missing from the snapshot, a traded pair with no candles.
    :param subcommand: the Freqtrade subcommand
    :param parsed: Freqtrade's parsed arguments
    :param config: Freqtrade's configuration for them (:func:`load_config`)
    :param markets: the markets snapshot in use
    :return: the informative pairs and timeframes without candles (Freqtrade runs the
        strategy with an empty frame for each), with a warning naming how to download them
    """
    pairs = config.get("exchange", {}).get("pair_whitelist", [])
    origin = _pair_origin(parsed)
    for pair in pairs:
        if pair not in markets:
            raise OfflineError(
                f"pair {pair} is not in the markets snapshot: remove it from {origin} "
                "or use a snapshot that lists it (--markets PATH)"
            )
    if subcommand not in CANDLE_SUBCOMMANDS:
        return []
    missing: list[MissingInformative] = []
    names = config.get("strategy_list") or [config.get("strategy")]
    # The strategy decides the timeframe (it overrides the config's) and its informative pairs.
    loaded = [_strategy(name, config, pairs, markets) for name in names if name]
    for name, strategy_config, informative in loaded or [(None, config, [])]:
        timeframes = {strategy_config.get("timeframe"), strategy_config.get("timeframe_detail")}
        candle_type = CandleType.get_default(strategy_config.get("trading_mode", "spot"))
        for pair in pairs:
            for timeframe in sorted(timeframes - {None}):
                path = _candle_file(strategy_config, pair, timeframe, candle_type)
                if not path.is_file():
                    raise OfflineError(
                        f"pair {pair} has no {timeframe} candles in {path.parent}: "
                        f"add {path.name} or remove {pair} from {origin}"
                    )
        for pair, timeframe, informative_type in informative:
            path = _candle_file(strategy_config, pair, timeframe, informative_type)
            warning = (
                f"strategy {name} asks for {pair} {timeframe} ({informative_type.value}) as an "
                f"informative pair, but {path.parent} has no {path.name}: the strategy gets an "
                f"empty frame for it; download the candles with `freqtrade download-data "
                f"{_download_options(parsed, informative_type)}--pairs {pair} --timeframes "
                f"{timeframe}`"
            )
            if not path.is_file() and warning not in [m.warning for m in missing]:
                missing.append(MissingInformative(pair, timeframe, warning))
    return missing


def _download_options(parsed: dict[str, Any], candle_type: CandleType) -> str:
    """The options of ``freqtrade download-data`` that find the same config and data folder."""
    options = [f"-c {path}" for path in parsed.get("config") or []]
    for option, key in (("--userdir", "user_data_dir"), ("--datadir", "datadir")):
        if parsed.get(key):
            options.append(f"{option} {parsed[key]}")
    if candle_type != CandleType.SPOT:
        options.append("--trading-mode futures")
    return "".join(f"{option} " for option in options)


def _strategy(
    name: str, config: dict[str, Any], pairs: list[str], markets: dict
) -> tuple[str, dict[str, Any], list[tuple[str, str, CandleType]]]:
    """
    Load a strategy the way Freqtrade will, and ask it for its informative pairs (its own
    ``informative_pairs()`` and ``@informative`` ones), with a data provider that knows the
    whitelist and the snapshot. A strategy that fails here is left to Freqtrade, which reports
    it in its own words: then only the config's timeframe is checked.
    :return: the name, the configuration as the strategy sets it, its informative pairs
    """
    strategy_config = copy.deepcopy(config) | {"strategy": name}
    logging.disable(logging.CRITICAL)
    try:
        strategy = StrategyResolver.load_strategy(strategy_config)
        strategy.dp = DataProvider(
            strategy_config,
            SimpleNamespace(markets=markets),  # what the data provider reads of the exchange
            SimpleNamespace(whitelist=list(pairs)),
        )
        informative = strategy.gather_informative_pairs()
    except Exception:  # noqa: BLE001 - any failure is Freqtrade's to report
        return name, config, []
    finally:
        logging.disable(logging.NOTSET)
    return name, strategy_config, sorted(set(informative))


def _candle_file(
    config: dict[str, Any], pair: str, timeframe: str, candle_type: CandleType
) -> Path:
    """Where Freqtrade looks for these candles (its own file naming)."""
    handler = get_datahandlerclass(config.get("dataformat_ohlcv", "feather"))
    return handler._pair_data_filename(Path(config["datadir"]), pair, timeframe, candle_type)
