"""
Run Freqtrade's real bot over recorded candles: ``FreqtradeBot`` in dry-run, its own
``process()`` loop, order handling and SQLite trade database, with the clock driven through the
timerange (time-machine, as Freqtrade's own tests drive it) and the exchange answered by
:mod:`freqtrade_posmgmt.replay.feed`.

Each stretch of the bot's life runs in a forked child process, so that a kill is a real SIGKILL
of the process that holds the bot (nothing of it is flushed or cleaned up) and a restart is a
new process on the same database, as a crashed bot is restarted.
"""

import gc
import logging
import multiprocessing
import os
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.exchange.exchange import Exchange

# Imported here, not in the bot's process: each life of the bot is a fork of this process and
# inherits the bot's modules instead of importing them again (seconds per restart).
from freqtrade.freqtradebot import FreqtradeBot

from freqtrade_posmgmt.cli.offline import use_static_markets
from freqtrade_posmgmt.replay.feed import RecordedMarket, serve

logger = logging.getLogger(__name__)


class ReplayError(Exception):
    """The replay could not run; worded for one line."""


@dataclass(frozen=True)
class KillPoint:
    """Where the bot process is killed: before the loop of ``tick`` (``inside=False``), or
    inside the first loop from ``tick`` on that places an order, right after the exchange
    accepted it and before Freqtrade wrote it to the database (``inside=True``)."""

    tick: int
    inside: bool


@dataclass(frozen=True)
class ReplaySettings:
    """
    What to replay.
    :param config: Freqtrade's configuration (as ``Configuration.get_config()`` returns it)
    :param markets: the ccxt markets snapshot the exchange serves
    :param start: first candle's open time (UTC)
    :param end: the replay stops before this time (UTC)
    :param ticks_per_candle: price polls per candle of the strategy's timeframe
    :param db_url: the trade database (``sqlite:///PATH``)
    :param journal: a file where each filled order the strategy was told about is appended
    """

    config: dict[str, Any]
    markets: dict[str, dict[str, Any]]
    start: datetime
    end: datetime
    ticks_per_candle: int
    db_url: str
    journal: Path | None = None
    log_level: int = logging.WARNING
    at_end: Callable[[Any], None] | None = None
    """Called with the bot, in the bot's process, after the last loop (tests look inside)."""


@dataclass
class ReplayRun:
    """What happened to the bot process."""

    ticks: int
    restarts: list[int] = field(default_factory=list)
    """Tick at which each restart resumed."""
    missed: list[KillPoint] = field(default_factory=list)
    """Kill points passed before they could be armed: a kill inside a loop waits for an order,
    and the points it waited past are not reached again."""


def tick_times(start: datetime, end: datetime, timeframe: str, ticks: int) -> list[datetime]:
    """The times the bot loops at: ``ticks`` evenly spaced polls in each candle."""
    step = timedelta(seconds=timeframe_to_seconds(timeframe) / ticks)
    count = int((end - start) / step)
    return [start + step * index for index in range(count)]


def replay_config(config: dict[str, Any], db_url: str) -> dict[str, Any]:
    """``config`` for a replayed bot: dry-run on ``db_url``, running from the start, with
    nothing that talks to the outside (websockets, API server, Telegram, webhooks)."""
    config = dict(config)
    config.update(
        dry_run=True,
        db_url=db_url,
        initial_state="running",
        cancel_open_orders_on_exit=False,
    )
    for talker in (
        "api_server",
        "telegram",
        "webhook",
        "discord",
        "external_message_consumer",
    ):
        if talker in config:
            config[talker] = {**config[talker], "enabled": False}
    config["exchange"] = {**config["exchange"], "enable_ws": False}
    return config


