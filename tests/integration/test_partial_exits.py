"""
PartialExitMixin in real offline backtests on the shipped candles, checked order by order.

Every candle on which Freqtrade asks the strategy about an open trade is recorded (rate, profit,
limits, stop). The checks then rebuild each trade's state from its filled orders before that
candle and assert that the orders the backtest placed are exactly the ones the configuration
asks for: no target missed or late, no level twice, amounts and stakes as configured.
"""

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pandas as pd
import pytest
from example_strategy import ExampleStrategy
from freqtrade.constants import DEFAULT_AMOUNT_RESERVE_PERCENT
from freqtrade.persistence import LocalTrade, Trade, init_db
from freqtrade.resolvers import StrategyResolver
from freqtrade.strategy import IStrategy

from freqtrade_posmgmt.mixins._base import PolicyConfigError, PolicyMixin
from freqtrade_posmgmt.mixins._hooks import CapabilityHooks, StopAnswer
from freqtrade_posmgmt.mixins.partial_exits import PartialExitMixin
from freqtrade_posmgmt.mixins.trailing_stops import TrailingStopMixin
from freqtrade_posmgmt.partial_manager import (
    PartialExitPolicy,
    exit_min_stake_factor,
    level_tag,
    levels_in_tag,
)
from freqtrade_posmgmt.stop_sources import STOP_BREAKEVEN_AFTER_TP, stop_source
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy
from tests.support.backtest_harness import (
    SPOT_DATA,
    copy_user_data,
    run_backtest,
    write_strategy_stub,
)
from tests.support.helpers import run_cli

SPOT_POLICY = PartialExitPolicy(
    exit_targets=[0.015, 0.025, 0.04],
    exit_sizes=[0.4, 0.3, 0.3],
    scale_in_thresholds=[-0.03, 0.008],
    scale_in_sizes=[1.0, 0.5],
    max_scale_ins=2,
    breakeven_after_first_exit=True,
)
SPOT_PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "DOGE/USDT"]
# Leverage 3 reaches the same profits on a third of the move; adds may follow exits here.
FUTURES_POLICY = dataclasses.replace(SPOT_POLICY, scale_in_after_exit=True)


@dataclass(frozen=True)
class Seen:
    """What Freqtrade passed to adjust_trade_position, and the trade's stop at that moment."""

    rate: float
    exit_profit: float
    entry_profit: float
    min_stake: float | None
    max_stake: float
    stop_loss: float


class Recording(IStrategy):
    """Records what Freqtrade passes to adjust_trade_position before the mixins decide."""

    seen: ClassVar[dict[tuple[str, datetime, datetime], Seen]]

    def adjust_trade_position(self, trade, current_time, current_rate, current_profit, **kwargs):
        self.seen[(trade.pair, trade.open_date_utc, current_time)] = Seen(
            rate=current_rate,
            exit_profit=kwargs["current_exit_profit"],
            entry_profit=kwargs["current_entry_profit"],
            min_stake=kwargs["min_stake"],
            max_stake=kwargs["max_stake"],
            stop_loss=trade.stop_loss,
        )
        return super().adjust_trade_position(
            trade=trade,
            current_time=current_time,
            current_rate=current_rate,
            current_profit=current_profit,
            **kwargs,
        )


class RecordingLadder(Recording, PartialExitMixin, ExampleStrategy):
    partial_exit_policy = SPOT_POLICY
    seen: ClassVar[dict[tuple[str, datetime, datetime], Seen]] = {}


class RecordingShortLadder(RecordingLadder):
    partial_exit_policy = FUTURES_POLICY
    can_short = True
    seen: ClassVar[dict[tuple[str, datetime, datetime], Seen]] = {}


class RecordingWithTrailing(Recording, PartialExitMixin, TrailingStopMixin, ExampleStrategy):
    partial_exit_policy = SPOT_POLICY
    # A profit lock keeps the trail in custom_stoploss (not compiled to the built-in).
    trailing_stop_policy = TrailingStopPolicy(
        activation_threshold=0.02, trailing_distance_pct=0.015, profit_locks=[(0.03, 0.01)]
    )
    seen: ClassVar[dict[tuple[str, datetime, datetime], Seen]] = {}


