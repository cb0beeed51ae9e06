"""
Every Freqtrade internal the package relies on, pinned in one place.

The mixin layer and the tools use names beyond Freqtrade's documented strategy API: private
methods they wrap or replace, class attributes they read, the qualified-name check that spares a
trade copy, the exact parameter names of the callbacks they answer. A Freqtrade upgrade that
renames or reshapes one of them fails here, naming the module of ours that depends on it, instead
of deep inside a backtest. Nothing here runs a backtest or builds an exchange.
"""

import asyncio
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from freqtrade.constants import DEFAULT_AMOUNT_RESERVE_PERCENT, FTHYPT_FILEVERSION
from freqtrade.data.dataprovider import DataProvider
from freqtrade.exchange import exchange_utils
from freqtrade.exchange.exchange import Exchange
from freqtrade.optimize import backtesting as backtesting_module
from freqtrade.optimize.backtest_caching import get_strategy_run_id
from freqtrade.optimize.backtesting import Backtesting
from freqtrade.optimize.hyperopt.hyperopt import Hyperopt
from freqtrade.optimize.hyperopt.hyperopt_optimizer import HyperOptimizer
from freqtrade.optimize.hyperopt_tools import HyperoptTools
from freqtrade.persistence import LocalTrade, Order
from freqtrade.resolvers import strategy_resolver
from freqtrade.strategy import IStrategy
from freqtrade.strategy.hyper import detect_all_parameters
from freqtrade.strategy.parameters import BaseParameter, IntParameter
from freqtrade.strategy.strategy_wrapper import strategy_safe_wrapper
from freqtrade.wallets import Wallets

MIXINS = "freqtrade_posmgmt.mixins"

# The callbacks the mixins answer, with the parameters they name (and bind positional calls to,
# as the dispatcher, mixins._dispatch.CallbackDispatcher, defines them), in Freqtrade's order. ``kwargs`` is Freqtrade's **kwargs.
CALLBACK_PARAMETERS = {
    "bot_loop_start": ["self", "current_time", "kwargs"],
    "custom_stoploss": [
        "self", "pair", "trade", "current_time", "current_rate", "current_profit", "after_fill",
        "kwargs",
    ],
    "custom_exit": [
        "self", "pair", "trade", "current_time", "current_rate", "current_profit", "kwargs",
    ],
    "adjust_trade_position": [
        "self", "trade", "current_time", "current_rate", "current_profit", "min_stake",
        "max_stake", "current_entry_rate", "current_exit_rate", "current_entry_profit",
        "current_exit_profit", "kwargs",
    ],
    "confirm_trade_entry": [
        "self", "pair", "order_type", "amount", "rate", "time_in_force", "current_time",
        "entry_tag", "side", "kwargs",
    ],
    "confirm_trade_exit": [
        "self", "pair", "trade", "order_type", "amount", "rate", "time_in_force", "exit_reason",
        "current_time", "kwargs",
    ],
    "custom_stake_amount": [
        "self", "pair", "current_time", "current_rate", "proposed_stake", "min_stake",
        "max_stake", "leverage", "entry_tag", "side", "kwargs",
    ],
    "order_filled": ["self", "pair", "trade", "order", "current_time", "kwargs"],
    "leverage": [
        "self", "pair", "current_time", "current_rate", "proposed_leverage", "max_leverage",
        "entry_tag", "side", "kwargs",
    ],
}  # fmt: skip


def parameters(function: Callable) -> list[str]:
    return list(inspect.signature(function).parameters)


def has_parameters(owner: object, name: str, expected: list[str]) -> Callable[[], None]:
    def check() -> None:
        function = getattr(owner, name, None)
        assert function is not None, f"{getattr(owner, '__name__', owner)}.{name} is gone"
        assert parameters(function) == expected, parameters(function)

    return check


def assigns(cls: type, *attributes: str) -> Callable[[], None]:
    """``cls`` sets each instance attribute ``self.<attribute>`` we read."""

    def check() -> None:
        source = inspect.getsource(cls)
        for attribute in attributes:
            assert f"self.{attribute} =" in source or f"self.{attribute}:" in source, (
                f"{cls.__name__} sets no {attribute}"
            )

    return check


def class_attributes(owner: object, *names: str) -> Callable[[], None]:
    def check() -> None:
        for name in names:
            assert hasattr(owner, name), f"{getattr(owner, '__name__', owner)} has no {name}"

    return check


def assert_annotated(cls: type, *names: str) -> None:
    annotations = inspect.get_annotations(cls)
    for name in names:
        assert name in annotations, f"{cls.__name__} declares no {name}"