def run_replay(settings: ReplaySettings, kills: list[KillPoint] = ()) -> ReplayRun:
    """
    Replay the timerange, killing the bot at ``kills`` and restarting it on the same database.
    :raise ReplayError: the bot died of something else than the kill
    """
    times = tick_times(
        settings.start,
        settings.end,
        settings.config["timeframe"],
        settings.ticks_per_candle,
    )
    if not times:
        raise ReplayError("the timerange holds no candle")
    run = ReplayRun(ticks=len(times))
    pending = sorted(kills, key=lambda kill: kill.tick)
    resume = 0
    context = multiprocessing.get_context("fork")
    # The tick to resume at, overwritten in place by the bot's process (a kill loses nothing).
    with tempfile.TemporaryFile() as progress:
        while True:
            while pending and pending[0].tick < resume:
                run.missed.append(pending.pop(0))
            kill = pending.pop(0) if pending else None
            child = context.Process(
                target=_bot_life, args=(settings, times, resume, kill, progress.fileno())
            )
            child.start()
            child.join()
            last_tick = _last_progress(progress.fileno())
            if child.exitcode == 0:
                return run
            if child.exitcode != -signal.SIGKILL or kill is None:
                raise ReplayError(
                    f"the replayed bot stopped with status {child.exitcode} at tick "
                    f"{last_tick} ({times[min(last_tick or 0, len(times) - 1)]})"
                )
            # Restart where the killed process stopped: the tick it was in, or was about to run.
            resume = last_tick if last_tick is not None else resume
            run.restarts.append(resume)


def _last_progress(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).strip()
    return int(text) if text else None


def _write_progress(fd: int, tick: int) -> None:
    os.pwrite(fd, f"{tick:>20}\n".encode(), 0)


def _bot_life(
    settings: ReplaySettings,
    times: list[datetime],
    first: int,
    kill: KillPoint | None,
    progress: int,
) -> None:
    """One process's life of the bot: from tick ``first`` until the end or the kill."""
    config = settings.config
    # Per-loop INFO lines (Freqtrade's, the plugin's) would be most of the time and output.
    for name in ("", "freqtrade", "freqtrade_posmgmt"):
        logging.getLogger(name).setLevel(settings.log_level)
    use_static_markets(settings.markets)
    market = RecordedMarket(
        Path(config["datadir"]),
        config.get("dataformat_ohlcv", "feather"),
        settings.ticks_per_candle,
        config["timeframe"],
        _price_candle_type(config),
    )
    if kill is not None and kill.inside:
        _kill_after_order_from(Exchange, times[kill.tick])
    with serve(market), time_machine.travel(times[first], tick=False) as clock:
        bot = FreqtradeBot(replay_config(config, settings.db_url))
        if settings.journal is not None:
            _journal_fills(bot, settings.journal)
        bot.startup()
        # What exists now (modules, the strategy, the markets snapshot) lives as long as
        # the process: keep it out of the garbage collector's full passes, which otherwise walk
        # it again and again for the bot's whole life (a few per cent of a replay's time).
        gc.freeze()
        for index in range(first, len(times)):
            if kill is not None and not kill.inside and index == kill.tick:
                os.kill(os.getpid(), signal.SIGKILL)
            clock.move_to(times[index])
            _write_progress(progress, index)  # killed in this loop: resume at it
            bot.process()
            _write_progress(progress, index + 1)
        if settings.at_end is not None:
            settings.at_end(bot)
        bot.cleanup()


def _price_candle_type(config: dict[str, Any]) -> Any:
    from freqtrade.enums import CandleType

    return CandleType.get_default(config.get("trading_mode", "spot"))


def _kill_after_order_from(exchange: type, when: datetime) -> None:
    """SIGKILL this process right after the first order placed at or after ``when`` is accepted:
    inside ``process()``, before Freqtrade has written the order to its database."""
    create_order = exchange.create_order

    def create_order_then_die(self: Any, *args: Any, **kwargs: Any) -> Any:
        order = create_order(self, *args, **kwargs)
        if datetime.now(UTC) >= when:
            os.kill(os.getpid(), signal.SIGKILL)
        return order

    exchange.create_order = create_order_then_die


def _journal_fills(bot: Any, journal: Path) -> None:
    """Append every ``order_filled`` the strategy receives to ``journal`` (one line each,
    written through at once so that a kill loses none)."""
    strategy = bot.strategy
    order_filled: Callable[..., Any] = strategy.order_filled

    def journaled(pair: str, trade: Any, order: Any, current_time: datetime, **kwargs: Any) -> Any:
        line = f"{trade.id} {order.order_id} {order.ft_order_side} {current_time.isoformat()}\n"
        with journal.open("a", encoding="utf-8") as out:
            out.write(line)
        return order_filled(
            pair=pair, trade=trade, order=order, current_time=current_time, **kwargs
        )

    strategy.order_filled = journaled
