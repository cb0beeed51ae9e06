"""One pair's price chart as a self-contained plotly page, from a :class:`.recorder.Recording`."""

import html
from datetime import timedelta
from typing import Any

import pandas as pd

from freqtrade_posmgmt.plot.recorder import (
    STOP_AT_EXIT,
    STOP_EXCHANGE,
    STOP_FREQTRADE_TRAIL,
    STOP_INITIAL,
    STOP_ROLES,
    STOP_USER,
    Recording,
    StopPoint,
)
from freqtrade_posmgmt.profit import rate_for_profit
from freqtrade_posmgmt.stop_sources import (
    STOP_BREAKEVEN,
    STOP_BREAKEVEN_AFTER_TP,
    STOP_LOCK,
)

# One colour per rule that can set a stop; the legend names each.
STOP_COLOURS = {
    STOP_INITIAL: "#868e96",
    STOP_FREQTRADE_TRAIL: "#e8590c",
    STOP_BREAKEVEN: "#1971c2",
    STOP_LOCK: "#2f9e44",
    STOP_BREAKEVEN_AFTER_TP: "#9c36b5",
    STOP_USER: "#c2255c",
    STOP_EXCHANGE: "#e8590c",
    STOP_AT_EXIT: "#212529",
}
STOP_LABELS = {
    STOP_INITIAL: "stop: initial",
    STOP_FREQTRADE_TRAIL: "stop: trail",
    STOP_BREAKEVEN: "stop: breakeven",
    STOP_LOCK: "stop: profit lock",
    STOP_BREAKEVEN_AFTER_TP: "stop: breakeven after a take-profit",
    # Dynamic risk's tightened stops land here too: they carry no rule name (stop_sources).
    STOP_USER: "stop: custom_stoploss (the strategy's or dynamic risk's)",
    STOP_EXCHANGE: "stop: order on the exchange",
    STOP_AT_EXIT: "stop at the exit (when it moved is not in the database)",
}


def stop_segments(path: list[StopPoint], end: pd.Timestamp) -> dict[str, tuple[list, list]]:
    """Per rule, ``x`` and ``y`` of the horizontal pieces of a stop path (None between)."""
    found: dict[str, tuple[list, list]] = {}
    for point, following in zip(path, [*path[1:], None], strict=True):
        stop_end = following.time if following is not None else end
        xs, ys = found.setdefault(point.source, ([], []))
        xs += [point.time, stop_end, None]
        ys += [point.stop, point.stop, None]
    return found


def _filled(trade: Any) -> list[Any]:
    return [order for order in trade.orders if order.filled and order.order_filled_utc]