def istrategy_names_skip_the_trade_copy() -> None:
    # mixins._dispatch.ReadOnlyCallback takes IStrategy's qualified name to spare the copy.
    trade = object()
    seen = []

    def ours(trade: object) -> None:
        seen.append(trade)

    ours.__qualname__ = "IStrategy.custom_exit"
    strategy_safe_wrapper(ours)(trade=trade)
    ours.__qualname__ = "UserStrategy.custom_exit"
    strategy_safe_wrapper(ours)(trade=[trade])
    assert seen[0] is trade, "an IStrategy.* callback was handed a copy of the trade"
    assert seen[1][0] is not trade, "a user callback was handed the trade itself, not a copy"


def safe_wrapper_default_on_failure() -> None:
    # mixins._dispatch.USER_FAILURE_ANSWERS mirrors it; lab.data asks leverage through it.
    def fails(**kwargs: object) -> float:
        raise RuntimeError("user code")

    assert strategy_safe_wrapper(fails, default_retval=1.0)(pair="BTC/USDT") == 1.0
    assert parameters(strategy_safe_wrapper)[:3] == ["f", "message", "default_retval"]


def stop_after_fill_follows_flag() -> None:
    # mixins._dispatch._pm_route_callbacks sets _ft_stop_uses_after_fill itself; Freqtrade must read
    # it in ft_stoploss_adjust and skip the after-fill call when it is False.
    assert IStrategy._ft_stop_uses_after_fill is False
    strategy = SimpleNamespace(_ft_stop_uses_after_fill=False)
    now = datetime(2024, 1, 1, tzinfo=UTC)
    # trade=None would fail at its first use: returning proves the early exit.
    IStrategy.ft_stoploss_adjust(strategy, 1.0, None, now, 0.0, 0.0, after_fill=True)
    source = inspect.getsource(strategy_resolver.StrategyResolver)
    assert '"after_fill" in getfullargspec' in source, "the resolver's after_fill test changed"


def api_reload_markets_is_async() -> None:
    # cli.offline replaces it with a coroutine that sets the snapshot.
    assert asyncio.iscoroutinefunction(Exchange._api_reload_markets)
    assert "self._api_reload_markets(" in inspect.getsource(Exchange), "no caller left"
    assert "self._api_async = self._init_ccxt(" in inspect.getsource(Exchange.__init__)


def backtest_row_columns() -> None:
    # lab.data indexes Backtesting's rows by these positions.
    assert backtesting_module.HEADERS == [
        "date", "open", "high", "low", "close", "enter_long", "exit_long", "enter_short",
        "exit_short", "enter_tag", "exit_tag",
    ]  # fmt: skip


def backtest_one_strategy_returns_dates() -> None:
    # attribution.runs unpacks (min_date, max_date) and pops all_bt_content[strategy name].
    assert parameters(Backtesting.backtest_one_strategy) == ["self", "strat", "data", "timerange"]
    source = inspect.getsource(Backtesting.backtest_one_strategy)
    assert "return min_date, max_date" in source
    assert "self.all_bt_content[strategy_name]" in source


def hyperopt_save_result_records_epoch() -> None:
    assert parameters(Hyperopt._save_result) == ["self", "epoch"]
    assert isinstance(inspect.getattr_static(Hyperopt, "get_lock_filename"), staticmethod)
    # The shared study writes the file version Freqtrade's own _save_result writes.
    assert "epoch[FTHYPT_FILEVERSION] = 2" in inspect.getsource(Hyperopt._save_result)
    assert isinstance(FTHYPT_FILEVERSION, str)


def run_id_from_config() -> None:
    # mixins._sidecar names the decisions file after the run id Freqtrade gives the result.
    strategy = SimpleNamespace(
        config={"timerange": "20240101-", "strategy": "X"},
        _ft_params_from_file={},
        __file__=__file__,
    )
    assert parameters(get_strategy_run_id) == ["strategy"]
    first = get_strategy_run_id(strategy)
    strategy.config["timerange"] = "20240102-"
    assert get_strategy_run_id(strategy) != first, "the run id no longer covers the timerange"


def parameters_are_found_and_valued() -> None:
    # mixins._base gives each strategy its own copy of each mixin Parameter and reads .value.
    class WithParameter(IStrategy):
        pm_hours = IntParameter(1, 10, default=4, space="pm_x")

    found = detect_all_parameters(WithParameter)
    assert found["pm_x"]["pm_hours"].value == 4
    assert issubclass(IntParameter, BaseParameter)


