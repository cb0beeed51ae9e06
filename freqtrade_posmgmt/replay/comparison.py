"""
The replay's trades against the backtest's, matched by pair and entry candle: identical, or
different for a cause from a fixed list. A difference no listed cause explains is a bug (in the
replay, in position management or in the strategy's live path) and fails the command.

Trades are Freqtrade's serialised trades (``to_json``), from the replay's database and from the
backtest alike.
"""

import json
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

STOP_REASONS = {
    "stop_loss",
    "stoploss_on_exchange",
    "trailing_stop_loss",
    "liquidation",
}
RELATIVE_TOLERANCE = 1e-9


class Cause(Enum):
    """Why a replayed trade may rightly differ from the backtest's."""

    SIGNAL_BEFORE_START = "the entry signal is on the candle before the timerange, which the live bot acts on and the backtest does not"
    STOP_AT_POLLED_PRICE = (
        "the stop filled at the polled price, not at the stop price as in the backtest"
    )
    EXIT_INSIDE_CANDLE = "the exit was decided at a poll inside a candle, not at a candle's open or extreme as in the backtest"
    ENTRY_INSIDE_CANDLE = (
        "the entry was made at a poll inside a candle (a slot or the balance came free in it)"
    )
    ORDER_RESTED_UNFILLED = "an order rested unfilled"
    REFUSED_AFTER_RESTART = (
        "the entry was due while the bot was restarting and was not made after the restart"
    )
    OPEN_AT_END = "still open at the end of the timerange in one of the two (the backtest closes it with force_exit)"
    EARLIER_DIFFERENCE = (
        "follows from an earlier difference (open slots, balance, exposure or drawdown differ)"
    )


@dataclass(frozen=True)
class Row:
    """One entry candle of one pair, with what each side did there."""

    pair: str
    entry_candle: str
    identical: bool
    cause: Cause | None
    """None for identical rows, and for a difference no listed cause explains (a bug)."""
    detail: str
    live: dict[str, Any] | None
    backtest: dict[str, Any] | None

    @property
    def unexplained(self) -> bool:
        return not self.identical and self.cause is None


@dataclass(frozen=True)
class Comparison:
    rows: list[Row]

    @property
    def identical(self) -> int:
        return sum(row.identical for row in self.rows)

    @property
    def unexplained(self) -> list[Row]:
        return [row for row in self.rows if row.unexplained]

    def by_cause(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            if row.cause is not None:
                counts[row.cause.name] = counts.get(row.cause.name, 0) + 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "trades": len(self.rows),
            "identical": self.identical,
            "by_cause": self.by_cause(),
            "unexplained": len(self.unexplained),
            "rows": [
                {
                    **asdict(row),
                    "cause": row.cause.name if row.cause else None,
                    "cause_text": row.cause.value if row.cause else None,
                }
                for row in self.rows
            ],
        }


def compare(
    live: list[dict[str, Any]],
    backtest: list[dict[str, Any]],
    *,
    timeframe_ms: int,
    start_ms: int,
    lot_steps: dict[str, float],
    restart_ms: list[int] = (),
) -> Comparison:
    """
    Match ``live`` and ``backtest`` trades by pair and entry candle and name each difference.
    :param timeframe_ms: the strategy's candle length
    :param start_ms: the first candle of the timerange
    :param lot_steps: each pair's amount step (stakes within one step are the same)
    :param restart_ms: times at which the live bot was restarted
    """

    def candle(ms: int) -> int:
        return ms - ms % timeframe_ms

    def key(trade: dict[str, Any]) -> tuple[str, int]:
        return trade["pair"], candle(trade["open_timestamp"])

    live_by_key = {key(trade): trade for trade in live}
    backtest_by_key = {key(trade): trade for trade in backtest}
    rows: list[Row] = []
    differed_since: int | None = None  # entry time of the first difference so far
    for pair, entry in sorted(set(live_by_key) | set(backtest_by_key), key=lambda k: (k[1], k[0])):
        ours, theirs = (
            live_by_key.get((pair, entry)),
            backtest_by_key.get((pair, entry)),
        )
        earlier = differed_since is not None and differed_since < entry
        if ours is not None and theirs is not None:
            differences = _differences(ours, theirs, lot_steps.get(pair, 0.0))
            cause = (
                None
                if not differences
                else _matched_cause(ours, theirs, differences, timeframe_ms, earlier)
            )
        elif ours is not None:
            differences = ["no backtest trade"]
            cause = _live_only_cause(ours, entry, start_ms, timeframe_ms, earlier)
        else:
            differences = ["no live trade"]
            cause = _backtest_only_cause(theirs, entry, timeframe_ms, restart_ms, earlier)
        if differences and differed_since is None:
            differed_since = entry
        rows.append(
            Row(
                pair,
                _iso(entry),
                not differences,
                cause,
                "; ".join(differences),
                ours,
                theirs,
            )
        )
    return Comparison(rows)


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= RELATIVE_TOLERANCE * max(abs(a), abs(b))


def _filled(trade: dict[str, Any]) -> list[dict[str, Any]]:
    return [order for order in trade["orders"] if order.get("order_filled_timestamp")]


