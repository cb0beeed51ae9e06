"""
The lab's input: a strategy's signals from Freqtrade's own backtesting data path, once.

``Backtesting.load_bt_data``, ``advise_all_indicators`` and ``_get_ohlcv_as_lists`` run exactly as
in ``Backtesting.backtest_one_strategy``; their rows (signals shifted by one candle, startup
trimmed) become numpy arrays on one time grid. Nothing is recomputed.
"""

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from freqtrade.configuration import TimeRange
from freqtrade.data.converter import trim_dataframes
from freqtrade.enums import TradingMode
from freqtrade.exchange.exchange_utils import TICK_SIZE
from freqtrade.optimize.backtesting import Backtesting
from freqtrade.strategy import IStrategy
from freqtrade.strategy.strategy_wrapper import strategy_safe_wrapper

from freqtrade_posmgmt import indicators
from freqtrade_posmgmt.lab.refusals import LabRefusal

# Columns of Freqtrade's backtest rows (freqtrade.optimize.backtesting.HEADERS).
DATE, OPEN, HIGH, LOW, CLOSE, ENTER_LONG, EXIT_LONG, ENTER_SHORT, EXIT_SHORT, _, EXIT_TAG = range(
    11
)


@dataclass
class LabData:
    """Signals, candles and market facts of one backtest, per pair on one time grid."""

    pairs: list[str]
    times: np.ndarray
    """Candle open times, epoch microseconds, shape (T,)."""
    opens: np.ndarray
    highs: np.ndarray
    lows: np.ndarray
    closes: np.ndarray
    valid: np.ndarray
    enter_long: np.ndarray
    exit_long: np.ndarray
    enter_short: np.ndarray
    exit_short: np.ndarray
    leverage_long: np.ndarray
    leverage_short: np.ndarray
    price_digits: np.ndarray
    amount_digits: np.ndarray
    min_stake_base: np.ndarray
    min_amount: np.ndarray
    max_cost: np.ndarray
    max_amount: np.ndarray
    min_cost: np.ndarray
    """The market's minimum cost, 0 for none (``adjust_trade_position``'s min_stake)."""
    amount_reserve: float
    """1 + the config's ``amount_reserve_percent``."""
    can_short: bool
    fee: float
    start_balance: float
    tradable_ratio: float
    stake_amount: float
    """The config's stake amount, -1 for "unlimited"."""
    max_open_trades: int
    """-1 for unlimited."""
    timeframe_minutes: int
    strategy: IStrategy
    config: dict[str, Any]
    analysed: dict[str, Any] = field(repr=False, default_factory=dict)
    """Per pair, the whole analysed dataframe (startup candles included), for the ATR."""
    history: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False, default_factory=dict)
    """
    Per pair, candle open times (epoch seconds) and closes from the candle files, reaching
    :data:`HISTORY_REACH_DAYS` before the timerange: where dynamic risk reads its volatility.
    """
    history_start: float | None = None
    """The timerange's start (epoch seconds), None without one."""
    _atr: dict[int, np.ndarray] = field(repr=False, default_factory=dict)

    def atr(self, period: int) -> np.ndarray:
        """
        The ATR the trailing mixin reads at each row: TA-Lib's ATR of the analysed dataframe
        (startup candles included), of the last CLOSED candle (``pm_atr`` one row back).
        """
        if period not in self._atr:
            out = np.full(self.opens.shape, np.nan)
            index = {int(t): i for i, t in enumerate(self.times)}
            for p, pair in enumerate(self.pairs):
                frame = self.analysed[pair]
                atr = indicators.atr(frame["high"], frame["low"], frame["close"], period)
                opened = frame["date"].dt.as_unit("us").astype("int64").to_numpy()
                step = self.timeframe_minutes * 60_000_000
                for row, when in enumerate(opened):
                    i = index.get(int(when) + step)
                    if i is not None:
                        out[p, i] = atr[row]
            self._atr[period] = out
        return self._atr[period]

    @property
    def years(self) -> float:
        return float(self.times[-1] - self.times[0]) / (365.25 * 86400e6) if len(self.times) else 0


