import pytest

from freqtrade_posmgmt.stop_sources import STOP_SOURCES, stop_exit_tag, stop_source


@pytest.mark.parametrize("source", STOP_SOURCES)
@pytest.mark.parametrize("reason", ["stop_loss", "trailing_stop_loss"])
def test_the_rule_round_trips_through_the_exit_orders_tag(reason, source):
    tag = stop_exit_tag(reason, source)
    assert tag.startswith(reason)
    assert stop_source(tag) == source


@pytest.mark.parametrize(
    "tag", [None, "", "trailing_stop_loss", "pm_tp3%", "exit_signal (pm_stop=)", "roi"]
)
def test_other_tags_name_no_rule(tag):
    assert stop_source(tag) is None