def _differences(ours: dict[str, Any], theirs: dict[str, Any], lot_step: float) -> list[str]:
    found = []
    if ours["is_short"] != theirs["is_short"]:
        found.append("direction")
    if not _close(ours["open_rate"], theirs["open_rate"]):
        found.append(f"entry rate {ours['open_rate']} vs {theirs['open_rate']}")
    if abs(ours["amount"] - theirs["amount"]) > lot_step + 1e-12:
        found.append(f"amount {ours['amount']} vs {theirs['amount']}")
    if _is_open(ours) or _is_open(theirs):
        if _is_open(ours) != _is_open(theirs):
            found.append("open at the end in one")
        return found
    if ours["close_timestamp"] != theirs["close_timestamp"]:
        found.append(f"exit time {ours['close_date']} vs {theirs['close_date']}")
    if not _close(ours["close_rate"], theirs["close_rate"]):
        found.append(f"exit rate {ours['close_rate']} vs {theirs['close_rate']}")
    if ours["exit_reason"] != theirs["exit_reason"]:
        found.append(f"exit reason {ours['exit_reason']} vs {theirs['exit_reason']}")
    our_fills, their_fills = _filled(ours), _filled(theirs)
    if len(our_fills) != len(their_fills):
        found.append(f"{len(our_fills)} fills vs {len(their_fills)}")
    else:
        for index, (a, b) in enumerate(zip(our_fills, their_fills, strict=True)):
            if (
                a["ft_order_side"] != b["ft_order_side"]
                or not _close(a["safe_price"], b["safe_price"])
                or abs(a["amount"] - b["amount"]) > lot_step + 1e-12
                or a["ft_order_tag"] != b["ft_order_tag"]
            ):
                found.append(f"fill {index + 1} differs")
    return found


def _is_open(trade: dict[str, Any]) -> bool:
    return bool(trade["is_open"]) or trade.get("exit_reason") == "force_exit"


def _inside(ms: int | None, timeframe_ms: int) -> bool:
    return ms is not None and ms % timeframe_ms != 0


def _matched_cause(
    ours: dict[str, Any],
    theirs: dict[str, Any],
    differences: list[str],
    timeframe_ms: int,
    earlier: bool,
) -> Cause | None:
    entry_differs = any(d.startswith(("entry rate", "amount", "direction")) for d in differences)
    if entry_differs:
        if _inside(ours["open_timestamp"], timeframe_ms):
            return Cause.ENTRY_INSIDE_CANDLE
        return Cause.EARLIER_DIFFERENCE if earlier else None
    if _is_open(ours) or _is_open(theirs):
        return Cause.OPEN_AT_END
    if any(o["status"] in ("open", "canceled") and not o["filled"] for o in ours["orders"]):
        return Cause.ORDER_RESTED_UNFILLED
    if ours["exit_reason"] in STOP_REASONS and _inside(ours["close_timestamp"], timeframe_ms):
        return Cause.STOP_AT_POLLED_PRICE
    # A partial exit or a stop move decided inside a candle shows in the first fill that differs.
    exits = [o["order_filled_timestamp"] for o in _filled(ours) if not o["ft_is_entry"]]
    if any(_inside(ms, timeframe_ms) for ms in exits):
        return Cause.EXIT_INSIDE_CANDLE
    return Cause.EARLIER_DIFFERENCE if earlier else None


def _live_only_cause(
    ours: dict[str, Any], entry: int, start_ms: int, timeframe_ms: int, earlier: bool
) -> Cause | None:
    if entry == start_ms:
        return Cause.SIGNAL_BEFORE_START
    if earlier:
        return Cause.EARLIER_DIFFERENCE
    if _inside(ours["open_timestamp"], timeframe_ms):
        return Cause.ENTRY_INSIDE_CANDLE
    return None


def _backtest_only_cause(
    theirs: dict[str, Any],
    entry: int,
    timeframe_ms: int,
    restart_ms: list[int],
    earlier: bool,
) -> Cause | None:
    if any(entry <= ms < entry + timeframe_ms for ms in restart_ms):
        return Cause.REFUSED_AFTER_RESTART
    return Cause.EARLIER_DIFFERENCE if earlier else None


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def show(comparison: Comparison, console: Console | None = None) -> None:
    """Print the comparison as a table: differences first, then a summary line."""
    console = console or Console()
    table = Table(title="Replay against backtest, by pair and entry candle")
    for column in ("pair", "entry candle", "live exit", "backtest exit", "result"):
        table.add_column(column)
    for row in comparison.rows:
        result = (
            "identical"
            if row.identical
            else (row.cause.name if row.cause else f"[red]UNEXPLAINED[/red]: {row.detail}")
        )
        table.add_row(row.pair, row.entry_candle, _exit(row.live), _exit(row.backtest), result)
    console.print(table)
    causes = ", ".join(f"{name} {count}" for name, count in comparison.by_cause().items())
    console.print(
        f"{len(comparison.rows)} trades: {comparison.identical} identical"
        + (f"; {causes}" if causes else "")
        + (
            f"; [red]{len(comparison.unexplained)} unexplained[/red]"
            if comparison.unexplained
            else ""
        )
    )


def _exit(trade: dict[str, Any] | None) -> str:
    if trade is None:
        return "-"
    if trade["is_open"]:
        return "open"
    return f"{trade['close_date'][5:16]} {trade['exit_reason']} @ {trade['close_rate']:.6g}"


def export(comparison: Comparison, path: Path) -> None:
    path.write_text(json.dumps(comparison.to_json(), indent=2, default=str), encoding="utf-8")
