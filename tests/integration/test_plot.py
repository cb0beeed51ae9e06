"""
``freqtrade-posmgmt plot``: the stop drawn is the stop Freqtrade held, read by the plot's
recorder on Freqtrade's stop adjustment and compared here with what the backtest itself shows:
the stop in force when Freqtrade asks ``custom_exit`` at each candle, right after that candle's
stop check (a callback reading ``trade.stop_loss``, as tests/integration/test_partial_exits.py
reads it), each trade's initial and final stop, and the rule named in each stop exit's tag.
"""

import argparse
import json
from datetime import datetime
from itertools import pairwise
from typing import ClassVar

import pytest
from example_managed_strategy import ExampleManagedStrategy

from freqtrade_posmgmt.cli import plot as command
from freqtrade_posmgmt.plot.page import STOP_LABELS
from freqtrade_posmgmt.stop_sources import STOP_EXIT_REASONS, stop_source
from tests.support.backtest_harness import copy_user_data, write_strategy_stub

PAIRS = ["BTC/USDT", "ETH/USDT"]
TIMERANGE = "20250101-20250301"


class SeenStops(ExampleManagedStrategy):
    """Records the stop in force after each candle's stop check (custom_exit comes next)."""

    seen: ClassVar[dict[tuple[str, datetime, datetime], float]] = {}

    def custom_exit(self, pair, trade, current_time, **kwargs):
        self.seen[(trade.pair, trade.open_date_utc, current_time)] = trade.stop_loss
        return super().custom_exit(pair=pair, trade=trade, current_time=current_time, **kwargs)


@pytest.fixture(scope="module")
def plotted(tmp_path_factory):
    userdir = copy_user_data(tmp_path_factory.mktemp("plot"))
    stubs = userdir / "stub_strategies"
    stubs.mkdir()
    args = argparse.Namespace(
        config=None, strategy=write_strategy_stub(SeenStops, stubs, None), strategy_path=stubs,
        pairs=PAIRS, timerange=TIMERANGE, user_data_dir=userdir, datadir=None, markets=None,
        output=userdir / "plot", db_url=None,
    )  # fmt: skip
    SeenStops.seen.clear()
    config, recording = command.collect(args)
    pages = command.write_pages(config, recording, args.output)
    return recording, dict(SeenStops.seen), pages


def path_of(recording, trade):
    return recording.stops[(trade.pair, trade.open_date_utc)]


def test_each_trades_path_starts_at_its_initial_stop_and_ends_at_its_last(plotted):
    recording, _, _ = plotted
    closed = [t for t in recording.trades if not t.is_open]
    assert len(closed) >= 10
    for trade in closed:
        path = path_of(recording, trade)
        assert path[0].stop == trade.initial_stop_loss
        assert path[-1].stop == trade.stop_loss
        assert path[0].time == trade.open_date_utc
        # The entry candle's own check may move the stop at once: same time as the entry.
        assert all(a.time < b.time for a, b in pairwise(path[1:]))


def test_the_path_equals_the_stop_freqtrade_held_at_every_candle(plotted):
    recording, seen, _ = plotted
    checked = moved = 0
    for trade in recording.trades:
        path = path_of(recording, trade)
        for (pair, opened, time), stop in seen.items():
            if (pair, opened) != (trade.pair, trade.open_date_utc):
                continue
            # Asked right after this candle's stop check: the path's last point by then.
            held = [point for point in path if point.time <= time][-1]
            assert held.stop == stop, (trade.pair, trade.open_date_utc, time)
            checked += 1
            moved += stop != trade.initial_stop_loss
    assert checked >= 200 and moved >= 20, (checked, moved)


def test_a_stop_exit_ends_on_the_rule_its_tag_names(plotted):
    recording, _, _ = plotted
    named = 0
    for trade in recording.trades:
        exits = [o for o in trade.orders if o.ft_order_side == trade.exit_side and o.filled]
        tag = exits[-1].ft_order_tag if exits else None
        if trade.exit_reason in STOP_EXIT_REASONS and stop_source(tag):
            assert path_of(recording, trade)[-1].source == stop_source(tag), trade
            named += 1
    assert named >= 1


def test_one_page_per_pair_with_the_stop_rules_in_the_legend(plotted):
    recording, _, pages = plotted
    assert [page.name for page in pages] == [
        f"posmgmt-SeenStops-{pair.replace('/', '_')}.html" for pair in PAIRS
    ]
    for page, pair in zip(pages, PAIRS, strict=True):
        text = page.read_text()
        sources = {
            point.source
            for (traded, _), path in recording.stops.items()
            if traded == pair
            for point in path
        }
        assert len(sources) >= 2
        for source in sources:
            assert STOP_LABELS[source] in text
        assert "ladder target" in text and "entry stake cut" in text


def test_a_trade_database_draws_its_trades_first_and_last_stop(plotted, tmp_path):
    from freqtrade.persistence import Trade, init_db

    recording, _, _ = plotted
    closed = [t for t in recording.trades if not t.is_open][:8]
    db_url = f"sqlite:///{tmp_path / 'trades.sqlite'}"
    init_db(db_url)
    for trade in closed:
        # A bot stores its strategy's name with each trade (the backtester leaves it empty).
        Trade.session.add(Trade.from_json(json.dumps({**trade.to_json(), "strategy": "SeenStops"})))
    Trade.session.commit()
    userdir = tmp_path / "user_data"
    args = argparse.Namespace(
        config=[plotted[2][0].parents[1] / "config.json"], strategy="SeenStops",
        strategy_path=None, pairs=PAIRS, timerange=TIMERANGE, user_data_dir=None, datadir=None,
        markets=None, output=userdir / "plot", db_url=db_url,
    )  # fmt: skip
    config, stored = command.collect(args)
    assert [(t.pair, t.open_date_utc) for t in stored.trades] == [
        (t.pair, t.open_date_utc) for t in closed
    ]
    for trade in closed:
        path = stored.stops[(trade.pair, trade.open_date_utc)]
        assert path[0].stop == trade.initial_stop_loss and path[-1].stop == trade.stop_loss
    pages = command.write_pages(config, stored, args.output)
    assert pages and "entry" in pages[0].read_text()

    args.strategy = "Other"
    with pytest.raises(command.PlotError, match="no trades of strategy Other in .*: SeenStops"):
        command.collect(args)
