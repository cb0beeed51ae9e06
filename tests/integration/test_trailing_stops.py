"""
TrailingStopMixin in real offline backtests on the shipped candles.

Parity runs use a fixed stake and unlimited open trades, so every trade stands on its own and a
difference in one exit cannot shift later entries. Futures candles are derived from the spot
candles by the harness (futures and mark candles equal spot, funding rate zero).
"""

import json
from datetime import datetime, timedelta
from unittest.mock import patch

import pandas as pd
import pytest
import talib
from example_strategy import ExampleStrategy
from freqtrade.enums import RunMode, TradingMode
from freqtrade.exchange import Exchange
from freqtrade.exchange.exchange_utils import ROUND_UP, price_to_precision
from freqtrade.freqtradebot import FreqtradeBot
from freqtrade.persistence import LocalTrade, Trade

from freqtrade_posmgmt.cli.offline import use_static_markets
from freqtrade_posmgmt.mixins._base import PolicyConfigError
from freqtrade_posmgmt.mixins.trailing_stops import ATR_COLUMN, TrailingStopMixin
from freqtrade_posmgmt.profit import rate_for_profit
from freqtrade_posmgmt.trailing_stops import TrailingStopPolicy
from tests.support.backtest_harness import (
    MARKETS,
    SPOT_DATA,
    USER_DATA,
    run_backtest,
    write_strategy_stub,
)

PARITY = {"stake_amount": 100, "max_open_trades": -1, "dry_run_wallet": 1_000_000}
BTC_ETH = ["BTC/USDT", "ETH/USDT"]
DETAIL_SPAN = "20250101-"  # the shipped 5m candles start on 2024-12-31
NEVER = 10.0  # a breakeven threshold (+1000%) no trade reaches: forces the custom_stoploss path


def builtin(name: str, offset: float, distance: float, short: bool = False) -> type:
    """ExampleStrategy with Freqtrade's own trailing stop, as a module-level class."""
    return type(
        name,
        (ExampleStrategy,),
        {
            "__module__": __name__,
            "__qualname__": name,
            "trailing_stop": True,
            "trailing_stop_positive": distance,
            "trailing_stop_positive_offset": offset,
            "trailing_only_offset_is_reached": True,
            "can_short": short,
        },
    )


BuiltinA = builtin("BuiltinA", 0.02, 0.01)


class PolicyA(TrailingStopMixin, ExampleStrategy):
    trailing_stop_policy = TrailingStopPolicy(activation_threshold=0.02, trailing_distance_pct=0.01)


class CustomPathA(TrailingStopMixin, ExampleStrategy):
    trailing_stop_policy = TrailingStopPolicy(
        activation_threshold=0.02, trailing_distance_pct=0.01, breakeven_threshold=NEVER
    )


BuiltinB = builtin("BuiltinB", 0.05, 0.02)


class PolicyB(TrailingStopMixin, ExampleStrategy):
    trailing_stop_policy = TrailingStopPolicy(activation_threshold=0.05, trailing_distance_pct=0.02)


class CustomPathB(TrailingStopMixin, ExampleStrategy):
    trailing_stop_policy = TrailingStopPolicy(
        activation_threshold=0.05, trailing_distance_pct=0.02, breakeven_threshold=NEVER
    )


BuiltinShort = builtin("BuiltinShort", 0.03, 0.015, short=True)


class PolicyShort(TrailingStopMixin, ExampleStrategy):
    can_short = True
    trailing_stop_policy = TrailingStopPolicy(
        activation_threshold=0.03, trailing_distance_pct=0.015
    )


class CustomPathShort(TrailingStopMixin, ExampleStrategy):
    can_short = True
    trailing_stop_policy = TrailingStopPolicy(
        activation_threshold=0.03, trailing_distance_pct=0.015, breakeven_threshold=NEVER
    )


ATR_POLICY = TrailingStopPolicy(
    activation_threshold=0.03,
    atr_multiplier=2.0,
    breakeven_threshold=0.015,
    breakeven_buffer=0.002,
)


class AtrBreakeven(TrailingStopMixin, ExampleStrategy):
    trailing_stop_policy = ATR_POLICY


def run_three(builtin_cls: type, policy_cls: type, custom_cls: type, **run) -> dict:
    return {
        "builtin": run_backtest(builtin_cls, config=PARITY, **run),
        "policy": run_backtest(policy_cls, config=PARITY, **run),
        "custom": run_backtest(custom_cls, config=PARITY, **run),
    }