class RecordingBigAdds(RecordingLadder):
    # Adds of 4x the first stake cannot fit in a small wallet: Freqtrade's max_stake caps them.
    partial_exit_policy = dataclasses.replace(SPOT_POLICY, scale_in_sizes=[4.0, 4.0])
    seen: ClassVar[dict[tuple[str, datetime, datetime], Seen]] = {}


@pytest.fixture(scope="module")
def spot():
    # A small stake makes some targets leave less than the minimum stake.
    result = run_backtest(
        RecordingLadder,
        pairs=SPOT_PAIRS,
        timerange="20250101-20250501",
        config={"stake_amount": 20, "max_open_trades": 5},
    )
    return result, dict(RecordingLadder.seen)


@pytest.fixture(scope="module")
def futures():
    result = run_backtest(
        RecordingShortLadder,
        pairs=["BTC/USDT", "ETH/USDT", "SOL/USDT"],
        timerange="20250101-20250401",
        trading_mode="futures",
        leverage=3,
        config={"stake_amount": 100, "max_open_trades": 3},
    )
    return result, dict(RecordingShortLadder.seen)


def candles(pair: str) -> pd.DataFrame:
    stem = pair.split(":")[0].replace("/", "_")
    return pd.read_feather(SPOT_DATA / f"{stem}-1h.feather").set_index("date")


def filled(trade: LocalTrade) -> list:
    return [o for o in trade.orders if not o.ft_is_open and o.filled]


def is_pm(order) -> bool:
    return (order.ft_order_tag or "").startswith("pm_")


@dataclass
class Book:
    """A trade's position rebuilt from a list of its filled orders."""

    held: float = 0.0
    peak: float = 0.0
    cost: float = 0.0
    first_stake: float = 0.0
    targets: frozenset = frozenset()
    adds: frozenset = frozenset()
    exited: bool = False

    @classmethod
    def of(cls, trade: LocalTrade, orders: list, policy: PartialExitPolicy) -> "Book":
        book = cls()
        for order in orders:
            amount = order.safe_amount_after_fee
            if order.ft_order_side == trade.entry_side:
                book.first_stake = book.first_stake or amount * order.safe_price / trade.leverage
                book.cost += amount * order.safe_price
                book.held += amount
                book.peak = max(book.peak, book.held)
                book.adds |= levels_in_tag(order.ft_order_tag, "add", policy.scale_in_thresholds)
            else:
                book.cost -= amount * book.cost / book.held
                book.held -= amount
                book.exited = True
                book.targets |= levels_in_tag(order.ft_order_tag, "tp", policy.exit_targets)
        return book

    def breakeven(self, trade: LocalTrade) -> float:
        sign = -1 if trade.is_short else 1
        entry = self.cost / self.held
        return entry * (1 + sign * trade.fee_open) / (1 - sign * trade.fee_close)


def crossed(profit: float, threshold: float) -> bool:
    return profit >= threshold if threshold > 0 else profit <= threshold