def build_figure(pair: str, candles: pd.DataFrame, recording: Recording, timeframe: str) -> Any:
    """Candles and every trade of ``pair`` with what position management did to it."""
    import plotly.graph_objects as go

    figure = go.Figure()
    figure.add_trace(
        go.Candlestick(
            x=candles["date"], open=candles["open"], high=candles["high"], low=candles["low"],
            close=candles["close"], name="candles", increasing_line_color="#5c940d",
            decreasing_line_color="#862e2e", opacity=0.75,
        )
    )  # fmt: skip
    trades = [t for t in recording.trades if t.pair == pair]
    stops: dict[str, tuple[list, list]] = {}
    for trade in trades:
        end = pd.Timestamp(trade.close_date_utc if trade.close_date else candles["date"].iloc[-1])
        path = recording.stops.get((trade.pair, trade.open_date_utc), [])
        for source, (xs, ys) in stop_segments(path, end).items():
            stops.setdefault(source, ([], []))
            stops[source][0].extend(xs)
            stops[source][1].extend(ys)
    ends = [
        (path[-1].time, path[-1].stop)
        for path in recording.stops.values()
        if path and path[-1].source == STOP_AT_EXIT and path[-1].time is not None
    ]
    if ends:
        figure.add_trace(
            go.Scatter(
                x=[time for time, _ in ends], y=[stop for _, stop in ends], mode="markers",
                marker={"symbol": "line-ew-open", "size": 16, "color": STOP_COLOURS[STOP_AT_EXIT],
                        "line": {"width": 2}},
                name=STOP_LABELS[STOP_AT_EXIT],
            )
        )  # fmt: skip
    for source in STOP_ROLES:
        if source in stops:
            xs, ys = stops[source]
            figure.add_trace(
                go.Scatter(
                    x=xs, y=ys, mode="lines", line={"color": STOP_COLOURS[source], "width": 2.5},
                    name=STOP_LABELS[source], hovertemplate="%{y}<extra>" + STOP_LABELS[source]
                    + "</extra>",
                )
            )  # fmt: skip
    _targets(figure, trades, recording)
    _orders(figure, trades)
    _deadlines(figure, trades, recording, candles)
    _decisions(figure, pair, recording, candles)
    figure.update_layout(
        template="plotly_white",
        height=680,
        xaxis_rangeslider_visible=False,
        margin={"t": 10, "b": 40, "l": 70, "r": 40},
        # The legend above the plot, in view; the toolbar upright at the right edge, over no
        # title and no legend.
        legend={"orientation": "h", "y": 1.01, "yanchor": "bottom", "x": 0},
        modebar={"orientation": "v"},
        hovermode="closest",
    )
    return figure


def _targets(figure: Any, trades: list[Any], recording: Recording) -> None:
    """Each trade's ladder targets (partial exits' profit levels, as prices) while it is open."""
    import plotly.graph_objects as go

    policy = recording.policies.get("partial_exits")
    targets = tuple(getattr(policy, "exit_targets", ()) or ())
    if not targets:
        return
    xs, ys, text = [], [], []
    for trade in trades:
        end = trade.close_date_utc or trade.open_date_utc
        for index, target in enumerate(targets, start=1):
            price = rate_for_profit(
                target, open_rate=trade.open_rate, is_short=trade.is_short,
                leverage=trade.leverage or 1.0, fee_open=trade.fee_open,
                fee_close=trade.fee_close,
            )  # fmt: skip
            xs += [trade.open_date_utc, end, None]
            ys += [price, price, None]
            text += [f"target {index}: {target:+.2%}"] * 2 + [None]
    figure.add_trace(
        go.Scatter(
            x=xs, y=ys, mode="lines", line={"color": "#2f9e44", "width": 1, "dash": "dot"},
            name="ladder target (profit level as a price)", text=text,
            hovertemplate="%{text}: %{y}<extra></extra>",
        )
    )  # fmt: skip


def _orders(figure: Any, trades: list[Any]) -> None:
    """Entries, adds, partial exits (ladder fills) and exits, each trade's reason on hover."""
    import plotly.graph_objects as go

    kinds: dict[str, dict[str, list]] = {}

    def add(kind: str, time: Any, price: float, text: str) -> None:
        found = kinds.setdefault(kind, {"x": [], "y": [], "text": []})
        found["x"].append(time)
        found["y"].append(price)
        found["text"].append(text)

    for trade in trades:
        filled = _filled(trade)
        side = "short" if trade.is_short else "long"
        for index, order in enumerate(filled):
            tag = order.ft_order_tag or ""
            time, price = order.order_filled_utc, order.safe_price
            if order.ft_order_side == trade.entry_side:
                kind = "entry" if index == 0 else "add"
                add(kind, time, price, f"{side} {kind} {tag}".strip())
            elif index < len(filled) - 1 or trade.is_open:
                add("partial exit (ladder fill)", time, price, f"partial exit {tag}")
            else:
                profit = f"{trade.close_profit:+.2%}" if trade.close_profit is not None else ""
                add("exit", time, price, f"exit {trade.exit_reason} {profit}".strip())
    styles = {
        "entry": {"symbol": "triangle-up", "color": "#1971c2", "size": 11},
        "add": {"symbol": "cross", "color": "#1971c2", "size": 10},
        "partial exit (ladder fill)": {"symbol": "diamond", "color": "#2f9e44", "size": 10},
        "exit": {"symbol": "triangle-down", "color": "#212529", "size": 11},
    }
    for kind, style in styles.items():
        if kind in kinds:
            figure.add_trace(
                go.Scatter(
                    x=kinds[kind]["x"], y=kinds[kind]["y"], mode="markers", name=kind,
                    text=kinds[kind]["text"], hovertemplate="%{text}<br>%{y}<extra></extra>",
                    marker={"symbol": style["symbol"], "color": style["color"],
                            "size": style["size"], "line": {"width": 1, "color": "#fff"}},
                )
            )  # fmt: skip