@pytest.fixture(scope="module")
def spot_a():
    return run_three(BuiltinA, PolicyA, CustomPathA)


@pytest.fixture(scope="module")
def spot_b():
    return run_three(BuiltinB, PolicyB, CustomPathB)


@pytest.fixture(scope="module")
def detail_5m():
    return run_three(
        BuiltinA, PolicyA, CustomPathA, pairs=BTC_ETH, timerange=DETAIL_SPAN, timeframe_detail="5m"
    )


@pytest.fixture(scope="module")
def futures_short():
    return run_three(BuiltinShort, PolicyShort, CustomPathShort, trading_mode="futures", leverage=3)


@pytest.fixture(scope="module")
def atr_run():
    return run_backtest(AtrBreakeven, config=PARITY)


def candles(pair: str, timeframe: str = "1h") -> pd.DataFrame:
    stem = pair.split(":")[0].replace("/", "_")
    return pd.read_feather(SPOT_DATA / f"{stem}-{timeframe}.feather").set_index("date")


def facts(trade: LocalTrade) -> tuple:
    return (
        trade.pair,
        trade.is_short,
        trade.leverage,
        trade.open_date_utc,
        trade.open_rate,
        trade.close_date_utc,
        trade.close_rate,
        trade.exit_reason,
        trade.close_profit,
        trade.close_profit_abs,
    )


def entry_candle_trail(trade: LocalTrade) -> bool:
    return trade.exit_reason == "trailing_stop_loss" and trade.close_date_utc == trade.open_date_utc


def assert_parity(runs: dict, timeframe: str = "1h", *, entry_candle_exits: bool = True) -> None:
    builtin, policy, custom = runs["builtin"].trades, runs["policy"].trades, runs["custom"].trades
    assert "trailing_stop_loss" in {t.exit_reason for t in builtin}

    # Compiled to Freqtrade's own trailing stop: the very same trades.
    assert sorted(map(facts, policy)) == sorted(map(facts, builtin))

    # Through custom_stoploss: the same trades, except where a trailing exit falls on the entry
    # candle. Freqtrade's backtester prices that exit (optimize/backtesting.py,
    # _get_close_rate_for_stoploss) pessimistically for custom stops: open x (1 - stop / leverage),
    # not below the low. For its built-in stop it takes open x (1 + offset - distance / leverage),
    # the offset unleveraged: with leverage that price can lie above the candle, the exit order
    # does not fill there and the built-in trade closes later.
    by_entry = {(t.pair, t.open_date_utc): t for t in builtin}
    assert sorted((t.pair, t.open_date_utc) for t in custom) == sorted(by_entry)
    differing = [(by_entry[t.pair, t.open_date_utc], t) for t in custom]
    differing = [(b, c) for b, c in differing if facts(b) != facts(c)]
    frames: dict[str, pd.DataFrame] = {}
    for b, c in differing:
        assert entry_candle_trail(b) or entry_candle_trail(c), (facts(b), facts(c))
        if not entry_candle_trail(c):
            continue
        candle = frames.setdefault(c.pair, candles(c.pair, timeframe)).loc[c.open_date_utc]
        side = -1 if c.is_short else 1
        worst = candle["open"] * (1 - side * abs(c.stop_loss_pct) / c.leverage)
        expected = min(candle["high"], worst) if c.is_short else max(candle["low"], worst)
        assert abs(c.close_rate - expected) <= c.price_precision  # Freqtrade rounds to a tick
        if entry_candle_trail(b):
            assert side * (c.close_rate - b.close_rate) < 0  # worse than the built-in's price
    # Whether this data has such exits at all: the difference must show exactly then.
    assert bool(differing) == entry_candle_exits


@pytest.mark.slow
def test_plain_policy_trades_exactly_like_the_builtin_trailing_stop(spot_a, spot_b):
    assert_parity(spot_a)
    assert_parity(spot_b)


@pytest.mark.slow
def test_parity_holds_with_5m_timeframe_detail(detail_5m):
    # Within the first 5 minutes no trailing exit fires on this data: no difference at all.
    assert_parity(detail_5m, timeframe="5m", entry_candle_exits=False)
    inside_hour = [t for t in detail_5m["policy"].trades if t.close_date_utc.minute != 0]
    assert inside_hour, "trailing exits must fire inside the hour with 5m detail"