def bt_trade_lists() -> None:
    # replay.backtest and plot.recorder read the trades, mixins._account the total profit.
    for name in ("bt_trades", "bt_trades_open"):
        assert isinstance(vars(LocalTrade)[name], list), f"LocalTrade.{name} is not a list"
    assert "bt_total_profit" in vars(LocalTrade)
    assert callable(LocalTrade.to_json)


def stops_round_towards_the_price() -> None:
    # mixins._stop_sources and plot.recorder round a stop as Trade.adjust_stop_loss does, to tell
    # whose stop is in force: to the tick, up for a long and down for a short.
    assert parameters(LocalTrade.adjust_stop_loss)[:3] == ["self", "current_price", "stoploss"]
    placed = {}
    for is_short in (False, True):
        trade = LocalTrade(
            pair="BTC/USDT", open_rate=100.0, amount=1.0, stake_amount=100.0, fee_open=0.0,
            fee_close=0.0, open_date=datetime(2024, 1, 1, tzinfo=UTC), exchange="binance",
            is_short=is_short, leverage=1.0, price_precision=0.01,
            precision_mode_price=exchange_utils.TICK_SIZE,
        )  # fmt: skip
        trade.adjust_stop_loss(100.0, 0.03335, initial=True)
        placed[is_short] = trade.stop_loss
    assert placed == {False: 96.67, True: 103.33}, placed