def check_trades(result, seen: dict, policy: PartialExitPolicy) -> dict[str, int]:
    """Assert every trade against the policy candle by candle; count what was exercised."""
    counts = dict.fromkeys(
        [
            "exits",
            "merged",
            "rest_sold",
            "adds",
            "dca",
            "after_exit",
            "breakeven",
            "capped",
            "dropped",
        ],
        0,
    )
    frames = {}
    for trade in result.trades:
        frame = frames.setdefault(trade.pair, candles(trade.pair))
        orders = filled(trade)
        lot = trade.amount_precision
        tick = trade.price_precision
        entries = sum(
            o.safe_amount_after_fee for o in orders if o.ft_order_side == trade.entry_side
        )
        exits = sum(o.safe_amount_after_fee for o in orders if o.ft_order_side == trade.exit_side)
        assert exits <= entries + 1e-12, trade
        assert not trade.is_open and exits == pytest.approx(entries, abs=1e-12), trade
        first_exit = None
        times = sorted(
            t for pair, opened, t in seen if (pair, opened) == (trade.pair, trade.open_date_utc)
        )
        assert times and times[0] == trade.open_date_utc
        for time in times:
            s = seen[(trade.pair, trade.open_date_utc, time)]
            assert s.rate == frame.loc[pd.Timestamp(time), "open"]
            before = [o for o in orders if o.order_filled_utc < time or o is orders[0]]
            book = Book.of(trade, before, policy)
            placed = [o for o in orders if o.order_filled_utc == time and is_pm(o)]
            assert len(placed) <= 1, "one order per candle"
            assert book.held >= -1e-12

            if book.targets and policy.breakeven_after_first_exit:
                stop, breakeven = s.stop_loss, book.breakeven(trade)
                assert (stop <= breakeven + tick) if trade.is_short else (stop >= breakeven - tick)
                counts["breakeven"] += 1

            due = tuple(
                n
                for n, target in enumerate(policy.exit_targets, start=1)
                if n not in book.targets and s.exit_profit >= target
            )
            if due:
                (order,) = placed
                assert order.ft_order_side == trade.exit_side
                assert levels_in_tag(order.ft_order_tag, "tp", policy.exit_targets) == set(due)
                assert order.ft_order_tag.startswith(
                    level_tag("tp", [policy.exit_targets[n - 1] for n in due])
                )
                wanted = sum(policy.exit_sizes[n - 1] for n in due) * book.peak
                done = sum(policy.exit_sizes[n - 1] for n in book.targets | set(due)) >= 1 - 1e-9
                amount = order.safe_amount_after_fee
                # Freqtrade's minimum for what an exit leaves: min_stake plus its stoploss reserve.
                floor = s.min_stake * exit_min_stake_factor(
                    ExampleStrategy.stoploss, DEFAULT_AMOUNT_RESERVE_PERCENT
                )
                if "rest below min stake" in order.ft_order_tag:
                    assert 0 < (book.held - wanted) * s.rate < floor
                    assert amount == pytest.approx(book.held, abs=1e-12)
                    counts["rest_sold"] += 1
                elif done:
                    assert amount == pytest.approx(book.held, abs=1e-12)
                else:
                    assert wanted - lot - 1e-12 <= amount <= wanted + 1e-12
                    rest = book.held - min(wanted, book.held)
                    assert rest == 0 or rest * s.rate >= floor
                counts["exits"] += 1
                counts["merged"] += len(due) > 1
                first_exit = first_exit or time
                continue
            assert not [o for o in placed if o.ft_order_side == trade.exit_side]

            allowance = policy.scale_in_cap - len(book.adds)
            levels = sorted(
                (
                    n
                    for n, threshold in enumerate(policy.scale_in_thresholds, start=1)
                    if n not in book.adds and crossed(s.entry_profit, threshold)
                ),
                key=lambda n: abs(policy.scale_in_thresholds[n - 1]),
            )[: max(allowance, 0)]
            stake = sum(policy.scale_in_sizes[n - 1] for n in levels) * book.first_stake
            blocked = book.exited and not policy.scale_in_after_exit
            if levels and not blocked and (s.min_stake or 0) <= stake <= s.max_stake:
                (order,) = placed
                assert order.ft_order_side == trade.entry_side
                assert levels_in_tag(order.ft_order_tag, "add", policy.scale_in_thresholds) == set(
                    levels
                )
                step = lot * order.safe_price / trade.leverage
                actual = order.safe_amount_after_fee * order.safe_price / trade.leverage
                assert stake - step - 1e-9 <= actual <= stake + 1e-9
                counts["adds"] += 1
                counts["dca"] += any(policy.scale_in_thresholds[n - 1] < 0 for n in levels)
                counts["after_exit"] += book.exited
            elif not levels or blocked or stake < (s.min_stake or 0):
                assert not placed, (trade, time, placed)
            elif s.max_stake < (s.min_stake or 0):
                assert not placed, "capped below the minimum stake: no add"
                counts["dropped"] += 1
            else:
                (order,) = placed
                assert order.ft_order_side == trade.entry_side
                step = lot * order.safe_price / trade.leverage
                actual = order.safe_amount_after_fee * order.safe_price / trade.leverage
                assert s.max_stake - step - 1e-9 <= actual <= s.max_stake + 1e-9, "capped"
                counts["capped"] += 1
        adds = [o for o in orders if o.ft_order_side == trade.entry_side and is_pm(o)]
        assert (
            sum(len(levels_in_tag(o.ft_order_tag, "add", policy.scale_in_thresholds)) for o in adds)
            <= policy.scale_in_cap
        )
        if not policy.scale_in_after_exit and first_exit:
            assert all(o.order_filled_utc <= first_exit for o in adds)
    return counts