@pytest.mark.slow
def test_parity_holds_for_shorts_on_futures_with_leverage_3(futures_short):
    assert_parity(futures_short)
    trades = futures_short["policy"].trades
    shorts = [t for t in trades if t.is_short]
    assert any(t.exit_reason == "trailing_stop_loss" for t in shorts)
    assert all(t.leverage == 3 for t in trades)


# --- ATR and breakeven on real trades ---------------------------------------------------------


def ceil_to_tick(rate: float, trade: LocalTrade) -> float:
    # Backtesting takes the tick from the candles, not from the markets snapshot.
    return price_to_precision(
        rate, trade.price_precision, trade.precision_mode_price, rounding_mode=ROUND_UP
    )


def replay_stop_exit(trade: LocalTrade, frame: pd.DataFrame, atr_lag: int) -> tuple | None:
    """
    Freqtrade's 1h stop handling for one long trade, with the policy's rules written out:
    the candle on which the stop fires and the exit rate there, when the stop at a candle uses
    the ATR of the candle ``atr_lag`` candles before it (0: the still-open candle itself).
    """
    policy = ATR_POLICY
    fee = trade.fee_open
    breakeven = trade.open_rate * (1 + fee) * (1 + policy.breakeven_buffer) / (1 - fee)
    stop = ceil_to_tick(trade.open_rate * (1 + ExampleStrategy.stoploss), trade)
    best = trade.open_rate
    atr = frame["atr"].to_numpy()
    start = frame.index.get_loc(trade.open_date_utc)
    for position in range(start, len(frame)):
        candle = frame.iloc[position]
        best = max(best, candle["high"])
        if stop < candle["low"]:  # Freqtrade asks custom_stoploss only then
            profit = trade.calc_profit_ratio(best)
            wanted = [stop]
            if profit > policy.activation_threshold:
                wanted.append(best - policy.atr_multiplier * atr[position - atr_lag])
            if profit >= policy.breakeven_threshold:
                wanted.append(breakeven)
            if max(wanted) < candle["high"]:
                stop = max(stop, ceil_to_tick(max(wanted), trade))
        if candle["low"] <= stop:
            rate = candle["open"] if stop > candle["high"] else stop
            return frame.index[position], rate
    return None


@pytest.mark.slow
def test_atr_stop_uses_the_previous_candles_atr(atr_run):
    frames = {}
    checked = lookahead_mismatches = 0
    for trade in atr_run.trades:
        if trade.close_date_utc == trade.open_date_utc:
            continue  # the entry-candle pricing rule, asserted in the parity tests
        frame = frames.get(trade.pair)
        if frame is None:
            frame = candles(trade.pair)
            frame["atr"] = talib.ATR(frame["high"], frame["low"], frame["close"], timeperiod=14)
            frames[trade.pair] = frame
        fired = replay_stop_exit(trade, frame, atr_lag=1)
        if trade.exit_reason in ("stop_loss", "trailing_stop_loss"):
            assert fired == (trade.close_date_utc, pytest.approx(trade.close_rate)), trade
            checked += 1
            lookahead = replay_stop_exit(trade, frame, atr_lag=0)
            lookahead_mismatches += lookahead != fired
        else:
            # Exit signals and ROI come first on their candle; the stop had not fired before.
            assert fired is None or fired[0] >= trade.close_date_utc, trade
    assert checked > 200
    # Using the still-open candle's ATR would have given other exits: the check has teeth.
    assert lookahead_mismatches > checked // 10


@pytest.mark.slow
def test_breakeven_holds_on_real_trades(atr_run):
    frames = {}
    reached = at_breakeven = 0
    for trade in atr_run.trades:
        frame = frames.setdefault(trade.pair, candles(trade.pair))
        before_exit = frame.loc[trade.open_date_utc : trade.close_date_utc - timedelta(hours=1)]
        if before_exit.empty:
            continue
        if trade.calc_profit_ratio(before_exit["high"].max()) < ATR_POLICY.breakeven_threshold:
            continue
        reached += 1
        breakeven = rate_for_profit(
            ATR_POLICY.breakeven_buffer,
            open_rate=trade.open_rate,
            is_short=False,
            fee_open=trade.fee_open,
            fee_close=trade.fee_close,
        )
        tick = trade.price_precision
        gapped = trade.close_rate == frame.loc[trade.close_date_utc, "open"]
        assert trade.close_rate >= breakeven - tick or gapped, trade
        assert trade.close_profit >= ATR_POLICY.breakeven_buffer - 1e-6 or gapped, trade
        at_breakeven += abs(trade.close_rate - ceil_to_tick(breakeven, trade)) < tick / 2
    assert reached > 200
    assert at_breakeven > 100, "the breakeven stop itself must close trades"