PINS: dict[str, tuple[str, Callable[[], None]]] = {
    **{
        f"IStrategy.{name}": (
            f"{MIXINS}._dispatch (CallbackDispatcher)",
            has_parameters(IStrategy, name, expected),
        )
        for name, expected in CALLBACK_PARAMETERS.items()
    },
    "IStrategy.ft_bot_start": (
        f"{MIXINS}._base",
        has_parameters(IStrategy, "ft_bot_start", ["self", "kwargs"]),
    ),
    "IStrategy.ft_advise_signals": (
        f"{MIXINS}._base, lab.data",
        has_parameters(IStrategy, "ft_advise_signals", ["self", "dataframe", "metadata"]),
    ),
    "IStrategy.ft_stoploss_adjust": (
        "plot.recorder",
        has_parameters(
            IStrategy,
            "ft_stoploss_adjust",
            [
                "self",
                "current_rate",
                "trade",
                "current_time",
                "current_profit",
                "force_stoploss",
                "low",
                "high",
                "bound_profit",
                "after_fill",
            ],
        ),
    ),
    "IStrategy.advise_all_indicators": (
        "lab.data",
        has_parameters(IStrategy, "advise_all_indicators", ["self", "data"]),
    ),
    "IStrategy._ft_stop_uses_after_fill": (f"{MIXINS}._dispatch", stop_after_fill_follows_flag),
    "strategy_safe_wrapper: IStrategy.* qualified names skip the trade copy": (
        f"{MIXINS}._dispatch (ReadOnlyCallback)",
        istrategy_names_skip_the_trade_copy,
    ),
    "strategy_safe_wrapper: default_retval on failure": (
        f"{MIXINS}._dispatch (USER_FAILURE_ANSWERS), lab.data",
        safe_wrapper_default_on_failure,
    ),
    "detect_all_parameters, BaseParameter.value": (
        f"{MIXINS}._base",
        parameters_are_found_and_valued,
    ),
    "DataProvider._exchange": (f"{MIXINS}.dynamic_risk", assigns(DataProvider, "_exchange")),
    "Wallets.get_starting_balance": (
        f"{MIXINS}._account",
        has_parameters(Wallets, "get_starting_balance", ["self"]),
    ),
    "LocalTrade.bt_trades, bt_trades_open, bt_total_profit": (
        "replay.backtest, plot.recorder, mixins._account",
        bt_trade_lists,
    ),
    "IStrategy.dp, wallets": (
        f"{MIXINS}.correlation, dynamic_risk, _account",
        lambda: assert_annotated(IStrategy, "dp", "wallets"),
    ),
    "Order fields": (
        f"{MIXINS}._account, correlation, _stop_sources; plot.recorder, replay",
        class_attributes(
            Order,
            "ft_order_side",
            "ft_order_tag",
            "safe_filled",
            "safe_amount_after_fee",
            "safe_price",
            "safe_remaining",
            "order_filled_utc",
            "stop_price",
        ),
    ),
    "LocalTrade fields": (
        f"{MIXINS}; plot.recorder, replay.database",
        lambda: (
            class_attributes(
                LocalTrade,
                "price_precision",
                "precision_mode_price",
                "initial_stop_loss",
                "funding_fees",
                "realized_profit",
                "date_last_filled_utc",
                "get_all_custom_data",
                "nr_of_successful_entries",
                "has_open_orders",
                "entry_side",
                "exit_side",
                "close_profit_abs",
            )(),
            has_parameters(LocalTrade, "select_filled_orders", ["self", "order_side"])(),
            has_parameters(LocalTrade, "set_custom_data", ["self", "key", "value"])(),
        ),
    ),
    "LocalTrade.adjust_stop_loss rounding": (
        f"{MIXINS}._stop_sources, trailing_stops; plot.recorder",
        stops_round_towards_the_price,
    ),
    "price_to_precision, ROUND_UP, ROUND_DOWN": (
        f"{MIXINS}._stop_sources, plot.recorder",
        lambda: (
            has_parameters(
                exchange_utils,
                "price_to_precision",
                ["price", "price_precision", "precisionMode", "rounding_mode"],
            )(),
            class_attributes(exchange_utils, "ROUND_UP", "ROUND_DOWN", "TICK_SIZE")(),
        ),
    ),
    "DEFAULT_AMOUNT_RESERVE_PERCENT": (
        f"{MIXINS}.partial_exits",
        lambda: DEFAULT_AMOUNT_RESERVE_PERCENT > 0,
    ),
    "get_strategy_run_id": (f"{MIXINS}._sidecar", run_id_from_config),
    "Exchange._api_reload_markets": ("cli.offline", api_reload_markets_is_async),
    "Exchange._init_ccxt": (
        "replay.feed",
        has_parameters(Exchange, "_init_ccxt", ["self", "exchange_config", "sync", "ccxt_kwargs"]),
    ),
    "Exchange.create_order, get_max_leverage": (
        "replay.engine (kill points), lab.data",
        lambda: (
            class_attributes(Exchange, "create_order")(),
            has_parameters(Exchange, "get_max_leverage", ["self", "pair", "stake_amount"])(),
        ),
    ),
    "Backtesting.load_bt_data, _set_strategy, cleanup": (
        "lab.data, attribution.runs, replay.backtest, plot.recorder",
        lambda: (
            has_parameters(Backtesting, "load_bt_data", ["self"])(),
            has_parameters(Backtesting, "_set_strategy", ["self", "strategy"])(),
            has_parameters(Backtesting, "cleanup", [])(),
        ),
    ),
    "Backtesting._get_ohlcv_as_lists": (
        "lab.data",
        has_parameters(Backtesting, "_get_ohlcv_as_lists", ["self", "processed"]),
    ),
    "Backtesting.backtest_one_strategy": (
        "attribution.runs, replay.backtest, plot.recorder",
        backtest_one_strategy_returns_dates,
    ),
    "Backtesting attributes": (
        "lab.data, attribution.runs",
        assigns(
            Backtesting,
            "strategylist",
            "all_bt_content",
            "required_startup",
            "exchange",
            "trading_mode",
            "futures_data",
            "_can_short",
            "fee",
            "timeframe_min",
        ),
    ),
    "backtesting.HEADERS": ("lab.data", backtest_row_columns),
    "HyperOptimizer.get_optimizer, o_dimensions": (
        "cli.distributed_hyperopt",
        lambda: (
            has_parameters(HyperOptimizer, "get_optimizer", ["self", "random_state"])(),
            assigns(HyperOptimizer, "o_dimensions", "config")(),
            class_attributes(HyperOptimizer, "get_strategy_name")(),
        ),
    ),
    "Hyperopt.get_asked_points, duplicate_optuna_asked_points": (
        "cli.distributed_hyperopt",
        lambda: (
            has_parameters(Hyperopt, "get_asked_points", ["self", "n_points", "dimensions"])(),
            has_parameters(
                Hyperopt, "duplicate_optuna_asked_points", ["self", "trial", "asked_trials"]
            )(),
            assigns(Hyperopt, "current_best_loss", "current_best_epoch")(),
        ),
    ),
    "Hyperopt._save_result, get_lock_filename, FTHYPT_FILEVERSION": (
        "cli.distributed_hyperopt",
        hyperopt_save_result_records_epoch,
    ),
    "HyperoptTools._format_explanation_string": (
        "cli.distributed_hyperopt",
        has_parameters(HyperoptTools, "_format_explanation_string", ["results", "total_epochs"]),
    ),
}


@pytest.mark.parametrize("internal", list(PINS))
def test_freqtrade_internal_is_as_relied_on(internal: str) -> None:
    user, check = PINS[internal]
    try:
        check()
    except Exception as e:  # noqa: BLE001 - any failure is the internal's change, reported as such
        pytest.fail(
            f"Freqtrade internal {internal!r} changed ({type(e).__name__}: {e}); "
            f"relied on by freqtrade_posmgmt.{user.removeprefix('freqtrade_posmgmt.')}"
        )