def test_spot_orders_follow_the_ladder_candle_by_candle(spot):
    result, seen = spot
    counts = check_trades(result, seen, SPOT_POLICY)
    assert counts["exits"] >= 10
    assert counts["merged"] >= 1, "a gap over several targets makes one merged order"
    assert counts["rest_sold"] >= 1, "a rest below the minimum stake is sold with the target"
    assert counts["adds"] >= 5 and counts["dca"] >= 1
    assert counts["after_exit"] == 0
    assert counts["breakeven"] >= 10


def test_adds_beyond_the_free_wallet_are_capped_at_max_stake():
    result = run_backtest(
        RecordingBigAdds,
        pairs=SPOT_PAIRS[:3],
        timerange="20250101-20250301",
        config={"stake_amount": 20, "max_open_trades": 3, "dry_run_wallet": 100},
    )
    counts = check_trades(result, RecordingBigAdds.seen, RecordingBigAdds.partial_exit_policy)
    assert counts["capped"] >= 1


def test_short_futures_with_leverage_3_follow_the_ladder(futures):
    result, seen = futures
    shorts = [t for t in result.trades if t.is_short]
    assert shorts and all(t.leverage == 3 for t in result.trades)
    counts = check_trades(result, seen, FUTURES_POLICY)
    short_exits = [o for t in shorts for o in filled(t) if o.ft_order_side == "buy" and is_pm(o)]
    assert len(short_exits) >= 5
    assert counts["merged"] >= 1
    assert counts["after_exit"] >= 1, "scale_in_after_exit lets adds follow exits"


def test_stacked_with_the_trailing_mixin_the_tightest_stop_wins():
    result = run_backtest(
        RecordingWithTrailing,
        pairs=SPOT_PAIRS,
        timerange="20250101-20250501",
        config={"stake_amount": 100},
    )
    seen = RecordingWithTrailing.seen
    counts = check_trades(result, seen, SPOT_POLICY)  # breakeven holds under the trail
    assert counts["exits"] >= 5 and counts["breakeven"] >= 5
    trailed = 0
    for trade in result.trades:
        orders = filled(trade)
        for (pair, opened, time), s in seen.items():
            if (pair, opened) != (trade.pair, trade.open_date_utc):
                continue
            book = Book.of(trade, [o for o in orders if o.order_filled_utc < time], SPOT_POLICY)
            trailed += bool(book.targets) and s.stop_loss > book.breakeven(trade) * 1.005
    assert trailed, "where the trail is tighter than breakeven, the trail's stop is in force"
    assert "trailing_stop_loss" in {t.exit_reason for t in result.trades}


def test_breakeven_stop_closes_runners_at_no_loss(spot):
    result, _ = spot
    stopped = [
        t
        for t in result.trades
        if t.exit_reason in ("stop_loss", "trailing_stop_loss")
        and any(levels_in_tag(o.ft_order_tag, "tp", SPOT_POLICY.exit_targets) for o in filled(t))
    ]
    assert stopped
    for trade in stopped:
        final = filled(trade)[-1]
        assert trade.calc_profit_ratio(final.safe_price) >= -1e-6


def test_a_stop_exit_at_the_breakeven_after_a_take_profit_names_it(spot):
    result, _ = spot
    tagged = [
        t
        for t in result.trades
        if stop_source(filled(t)[-1].ft_order_tag) == STOP_BREAKEVEN_AFTER_TP
    ]
    assert tagged
    for trade in tagged:
        assert trade.exit_reason in ("stop_loss", "trailing_stop_loss")
        book = Book.of(trade, filled(trade)[:-1], SPOT_POLICY)
        assert book.targets, "only after a take-profit"
        # Freqtrade's average entry and its tick rounding: within two ticks of the book's.
        assert abs(trade.stop_loss - book.breakeven(trade)) <= 2 * trade.price_precision