# --- configuration and the callback ------------------------------------------------------------


class Plain(TrailingStopMixin, ExampleStrategy):
    pass


class Off(TrailingStopMixin, ExampleStrategy):
    trailing_stop_policy = None


class UserTrailing(TrailingStopMixin, builtin("UserTrailingBase", 0.04, 0.02)):
    trailing_stop_policy = TrailingStopPolicy()


class CompiledBefore(TrailingStopMixin, builtin("CompiledBeforeBase", 0.02, 0.01)):
    """What a hyperopt result file restores: our compiled values as the strategy's own."""

    trailing_stop_policy = TrailingStopPolicy(activation_threshold=0.02, trailing_distance_pct=0.01)


def uses_builtin(strategy, offset: float, distance: float) -> bool:
    return (
        strategy.trailing_stop is True
        and strategy.trailing_stop_positive == distance
        and strategy.trailing_stop_positive_offset == offset
        and strategy.trailing_only_offset_is_reached is True
        and not strategy.use_custom_stoploss
        and not trails_in_custom_stoploss(strategy)
    )


def trails_in_custom_stoploss(strategy) -> bool:
    """Whether the strategy's custom_stoploss trails a trade in profit (IStrategy's returns
    its stoploss, which Freqtrade would not even ask for without use_custom_stoploss)."""
    trade = open_trade()
    trade.adjust_min_max_rates(110.0, 110.0)
    now = datetime.fromisoformat("2025-01-02T00:00:00+00:00")
    ratio = strategy.custom_stoploss("BTC/USDT", trade, now, 110.0, 0.1, after_fill=False)
    return ratio is not None and ratio > 0


def test_parameters_give_the_seed_defaults_compiled_to_the_builtin(load):
    strategy = load(Plain)
    strategy.ft_load_hyper_params()  # as backtesting and hyperopt do
    names = {name for name, _ in strategy.enumerate_parameters("pm_trailing")}
    assert names == {
        "pm_trailing_activation",
        "pm_trailing_distance",
        "pm_trailing_atr_multiplier",
        "pm_trailing_breakeven",
    }
    assert strategy.pm_trailing_stop_policy == TrailingStopPolicy()
    assert uses_builtin(strategy, 0.015, 0.005)


def test_each_hyperopt_epoch_recompiles(load):
    strategy = load(Plain)
    strategy.ft_load_hyper_params()
    frame = candles("BTC/USDT").iloc[:200].reset_index()
    strategy.pm_trailing_atr_multiplier.value = 2.0
    frame = strategy.advise_indicators(frame, {"pair": "BTC/USDT"})
    strategy.ft_advise_signals(frame, {"pair": "BTC/USDT"})
    assert strategy.pm_trailing_stop_policy.atr_multiplier == 2.0
    assert strategy.use_custom_stoploss and not strategy.trailing_stop
    strategy.pm_trailing_atr_multiplier.value = 0.0
    strategy.pm_trailing_activation.value = 0.03
    strategy.ft_advise_signals(frame, {"pair": "BTC/USDT"})
    assert uses_builtin(strategy, 0.03, 0.005)


def test_config_overrides_class_attribute(load):
    strategy = load(PolicyA, {"posmgmt": {"trailing_stop": {"atr_multiplier": 1.5}}})
    assert strategy.pm_trailing_stop_policy == TrailingStopPolicy(
        activation_threshold=0.02, trailing_distance_pct=0.01, atr_multiplier=1.5
    )
    assert strategy.use_custom_stoploss and not strategy.trailing_stop


def test_switched_off_costs_nothing(load):
    for strategy in (
        load(Off),
        load(PolicyA, {"posmgmt": {"trailing_stop": {"enabled": False}}}),
        load(PolicyA, {"posmgmt": {"trailing_stop": None}}),
    ):
        assert strategy.pm_trailing_stop_policy is None
        assert not strategy.trailing_stop and not strategy.use_custom_stoploss
        assert not trails_in_custom_stoploss(strategy)
        assert ATR_COLUMN not in strategy.advise_indicators(
            candles("BTC/USDT").iloc[:50].reset_index(), {"pair": "BTC/USDT"}
        )


