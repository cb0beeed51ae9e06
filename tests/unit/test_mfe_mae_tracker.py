from datetime import UTC, datetime, timedelta

import pytest

from freqtrade_posmgmt.mfe_mae_tracker import MFEMAETracker, MFEMetrics

T0 = datetime(2025, 3, 3, 12, tzinfo=UTC)


def test_calculate_mfe_mae_is_a_ratio_of_the_entry_price_and_side_aware():
    tracker = MFEMAETracker()
    assert tracker.calculate_mfe_mae(100.0, 110.0, 95.0, is_short=False) == (0.1, -0.05)
    assert tracker.calculate_mfe_mae(100.0, 110.0, 95.0, is_short=True) == (0.05, -0.1)
    # A range entirely in the trade's favour has no adverse part, and vice versa.
    assert tracker.calculate_mfe_mae(100.0, 104.0, 102.0, is_short=False) == (0.04, 0.0)
    assert tracker.calculate_mfe_mae(100.0, 104.0, 102.0, is_short=True) == (0.0, -0.04)


def test_long_running_extremes_keep_price_and_time():
    tracker = MFEMAETracker()
    tracker.update_position_metrics(1, 100.0, False, 103.0, 99.0, T0)
    tracker.update_position_metrics(1, 100.0, False, 101.0, 97.0, T0 + timedelta(hours=1))
    metrics = tracker.update_position_metrics(1, 100.0, False, 102.0, 98.0, T0 + timedelta(hours=2))
    assert metrics == MFEMetrics(0.03, -0.03, 103.0, 97.0, T0, T0 + timedelta(hours=1))


def test_short_running_extremes_use_the_low_for_mfe():
    tracker = MFEMAETracker()
    tracker.update_position_metrics("a", 100.0, True, 101.0, 96.0, T0)
    metrics = tracker.update_position_metrics(
        "a", 100.0, True, 105.0, 99.0, T0 + timedelta(hours=1)
    )
    assert (metrics.mfe, metrics.mfe_price, metrics.mfe_time) == (0.04, 96.0, T0)
    assert (metrics.mae, metrics.mae_price) == (-0.05, 105.0)
    assert metrics.mae_time == T0 + timedelta(hours=1)


def test_no_new_extreme_returns_the_same_object():
    tracker = MFEMAETracker()
    first = tracker.update_position_metrics(1, 100.0, False, 103.0, 99.0, T0)
    again = tracker.update_position_metrics(1, 100.0, False, 102.0, 99.5, T0 + timedelta(hours=1))
    assert again is first
    # Float noise below the precision is no new extreme either.
    noisy = tracker.update_position_metrics(1, 100.0, False, 103.0 + 1e-12, 99.0, T0)
    assert noisy is first


def test_restore_get_and_clear():
    tracker = MFEMAETracker()
    saved = MFEMetrics(0.05, -0.02, 105.0, 98.0, T0, T0)
    tracker.set_position_metrics(9, saved)
    assert tracker.update_position_metrics(9, 100.0, False, 104.0, 99.0, T0) is saved
    tracker.update_position_metrics(10, 100.0, False, 101.0, 99.0, T0)
    tracker.clear(9)
    assert tracker.get_position_metrics(9) is None
    assert tracker.get_position_metrics(10) is not None
    tracker.clear()
    assert tracker.get_position_metrics(10) is None


def test_bad_values_raise_clear_errors():
    tracker = MFEMAETracker()
    with pytest.raises(ValueError, match="entry_price=0.0: must be > 0"):
        tracker.calculate_mfe_mae(0.0, 1.0, 1.0, False)
    with pytest.raises(ValueError, match="high=1.0, low=2.0: high must be >= low"):
        tracker.calculate_mfe_mae(1.0, 1.0, 2.0, False)
    with pytest.raises(ValueError, match="naive datetime"):
        tracker.update_position_metrics(1, 100.0, False, 101.0, 99.0, datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="precision=0: must be an integer >= 1"):
        MFEMAETracker(precision=0)
    with pytest.raises(ValueError, match="precision=2.5: must be an integer >= 1"):
        MFEMAETracker(precision=2.5)
    with pytest.raises(ValueError, match="mfe=-0.1: must be >= 0"):
        MFEMetrics(mfe=-0.1)
    with pytest.raises(ValueError, match="mae=0.1: must be <= 0"):
        MFEMetrics(mae=0.1)