# --- restart -----------------------------------------------------------------------------------


def trade_as_of(trade: LocalTrade, time: datetime) -> dict:
    """The trade's JSON as Freqtrade exports it, cut to the orders filled before ``time``."""
    data = trade.to_json()
    data["orders"] = [
        o for o in data["orders"] if o["order_filled_timestamp"] < time.timestamp() * 1000
    ]
    data.update(is_open=True, close_timestamp=None, close_rate=None, exit_reason=None)
    return data


def decisions(strategy, trade, seen: dict, times: list[datetime]) -> list:
    out = []
    for time in times:
        s = seen[(trade.pair, trade.open_date_utc, time)]
        out.append(
            strategy.adjust_trade_position(
                trade=trade,
                current_time=time,
                current_rate=s.rate,
                current_profit=s.entry_profit,
                min_stake=s.min_stake,
                max_stake=s.max_stake,
                current_entry_rate=s.rate,
                current_exit_rate=s.rate,
                current_entry_profit=trade.calc_profit_ratio(s.rate),
                current_exit_profit=trade.calc_profit_ratio(s.rate),
            )
        )
    return out


def test_a_restarted_bot_makes_the_same_next_decisions(spot, tmp_path):
    result, seen = spot
    trade = next(t for t in result.trades if len([o for o in filled(t) if is_pm(o)]) >= 2)
    first, second = [o.order_filled_utc for o in filled(trade) if is_pm(o)][:2]
    times = sorted(
        t for p, o, t in seen if (p, o) == (trade.pair, trade.open_date_utc) and first < t <= second
    )
    data = trade_as_of(trade, times[0])

    in_memory = LocalTrade.from_json(json.dumps(data))
    in_memory.recalc_trade_from_orders()
    config = dict(result.config, strategy_path=str(tmp_path))
    config["strategy"] = write_strategy_stub(RecordingLadder, tmp_path, None)
    running = StrategyResolver.load_strategy(config)
    expected = decisions(running, in_memory, seen, times)

    db_url = f"sqlite:///{tmp_path / 'tradesv3.sqlite'}"
    init_db(db_url)
    stored = Trade.from_json(json.dumps(data))
    stored.recalc_trade_from_orders()
    Trade.session.add(stored)
    Trade.commit()
    Trade.session.remove()

    init_db(db_url)  # the restart: a new engine and session on the same file
    try:
        (reloaded,) = Trade.get_open_trades()
        restarted = StrategyResolver.load_strategy(config)
        assert restarted is not running
        assert decisions(restarted, reloaded, seen, times) == expected
    finally:
        Trade.session.remove()
        init_db("sqlite://")  # leave an empty in-memory database, not this test's file

    # ... and those decisions are the ones the backtest executed.
    assert expected[:-1] == [None] * (len(times) - 1)
    _, tag = expected[-1]
    executed = next(o for o in filled(trade) if o.order_filled_utc == second)
    assert tag == executed.ft_order_tag


# --- wiring ------------------------------------------------------------------------------------


class Plain(PartialExitMixin, ExampleStrategy):
    pass


class Off(PartialExitMixin, ExampleStrategy):
    partial_exit_policy = None


class LoosePeerHooks(CapabilityHooks):
    capability = "loose_peer"

    def stop(self, request):
        return StopAnswer(LoosePeer.peer_stop)


class LoosePeer(PolicyMixin):
    """Stands for a trailing mixin stacked with the partial exits: a fixed stop distance."""

    peer_stop: ClassVar[float] = 0.5

    def pm_refresh(self) -> None:
        super().pm_refresh()
        self.pm_enable("use_custom_stoploss")
        self.pm_add_hooks(LoosePeerHooks(self, None))


class Stacked(PartialExitMixin, LoosePeer, ExampleStrategy):
    partial_exit_policy = SPOT_POLICY


