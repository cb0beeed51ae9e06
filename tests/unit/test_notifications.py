"""Live notifications: settings and their validation, messages, once per decision and candle."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freqtrade_posmgmt.notifications import (
    ADD,
    STOP_MOVED,
    TAKE_PROFIT,
    Notice,
    NotificationSettings,
    Notifier,
    format_message,
    notification_settings,
    notify,
)
from freqtrade_posmgmt.registry import Decision

CANDLE = datetime(2025, 3, 4, 11, 0, tzinfo=UTC)


class Channel:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[str] = []
        self.fail = fail

    def send_msg(self, message: str, *, always_send: bool = False) -> None:
        if self.fail:
            raise RuntimeError("telegram down")
        self.sent.append(message)


def strategy(runmode: str = "dry_run", notifications: dict | None = None, fail: bool = False):
    config = {"runmode": runmode, "stake_currency": "USDT"}
    if notifications is not None:
        config["posmgmt"] = {"notifications": notifications}
    return SimpleNamespace(config=config, dp=Channel(fail))


REFUSED = Decision("correlation", "refused", "group net exposure 5100 over cap 5000", 1000.0,
                   "ETH/USDT", CANDLE)  # fmt: skip
CUT = Decision("dynamic_risk", "resize", "drawdown_tier_1 (factor 0.6)", 12345.678, "BTC/USDT",
               CANDLE)  # fmt: skip


def test_defaults_tell_a_live_trader_about_money_and_protection_not_the_schedule():
    settings = NotificationSettings()
    assert settings.correlation and settings.dynamic_risk
    assert settings.partial_exits and settings.trailing_stop
    assert not settings.time_exits


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"correlation": "yes"}, "posmgmt.notifications.correlation='yes': must be true or false"),
        ({"trailing": True}, "posmgmt.notifications.trailing=True: unknown capability; known:"),
        ([True], "posmgmt.notifications=[True]: must be an object"),
    ],
)
def test_bad_settings_are_one_line_naming_field_value_and_rule(section, message):
    with pytest.raises(ValueError) as error:
        notification_settings(section)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_settings_switch_capabilities():
    settings = notification_settings({"time_exits": True, "dynamic_risk": False})
    assert settings.wants("time_exits") and not settings.wants("dynamic_risk")
    assert settings.wants("correlation")  # the rest keep their defaults


def test_messages_are_short_and_carry_reason_and_numbers():
    assert format_message(REFUSED, "USDT") == (
        "[posmgmt] ETH/USDT: entry refused by correlation (1,000.00 USDT not deployed): "
        "group net exposure 5100 over cap 5000 [2025-03-04 11:00 UTC]"
    )
    assert "stake cut by dynamic_risk (12,345.68 USDT held back): drawdown_tier_1" in (
        format_message(CUT, "USDT")
    )
    raised = Decision("dynamic_risk", "resize", "recovered", -250.0, "BTC/USDT", CANDLE)
    assert "stake raised by dynamic_risk (250.00 USDT more)" in format_message(raised, "USDT")
    stop = Notice("trailing_stop", STOP_MOVED, "BTC/USDT", CANDLE, "breakeven", price=95123.4)
    assert "BTC/USDT: stop moved to breakeven at 95,123.40" in format_message(stop)
    tp = Notice("partial_exits", TAKE_PROFIT, "SOL/USDT", CANDLE, "pm_tp1", 151.2, 330.0)
    assert "SOL/USDT: take-profit placed at 151.20 (330.00 USDT), pm_tp1" in (
        format_message(tp, "USDT")
    )
    add = Notice("partial_exits", ADD, "DOGE/USDT", CANDLE, price=0.1234567, stake=50.0)
    assert "DOGE/USDT: add placed at 0.1234567 (50.00 USDT)" in format_message(add, "USDT")
    for message in (format_message(REFUSED, "USDT"), format_message(tp, "USDT")):
        assert len(message) < 200 and "\n" not in message


def test_one_message_per_decision_pair_and_candle_and_none_outside_dry_run_and_live():
    bot = strategy()
    assert notify(bot, REFUSED) and not notify(bot, REFUSED)  # asked again for the same candle
    assert notify(bot, CUT)
    later = Decision(**{**REFUSED.__dict__, "candle": CANDLE + timedelta(hours=1)})
    assert notify(bot, later)
    assert len(bot.dp.sent) == 3
    for runmode in ("backtest", "hyperopt", "plot", "other"):
        quiet = strategy(runmode)
        assert not notify(quiet, REFUSED) and quiet.dp.sent == []


def test_switches_and_the_trails_every_step_stay_quiet():
    bot = strategy(notifications={"correlation": False})
    assert not notify(bot, REFUSED)
    time_window = Decision("time_exits", "refused", "outside trading hours", 100.0, "BTC/USDT",
                           CANDLE)  # fmt: skip
    assert not notify(bot, time_window)  # off by default
    trail = Notice("trailing_stop", STOP_MOVED, "BTC/USDT", CANDLE, "trail", price=1.0)
    lock = Notice("trailing_stop", STOP_MOVED, "BTC/USDT", CANDLE, "lock", price=1.0)
    assert not notify(bot, trail) and notify(bot, lock)
    assert bot.dp.sent == [format_message(lock, "USDT")]


def test_a_failing_channel_or_bad_settings_never_raise_into_freqtrade():
    assert not notify(strategy(fail=True), REFUSED)
    assert not notify(strategy(notifications={"correlation": 1}), REFUSED)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["correlation", "dynamic_risk"]),
            st.sampled_from(["BTC/USDT", "ETH/USDT"]),
            st.integers(0, 3),
        ),
        max_size=40,
    ).map(lambda items: sorted(items, key=lambda item: item[2]))
)
def test_messages_are_the_distinct_decisions_per_candle(items):
    notifier = Notifier()
    sent = [
        notifier.first(Decision(cap, "refused", "", 1.0, pair, CANDLE + timedelta(hours=hour)))
        for cap, pair, hour in items
    ]
    assert sum(sent) == len(set(items))