def test_invalid_config_stops_the_strategy_at_load_with_one_line(load):
    with pytest.raises(PolicyConfigError) as error:
        load(Plain, {"posmgmt": {"trailing_stop": {"trailing_distance_pct": 0}}})
    assert str(error.value) == (
        "posmgmt.trailing_stop: trailing_distance_pct=0.0: must be > 0 and < 1"
    )


def test_users_own_trailing_stop_stays_and_ours_runs_beside_it(load):
    strategy = load(UserTrailing)
    assert strategy.trailing_stop_positive == 0.02
    assert strategy.trailing_stop_positive_offset == 0.04
    assert strategy.use_custom_stoploss
    assert trails_in_custom_stoploss(strategy)


def test_compiled_values_written_back_by_hyperopt_are_not_a_users_trailing_stop(load):
    assert uses_builtin(load(CompiledBefore), 0.02, 0.01)


def test_atr_column_is_added_and_read_from_the_last_closed_candle(load):
    strategy = load(AtrBreakeven)
    frame = candles("BTC/USDT").iloc[:300].reset_index()
    frame["date"] = frame["date"].dt.as_unit("ms")  # as Freqtrade's data loader gives it
    analysed = strategy.advise_indicators(frame.copy(), {"pair": "BTC/USDT"})
    expected = talib.ATR(frame["high"], frame["low"], frame["close"], timeperiod=14)
    assert analysed[ATR_COLUMN].iloc[14:].to_numpy() == pytest.approx(expected.iloc[14:])
    candle = 200
    open_time = frame["date"].iloc[candle].to_pydatetime()
    hooks = strategy.pm_hooks("trailing_stop")
    for now in (open_time, open_time + timedelta(minutes=5), open_time + timedelta(minutes=59)):
        assert hooks.closed_candle_atr("BTC/USDT", now) == expected.iloc[candle - 1]
    assert hooks.closed_candle_atr("BTC/USDT", frame["date"].iloc[0]) is None
    assert hooks.closed_candle_atr("ETH/USDT", open_time) is None
    # Live, the still-open candle is not in the dataframe: the last row is the last closed one.
    later = frame["date"].iloc[-1].to_pydatetime() + timedelta(hours=1, minutes=20)
    assert hooks.closed_candle_atr("BTC/USDT", later) == expected.iloc[-1]
    # A gap in the candles: still the last candle closed before the time.
    gapped = strategy.advise_indicators(frame.drop(index=[150, 199]), {"pair": "BTC/USDT"})
    last_closed = gapped.loc[gapped["date"] == frame["date"].iloc[198], ATR_COLUMN].item()
    assert hooks.closed_candle_atr("BTC/USDT", open_time) == last_closed


def open_trade(is_short: bool = False, leverage: float = 1.0) -> LocalTrade:
    trade = LocalTrade(
        pair="BTC/USDT",
        open_rate=100.0,
        amount=1.0,
        stake_amount=100.0 / leverage,
        fee_open=0.001,
        fee_close=0.001,
        is_short=is_short,
        leverage=leverage,
        trading_mode=TradingMode.FUTURES if is_short else TradingMode.SPOT,
        exchange="binance",
        open_date=datetime.fromisoformat("2025-01-01T00:00:00+00:00"),
    )
    trade.adjust_stop_loss(trade.open_rate, -0.06, initial=True)
    return trade


def place(trade: LocalTrade, rate: float, ratio: float | None, after_fill: bool) -> float:
    """Apply a custom_stoploss return exactly as Freqtrade does."""
    if ratio:
        trade.adjust_stop_loss(rate, ratio, allow_refresh=after_fill)
    return trade.stop_loss


@pytest.mark.parametrize(("is_short", "leverage"), [(False, 1.0), (True, 3.0)])
def test_after_fill_call_never_loosens_the_stop(load, is_short, leverage):
    strategy = load(CustomPathA)
    trade = open_trade(is_short, leverage)
    side = -1 if is_short else 1
    best = 100.0 * (1 + side * 0.05)
    trade.adjust_min_max_rates(best, best)
    now = datetime.fromisoformat("2025-01-02T00:00:00+00:00")
    ratio = strategy.custom_stoploss("BTC/USDT", trade, now, best, 0.0, after_fill=False)
    trailed = place(trade, best, ratio, after_fill=False)
    assert trailed == pytest.approx(best * (1 - side * 0.01 / leverage), abs=0.01)
    # A fill at a worse price (an add) would let the stop move either way: it stays.
    worse = 100.0 * (1 + side * 0.045)
    ratio = strategy.custom_stoploss("BTC/USDT", trade, now, worse, 0.0, after_fill=True)
    assert place(trade, worse, ratio, after_fill=True) == trailed