def test_parameters_build_the_default_policy_in_space_pm_partial(load):
    strategy = load(Plain)
    strategy.ft_load_hyper_params()  # as backtesting and hyperopt do
    names = {name for name, _ in strategy.enumerate_parameters("pm_partial")}
    assert names == {
        "pm_partial_target",
        "pm_partial_levels",
        "pm_partial_spacing",
        "pm_partial_size",
        "pm_partial_size_ratio",
        "pm_partial_scale_in",
        "pm_partial_scale_in_levels",
        "pm_partial_scale_in_spacing",
        "pm_partial_scale_in_size",
    }
    policy = strategy.pm_partial_exit_policy
    assert policy.exit_targets == (0.04,)
    assert policy.exit_sizes == (0.5,)
    assert policy.scale_in_thresholds == (-0.05,)
    assert strategy.position_adjustment_enable
    assert strategy.max_entry_position_adjustment == 1
    assert not strategy.use_custom_stoploss
    strategy.pm_partial_target.value = 0.07  # what a hyperopt epoch samples
    strategy.pm_refresh_all()
    assert strategy.pm_partial_exit_policy.exit_targets == (0.07,)


def test_switched_off_it_costs_nothing(load):
    for strategy in (load(Off), load(Plain, {"posmgmt": {"partial_exits": {"enabled": False}}})):
        assert strategy.pm_partial_exit_policy is None
        assert not strategy.position_adjustment_enable
        assert strategy.max_entry_position_adjustment == -1
        assert "adjust_trade_position" in strategy.__dict__  # bypassed to IStrategy's


def test_config_json_overrides_the_class_policy(load):
    strategy = load(
        Stacked,
        {"posmgmt": {"partial_exits": {"exit_targets": [0.02, 0.05, 0.08], "max_scale_ins": 1}}},
    )
    assert strategy.pm_partial_exit_policy.exit_targets == (0.02, 0.05, 0.08)
    assert strategy.pm_partial_exit_policy.exit_sizes == SPOT_POLICY.exit_sizes
    assert strategy.max_entry_position_adjustment == 1
    assert strategy.use_custom_stoploss


def test_bad_config_fails_at_load_with_one_clear_line(load):
    with pytest.raises(PolicyConfigError) as error:
        load(
            Plain,
            {
                "posmgmt": {
                    "partial_exits": {"exit_targets": [0.06, 0.03], "exit_sizes": [0.5, 0.5]}
                }
            },
        )
    assert (
        str(error.value)
        == "posmgmt.partial_exits: exit_targets=[0.06, 0.03]: must be strictly ascending"
    )


def test_breakeven_works_alone_and_stacked_the_tightest_stop_wins(spot, load):
    result, _ = spot
    trade = next(
        t
        for t in result.trades
        if any(levels_in_tag(o.ft_order_tag, "tp", SPOT_POLICY.exit_targets) for o in filled(t))
    )
    tp_time = next(
        o.order_filled_utc for o in filled(trade) if is_pm(o) and o.ft_order_side == "sell"
    )
    after = LocalTrade.from_json(json.dumps(trade_as_of(trade, tp_time.replace(minute=1))))
    after.recalc_trade_from_orders()
    breakeven = after.calc_close_rate_for_roi(0.0)
    rate = breakeven * 1.05
    call = {
        "pair": trade.pair,
        "trade": after,
        "current_time": tp_time,
        "current_rate": rate,
        "current_profit": 0.04,
        "after_fill": False,
    }

    alone = load(RecordingLadder).custom_stoploss(**call)
    assert rate * (1 - alone) == pytest.approx(breakeven)
    stacked = load(Stacked)
    assert stacked.custom_stoploss(**call) == pytest.approx(alone)
    LoosePeer.peer_stop = 0.01
    try:
        assert stacked.custom_stoploss(**call) == 0.01
    finally:
        LoosePeer.peer_stop = 0.5
    before = LocalTrade.from_json(json.dumps(trade_as_of(trade, tp_time)))
    before.recalc_trade_from_orders()
    assert load(RecordingLadder).custom_stoploss(**(call | {"trade": before})) is None


def test_a_failing_decision_returns_no_change_instead_of_raising(caplog, load):
    strategy = load(Plain)
    out = strategy.adjust_trade_position(
        trade=object(),
        current_time=datetime(2025, 1, 1, tzinfo=UTC),
        current_rate=1.0,
        current_profit=0.0,
        min_stake=5.0,
        max_stake=100.0,
        current_entry_rate=1.0,
        current_exit_rate=1.0,
        current_entry_profit=0.0,
        current_exit_profit=0.0,
    )
    assert out is None
    assert "PartialExitHooks.adjustment failed" in caplog.text