def _digits(step: float, what: str, pair: str) -> int:
    digits = round(-math.log10(step))
    if not math.isclose(10.0**-digits, step, rel_tol=1e-12):
        raise LabRefusal(f"{pair}: {what} step {step} is not a power of ten")
    return digits


def load(backtesting: Backtesting) -> LabData:
    """
    Run the strategy's ``populate_*`` once through Freqtrade's backtesting data path.
    :param backtesting: a ``Backtesting`` built from the run's config (its first strategy is used)
    """
    config = backtesting.config
    data, timerange = backtesting.load_bt_data()
    strategy = backtesting.strategylist[0]
    backtesting._set_strategy(strategy)
    preprocessed = strategy.advise_all_indicators(data)
    trimmed = trim_dataframes(preprocessed, timerange, backtesting.required_startup)
    if not trimmed:
        raise LabRefusal("no data left after the startup candles")
    analysed: dict[str, Any] = {}
    original = strategy.ft_advise_signals

    def keep(frame: Any, metadata: dict) -> Any:
        frame = original(frame, metadata)
        analysed[metadata["pair"]] = frame
        return frame

    strategy.ft_advise_signals = keep  # type: ignore[method-assign]
    try:
        rows = backtesting._get_ohlcv_as_lists(preprocessed)
    finally:
        del strategy.ft_advise_signals
    pairs = [pair for pair in rows if rows[pair]]
    grid = sorted({int(row[DATE].value // 1000) for pair in pairs for row in rows[pair]})
    index = {when: i for i, when in enumerate(grid)}
    shape = (len(pairs), len(grid))
    arrays = {
        name: np.zeros(shape)
        for name in ("opens", "highs", "lows", "closes", "lev_long", "lev_short")
    }
    signals = {name: np.zeros(shape, dtype=np.int8) for name in ("el", "xl", "es", "xs")}
    valid = np.zeros(shape, dtype=np.bool_)
    futures = backtesting.trading_mode == TradingMode.FUTURES
    exchange = backtesting.exchange
    stake = config["stake_amount"]
    wallet = float(config["dry_run_wallet"])
    for p, pair in enumerate(pairs):
        if futures and np.any(backtesting.futures_data[pair]["open_fund"].to_numpy() != 0):
            raise LabRefusal(f"{pair}: non-zero funding rates")
        for row in rows[pair]:
            i = index[int(row[DATE].value // 1000)]
            if row[EXIT_TAG]:
                raise LabRefusal(f"{pair}: exit tags (exit_tag={row[EXIT_TAG]!r})")
            valid[p, i] = True
            arrays["opens"][p, i] = row[OPEN]
            arrays["highs"][p, i] = row[HIGH]
            arrays["lows"][p, i] = row[LOW]
            arrays["closes"][p, i] = row[CLOSE]
            for name, col in (("el", ENTER_LONG), ("xl", EXIT_LONG), ("es", ENTER_SHORT)):
                signals[name][p, i] = row[col] == 1
            signals["xs"][p, i] = row[EXIT_SHORT] == 1
            for side, name in (("long", "lev_long"), ("short", "lev_short")):
                arrays[name][p, i] = _leverage(backtesting, pair, row, side, stake, wallet)
    markets = [exchange.markets[pair] for pair in pairs]
    _check_config(backtesting)
    reserve = 1.0 + config.get("amount_reserve_percent", 0.05)
    max_open = strategy.max_open_trades
    return LabData(
        pairs=pairs,
        times=np.array(grid, dtype=np.int64),
        opens=arrays["opens"],
        highs=arrays["highs"],
        lows=arrays["lows"],
        closes=arrays["closes"],
        valid=valid,
        enter_long=signals["el"],
        exit_long=signals["xl"],
        enter_short=signals["es"],
        exit_short=signals["xs"],
        leverage_long=arrays["lev_long"],
        leverage_short=arrays["lev_short"],
        price_digits=np.array(
            [_digits(m["precision"]["price"], "price", m["symbol"]) for m in markets]
        ),
        amount_digits=np.array(
            [_digits(m["precision"]["amount"], "amount", m["symbol"]) for m in markets]
        ),
        # Exchange._get_stake_amount_limit("min") with the backtester's stoploss of -0.05.
        min_stake_base=np.array(
            [
                (m["limits"]["cost"]["min"] or 0.0) * max(min(reserve / (1 - 0.05), 1.5), 1)
                for m in markets
            ]
        ),
        min_amount=np.array([m["limits"]["amount"]["min"] or 0.0 for m in markets]),
        max_cost=np.array([m["limits"]["cost"]["max"] or np.inf for m in markets]),
        max_amount=np.array([m["limits"]["amount"]["max"] or np.inf for m in markets]),
        min_cost=np.array([m["limits"]["cost"]["min"] or 0.0 for m in markets]),
        amount_reserve=reserve,
        can_short=backtesting._can_short,
        fee=float(backtesting.fee),
        start_balance=wallet,
        tradable_ratio=float(config["tradable_balance_ratio"]),
        stake_amount=-1.0 if stake == "unlimited" else float(stake),
        max_open_trades=-1 if max_open == float("inf") else int(max_open),
        timeframe_minutes=backtesting.timeframe_min,
        strategy=strategy,
        config=config,
        analysed=analysed,
        history=_history(config, pairs, strategy.timeframe),
        history_start=_timerange_start(config),
    )


# DynamicRiskMixin's volatility window reads up to this many days before the timerange.
HISTORY_REACH_DAYS = 400


def _timerange_start(config: dict) -> float | None:
    if not (config.get("timerange") and "datadir" in config):
        return None
    parsed = TimeRange.parse_timerange(config["timerange"])
    return float(parsed.startts) if parsed.starttype else None


def _history(config: dict, pairs: list[str], timeframe: str) -> dict[str, tuple]:
    """Each pair's candles reaching back before the timerange, read while the files are there."""
    if _timerange_start(config) is None:
        return {}
    from freqtrade_posmgmt.mixins._history import history_reaching_back

    found = {}
    for pair in pairs:
        # Open times in epoch seconds, the mixins' time unit.
        found[pair] = history_reaching_back(config, pair, timeframe, HISTORY_REACH_DAYS * 86_400)
    return found


def _check_config(backtesting: Backtesting) -> None:
    """Refuse what the kernel's wallet, prices and order handling do not model."""
    config = backtesting.config
    if backtesting.exchange.precisionMode != TICK_SIZE:
        raise LabRefusal("the exchange's precision mode is not TICK_SIZE")
    if "available_capital" in config:
        raise LabRefusal("available_capital")
    if config.get("amend_last_stake_amount"):
        raise LabRefusal("amend_last_stake_amount")
    timeout = config.get("unfilledtimeout", {})
    seconds = timeout.get("exit", 10) * (60 if timeout.get("unit", "minutes") == "minutes" else 1)
    if seconds > backtesting.timeframe_min * 60:
        # The entry candle's worst-case trailing exit can miss the candle; the backtester then
        # cancels it at the next candle only with an exit timeout within one candle.
        raise LabRefusal(f"unfilledtimeout.exit longer than one candle ({seconds} s)")


def _leverage(
    backtesting: Backtesting, pair: str, row: list, side: str, stake: Any, wallet: float
) -> float:
    """What ``Backtesting.get_valid_entry_price_and_stake`` would use at this row."""
    if backtesting.trading_mode == TradingMode.SPOT:
        return 1.0
    if not (row[ENTER_LONG] == 1 if side == "long" else row[ENTER_SHORT] == 1):
        return 1.0
    exchange = backtesting.exchange
    answers = set()
    # The cap depends on the stake: the lab takes the answer only where no stake changes it.
    for amount in {10.0, wallet, float(stake) if stake != "unlimited" else wallet}:
        max_leverage = exchange.get_max_leverage(pair, amount)
        answer = strategy_safe_wrapper(backtesting.strategy.leverage, default_retval=1.0)(
            pair=pair,
            current_time=row[DATE].to_pydatetime(),
            current_rate=row[OPEN],
            proposed_leverage=1.0,
            max_leverage=max_leverage,
            side=side,
            entry_tag=row[9],
        )
        answers.add(min(max(answer, 1.0), max_leverage))
    if len(answers) != 1:
        raise LabRefusal(f"{pair}: leverage depends on the stake (tiers): {sorted(answers)}")
    return answers.pop()