def test_a_failing_callback_makes_no_change(load, caplog):
    strategy = load(CustomPathA)
    now = datetime.fromisoformat("2025-01-02T00:00:00+00:00")
    assert strategy.custom_stoploss("BTC/USDT", object(), now, 100.0, 0.0, after_fill=False) is None
    assert "TrailingStopHooks.stop failed" in caplog.text


def test_stop_on_exchange_follows_the_policy(tmp_path):
    """A dry-run bot (Freqtrade's own loop, exchange prices stubbed) moves the exchange stop."""
    config = json.loads((USER_DATA / "config.json").read_text()) | {
        "strategy": write_strategy_stub(AtrBreakeven, tmp_path, None),
        "strategy_path": str(tmp_path),
        "user_data_dir": tmp_path,
        "datadir": str(SPOT_DATA),
        "db_url": "sqlite://",
        "runmode": RunMode.DRY_RUN,
        "stake_amount": 100,
        "order_types": {
            "entry": "limit",
            "exit": "limit",
            "stoploss": "market",
            "stoploss_on_exchange": True,
            "stoploss_on_exchange_interval": 0,
        },
    }
    use_static_markets(MARKETS)
    price = 100_000.0

    def order_book(pair, limit=None):
        return {"symbol": pair, "bids": [[price, 10.0]], "asks": [[price, 10.0]]}

    def ticker(pair, *args, **kwargs):
        return {"symbol": pair, "bid": price, "ask": price, "last": price}

    with (
        patch.object(Exchange, "fetch_l2_order_book", side_effect=order_book),
        patch.object(Exchange, "fetch_ticker", side_effect=ticker),
        patch.object(Exchange, "get_fee", return_value=0.001),
    ):
        bot = FreqtradeBot(config)
        try:
            frame = candles("BTC/USDT").reset_index()
            bot.strategy.advise_indicators(frame, {"pair": "BTC/USDT"})
            assert bot.execute_entry("BTC/USDT", 100.0)
            trade = Trade.get_open_trades()[0]

            def exchange_stops(status: str) -> list[float]:
                return [
                    o.stop_price
                    for o in trade.orders
                    if o.ft_order_side == "stoploss" and o.status == status
                ]

            bot.exit_positions([trade])
            assert exchange_stops("open") == [price * (1 + ExampleStrategy.stoploss)]

            price = 106_000.0
            bot.exit_positions([trade])  # custom_stoploss moves the trade's stop ...
            bot.exit_positions([trade])  # ... and the bot replaces the order on the exchange
            atr = talib.ATR(frame["high"], frame["low"], frame["close"], timeperiod=14).iloc[-1]
            assert trade.stop_loss == pytest.approx(price - 2 * atr, abs=0.01)
            assert exchange_stops("open") == [trade.stop_loss]
            assert exchange_stops("canceled") == [94_000.0]
        finally:
            bot.cleanup()
            Trade.session.remove()


def test_a_config_trailing_stop_key_does_not_switch_the_compiled_policy_off(caplog):
    """Freqtrade applies config.json's ``trailing_stop`` after the strategy is built: a
    leftover ``"trailing_stop": false`` would silently drop the policy compiled to Freqtrade's
    trailing stop. The policy wins, and the ignored key is named in one line."""
    run = {"pairs": BTC_ETH, "timerange": "20250101-20250201"}
    expected = run_backtest(BuiltinA, config=PARITY, **run)
    with caplog.at_level("WARNING"):
        managed = run_backtest(PolicyA, config={**PARITY, "trailing_stop": False}, **run)

    assert [facts(t) for t in managed.trades] == [facts(t) for t in expected.trades]
    assert any(t.exit_reason == "trailing_stop_loss" for t in managed.trades)
    (warning,) = [r.getMessage() for r in caplog.records if "TrailingStopMixin: config" in r.msg]
    assert "trailing_stop=False ignored" in warning and "posmgmt.trailing_stop: null" in warning