def _deadlines(figure: Any, trades: list[Any], recording: Recording, candles: Any) -> None:
    """The time exits' maximum holding deadline of each trade that reached it."""
    import plotly.graph_objects as go

    hours = getattr(recording.policies.get("time_exits"), "max_holding_hours", None)
    if not hours:
        return
    xs, ys = [], []
    low, high = float(candles["low"].min()), float(candles["high"].max())
    for trade in trades:
        deadline = trade.open_date_utc + timedelta(hours=hours)
        if trade.close_date_utc is None or trade.close_date_utc >= deadline - timedelta(hours=1):
            xs += [deadline, deadline, None]
            ys += [low, high, None]
    if xs:
        figure.add_trace(
            go.Scatter(
                x=xs, y=ys, mode="lines", line={"color": "#f08c00", "width": 1, "dash": "dash"},
                name=f"time exit: {hours:g} h holding deadline", hoverinfo="skip",
            )
        )  # fmt: skip


def _decisions(figure: Any, pair: str, recording: Recording, candles: pd.DataFrame) -> None:
    """Entries refused or resized, below the candle they were asked on, reason on hover."""
    import plotly.graph_objects as go

    lows = candles.set_index("date")["low"]
    groups: dict[str, dict[str, list]] = {}
    for decision in recording.decisions:
        if decision.pair != pair:
            continue
        candle = pd.Timestamp(decision.candle)
        price = lows.asof(candle) if len(lows) else None
        if price is None or pd.isna(price):
            continue
        kind = "entry refused" if decision.kind == "refused" else "entry stake cut"
        found = groups.setdefault(kind, {"x": [], "y": [], "text": []})
        found["x"].append(candle)
        found["y"].append(price * 0.995)
        found["text"].append(
            f"{decision.capability} {decision.kind}: {html.escape(decision.reason)}"
            f"<br>stake held back {decision.stake_not_deployed:,.2f}"
        )
    styles = {"entry refused": ("x", "#c92a2a"), "entry stake cut": ("triangle-up-open", "#f08c00")}
    for kind, (symbol, colour) in styles.items():
        if kind in groups:
            figure.add_trace(
                go.Scatter(
                    x=groups[kind]["x"], y=groups[kind]["y"], mode="markers", name=kind,
                    text=groups[kind]["text"], hovertemplate="%{text}<extra></extra>",
                    marker={"symbol": symbol, "color": colour, "size": 9},
                )
            )  # fmt: skip


def page(pair: str, strategy: str, timeframe: str, figure: Any) -> str:
    """The whole page: a title outside the plot (so the toolbar sits over nothing) and the plot."""
    from plotly.offline import get_plotlyjs

    title = f"{strategy}: {pair} ({timeframe}) — what position management did"
    body = figure.to_html(include_plotlyjs=False, full_html=False, config={"responsive": True})
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><script>{get_plotlyjs()}</script><style>body {{ font-family: system-ui, "
        f"sans-serif; margin: 1em 2em; }} h1 {{ font-size: 1.2em; }}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>The stop is the one Freqtrade held on each candle, "
        "coloured by the rule that set it; hover a marker for its reason.</p>"
        f"{body}</body></html>"
    )