class Spaced(PartialExitMixin, ExampleStrategy):
    partial_exit_policy = PartialExitPolicy(
        exit_targets=[0.02],
        exit_sizes=[0.5],
        scale_in_thresholds=[-0.03],
        scale_in_sizes=[1.0],
        max_scale_ins=1,
        scale_in_min_candles=3,
    )


def ask(strategy, trade: LocalTrade, time: datetime, rate: float):
    profit = trade.calc_profit_ratio(rate)
    return strategy.adjust_trade_position(
        trade=trade,
        current_time=time,
        current_rate=rate,
        current_profit=profit,
        min_stake=5.0,
        max_stake=1000.0,
        current_entry_rate=rate,
        current_exit_rate=rate,
        current_entry_profit=profit,
        current_exit_profit=profit,
    )


def test_scale_ins_wait_their_spacing_and_nothing_is_placed_over_an_open_order(spot, load):
    result, _ = spot
    trade = result.trades[0]
    opened = trade.open_date_utc
    data = trade_as_of(trade, opened + timedelta(minutes=1))
    entry = LocalTrade.from_json(json.dumps(data))
    entry.recalc_trade_from_orders()
    strategy = load(Spaced)
    dip, rise = entry.open_rate * 0.96, entry.open_rate * 1.03
    assert ask(strategy, entry, opened + timedelta(hours=2), dip) is None
    stake, tag = ask(strategy, entry, opened + timedelta(hours=3), dip)
    assert tag == "pm_add-3%" and stake == pytest.approx(entry.stake_amount, rel=1e-3)
    assert ask(strategy, entry, opened + timedelta(hours=1), rise)[1] == "pm_tp2%"

    pending = dict(data["orders"][0], is_open=True, status="open", order_id="pending", filled=0.0)
    data["orders"].append(pending)
    waiting = LocalTrade.from_json(json.dumps(data))
    waiting.recalc_trade_from_orders()
    assert waiting.has_open_orders
    assert ask(strategy, waiting, opened + timedelta(hours=1), rise) is None
    assert ask(strategy, waiting, opened + timedelta(hours=3), dip) is None


LADDER_HYPEROPT = """
from example_strategy import ExampleStrategy

from freqtrade_posmgmt import PartialExitMixin


class LadderHyperopt(PartialExitMixin, ExampleStrategy):
    pass
"""


@pytest.mark.slow
def test_hyperopt_over_pm_partial_shapes_the_whole_ladder_and_the_scale_ins(tmp_path, load):
    userdir = copy_user_data(tmp_path)
    (userdir / "strategies" / "ladder_hyperopt.py").write_text(LADDER_HYPEROPT)
    proc = run_cli(
        "offline", "hyperopt", "-c", "user_data/config.json", "--userdir", "user_data",
        "--strategy", "LadderHyperopt", "--hyperopt-loss", "SharpeHyperOptLossDaily",
        "--spaces", "pm_partial", "-e", "10", "-j", "1",
        "--timerange", "20250101-20250301", "-p", "BTC/USDT", "ETH/USDT",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (results,) = (userdir / "hyperopt_results").glob("*.fthypt")
    epochs = [json.loads(line) for line in results.read_text().splitlines()]
    strategy = load(Plain)
    shapes = []
    for epoch in epochs:
        for name, value in epoch["params_dict"].items():
            getattr(strategy, name).value = value
        strategy.pm_refresh_all()
        policy = strategy.pm_partial_exit_policy
        shapes.append((policy.exit_targets, policy.exit_sizes, policy.scale_in_thresholds))
    # Levels, spacing and sizes of the ladder, and the scale-ins, all vary between epochs.
    assert len({len(targets) for targets, _, _ in shapes}) > 1
    assert len({sizes for _, sizes, _ in shapes}) > 1
    assert len({len(thresholds) for _, _, thresholds in shapes}) > 1
    assert len({e["results_metrics"]["profit_total_abs"] for e in epochs}) > 1
