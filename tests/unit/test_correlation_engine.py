"""CorrelationEngine: no lookahead, groups over held pairs only, an exact direction-aware cap."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freqtrade_posmgmt.correlation_engine import (
    CorrelationConfig,
    CorrelationEngine,
    aligned_returns,
    correlations,
    symbol_key,
)

HOURS = 2000
INDEX = pd.date_range("2025-01-01", periods=HOURS, freq="1h", tz="UTC")


def market(seed: int = 1, noise: float = 0.003) -> dict[str, pd.Series]:
    """BTC and ETH follow one factor; XRP moves on its own; INV moves against BTC."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(0, 0.01, HOURS)

    def walk(returns: np.ndarray) -> np.ndarray:
        return 100 * np.cumprod(1 + returns)

    return {
        "BTC/USDT": pd.Series(walk(factor + rng.normal(0, noise, HOURS)), INDEX),
        "ETH/USDT": pd.Series(walk(factor + rng.normal(0, noise, HOURS)), INDEX),
        "XRP/USDT": pd.Series(walk(rng.normal(0, 0.01, HOURS)), INDEX),
        "INV/USDT": pd.Series(walk(-factor + rng.normal(0, noise, HOURS)), INDEX),
    }


def engine_with(cap: float = 0.15, **fields) -> CorrelationEngine:
    engine = CorrelationEngine(CorrelationConfig(max_correlated_exposure=cap, **fields))
    engine.calculate_position_correlations(market(), INDEX[1500])
    return engine


def matrix_engine(rho: dict[tuple[str, str], float], cap: float, threshold: float = 0.7):
    symbols = sorted({s for pair in rho for s in pair})
    matrix = pd.DataFrame(np.eye(len(symbols)), index=symbols, columns=symbols)
    for (a, b), value in rho.items():
        matrix.loc[a, b] = matrix.loc[b, a] = value
    engine = CorrelationEngine(
        CorrelationConfig(max_correlated_exposure=cap, correlation_threshold=threshold)
    )
    engine.correlation_matrix = matrix
    return engine


def test_the_seed_call_allows_the_full_size_before_any_correlation_is_known():
    engine = CorrelationEngine()
    assert engine.check_entry_allowed(
        candidate_symbol="ETHUSDT", candidate_size=0.05, active_positions={"BTCUSDT": 0.10}
    ) == (True, 0.05)


def test_the_seed_call_fills_the_group_to_the_cap_once_btc_and_eth_correlate():
    engine = engine_with(cap=0.15)
    assert engine.correlation_matrix.loc["BTCUSDT", "ETHUSDT"] > 0.9
    assert engine.check_entry_allowed("ETHUSDT", 0.05, {"BTCUSDT": 0.10}) == (True, 0.05)
    allowed, size = engine.check_entry_allowed("ETHUSDT", 0.08, {"BTCUSDT": 0.10})
    assert allowed and size == pytest.approx(0.05, abs=1e-15)
    assert engine.check_entry_allowed("ETHUSDT", 0.05, {"BTCUSDT": 0.15}) == (False, 0.0)


def test_the_seeds_overshoot_is_fixed_a_cut_fills_exactly_to_the_cap():
    # Seed: 0.06 held, 0.08 candidate, 0.10 cap -> factor 0.714 and the group at 0.117.
    engine = engine_with(cap=0.10)
    factor = engine.compute_size_reduction_factor({"BTCUSDT": 0.06}, None, "ETHUSDT", 0.08)
    assert factor == pytest.approx(0.5)
    assert engine.check_entry_allowed("ETHUSDT", 0.08, {"BTCUSDT": 0.06})[1] == pytest.approx(0.04)


def test_symbols_in_either_form_are_the_same_pair():
    engine = engine_with(cap=0.10)
    assert list(engine.correlation_matrix.columns) == ["BTCUSDT", "ETHUSDT", "INVUSDT", "XRPUSDT"]
    for candidate, held in itertools.product(
        ["ETHUSDT", "ETH/USDT", "ETH/USDT:USDT"], ["BTCUSDT", "BTC/USDT", "BTC/USDT:USDT"]
    ):
        assert engine.check_entry_allowed(candidate, 0.08, {held: 0.06})[1] == pytest.approx(0.04)
    assert symbol_key("eth/usdt:USDT") == "ETHUSDT"


def test_a_hedge_is_not_cut_by_the_group_it_hedges():
    engine = engine_with(cap=0.10)
    # Long group at 0.08: a short may take the group down to -cap, i.e. up to 0.18.
    assert engine.check_entry_allowed("ETHUSDT", -0.15, {"BTCUSDT": 0.08}) == (True, -0.15)
    allowed, size = engine.check_entry_allowed("ETHUSDT", -0.25, {"BTCUSDT": 0.08})
    assert allowed and size == pytest.approx(-0.18)
    # Short group: a long hedge, and a further short is cut to the cap.
    assert engine.check_entry_allowed("ETHUSDT", 0.15, {"BTCUSDT": -0.08}) == (True, 0.15)
    assert engine.check_entry_allowed("ETHUSDT", -0.05, {"BTCUSDT": -0.08})[1] == pytest.approx(
        -0.02
    )


def test_negative_and_missing_correlation_never_group():
    engine = engine_with(cap=0.10)
    assert engine.correlation_matrix.loc["BTCUSDT", "INVUSDT"] < -0.9
    assert engine.check_entry_allowed("INVUSDT", 0.2, {"BTCUSDT": 0.2}) == (True, 0.2)
    assert engine.check_entry_allowed("XRPUSDT", 0.2, {"BTCUSDT": 0.2}) == (True, 0.2)
    assert engine.check_entry_allowed("DOGEUSDT", 0.2, {"BTCUSDT": 0.2}) == (True, 0.2)
    assert engine.get_correlation_groups() == [["BTCUSDT", "ETHUSDT"]]


def test_groups_chain_only_through_pairs_held():
    engine = matrix_engine({("A", "B"): 0.9, ("B", "C"): 0.9, ("A", "C"): 0.1}, cap=0.1)
    assert engine.check_entry_allowed("A", 0.1, {"C": 0.1}) == (True, 0.1)
    _, size = engine.check_entry_allowed("A", 0.1, {"B": 0.02, "C": 0.05})
    assert size == pytest.approx(0.03)
    assert engine.get_correlated_exposure({"B": 0.02, "C": 0.05}, [["B", "C"]]) == {
        ("B", "C"): 0.07
    }


def test_a_pair_with_too_few_common_returns_correlates_with_nothing():
    series = market()
    short = series["ETH/USDT"].iloc[1490:]  # 10 candles before the decision, fewer than 20
    engine = CorrelationEngine()
    matrix = engine.calculate_position_correlations(
        {"BTC/USDT": series["BTC/USDT"], "ETH/USDT": short}, INDEX[1500]
    )
    assert math.isnan(matrix.loc["BTCUSDT", "ETHUSDT"])
    assert engine.check_entry_allowed("ETHUSDT", 0.5, {"BTCUSDT": 0.5}) == (True, 0.5)


def test_correlations_equal_pandas_on_the_same_window_with_gaps():
    series = market()
    btc = series["BTC/USDT"].drop(INDEX[[1300, 1301, 1450]])
    engine = CorrelationEngine(CorrelationConfig(correlation_window_days=10))
    matrix = engine.calculate_position_correlations(
        {"BTC/USDT": btc, "ETH/USDT": series["ETH/USDT"]}, INDEX[1500]
    )
    # Independently: the 240 candles before 1500, returns on the hourly grid.
    grid = pd.DataFrame({"btc": btc, "eth": series["ETH/USDT"]}).reindex(INDEX)
    window = grid.iloc[1500 - 241 : 1500].pct_change(fill_method=None).iloc[1:]
    assert len(window) == 240
    assert matrix.loc["BTCUSDT", "ETHUSDT"] == pytest.approx(window["btc"].corr(window["eth"]))


def test_residual_basis_removes_the_common_factor():
    series = market(noise=0.01)
    raw = CorrelationEngine(CorrelationConfig(correlation_threshold=0.4))
    raw.calculate_position_correlations(series, INDEX[1500])
    residual = CorrelationEngine(CorrelationConfig(correlation_threshold=0.4, basis="residual"))
    residual.calculate_position_correlations(series, INDEX[1500])
    assert raw.get_correlation_groups() == [["BTCUSDT", "ETHUSDT"]]
    assert (
        residual.correlation_matrix.loc["BTCUSDT", "ETHUSDT"]
        < raw.correlation_matrix.loc["BTCUSDT", "ETHUSDT"]
    )


@settings(max_examples=40, deadline=None)
@given(
    cut=st.integers(min_value=400, max_value=HOURS - 2),
    junk_seed=st.integers(0, 10_000),
    basis=st.sampled_from(["returns", "residual"]),
)
def test_no_future_row_ever_changes_a_decision(cut, junk_seed, basis):
    series = market()
    now = INDEX[cut]
    rng = np.random.default_rng(junk_seed)
    # Same past, different future: rows from `now` on replaced by noise, or removed.
    altered = {s: v.where(v.index < now, rng.uniform(1, 1000, len(v))) for s, v in series.items()}
    cut_off = {s: v[v.index < now] for s, v in series.items()}
    config = CorrelationConfig(correlation_window_days=5, basis=basis)
    matrices = []
    for candles in (series, altered, cut_off):
        engine = CorrelationEngine(config)
        matrices.append(engine.calculate_position_correlations(candles, now))
        decision = engine.check_entry_allowed("ETHUSDT", 0.1, {"BTCUSDT": 0.1, "XRPUSDT": 0.05})
        assert decision == engine.check_entry_allowed(
            "ETH/USDT", 0.1, {"BTC/USDT": 0.1, "XRP/USDT": 0.05}
        )
    pd.testing.assert_frame_equal(matrices[0], matrices[1])
    pd.testing.assert_frame_equal(matrices[0], matrices[2])


def test_aligned_returns_never_read_the_decision_candle():
    dates = np.arange(10, dtype=np.int64)
    closes = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 1e9], dtype=float)
    returns = aligned_returns({"A": (dates, closes)}, ["A"], end=9, step=1, window=3)
    np.testing.assert_array_equal(returns["A"], [1.0, 1.0, 1.0])


SIZES = st.floats(-0.5, 0.5, allow_nan=False).filter(lambda v: abs(v) > 1e-6)


@settings(max_examples=300, deadline=None)
@given(
    rho=st.lists(st.floats(-1, 1), min_size=10, max_size=10),
    held=st.lists(st.one_of(st.just(0.0), SIZES), min_size=4, max_size=4),
    size=SIZES,
    cap=st.floats(0.01, 1.0),
)
def test_an_entry_never_takes_its_group_past_the_cap_and_a_cut_fills_it_exactly(
    rho, held, size, cap
):
    names = ["C", "H1", "H2", "H3", "H4"]
    engine = matrix_engine(dict(zip(itertools.combinations(names, 2), rho, strict=True)), cap)
    positions = dict(zip(names[1:], held, strict=True))
    allowed, adjusted = engine.check_entry_allowed("C", size, positions)
    limit = engine._limit_from_matrix(positions, None, "C", size, None)
    assert adjusted == limit.adjusted_size
    assert allowed == (adjusted != 0)
    assert abs(adjusted) <= abs(size) and (adjusted == 0 or adjusted * size > 0)
    if not limit.group:
        assert adjusted == size
        return
    # Independent group: union-find over C and the pairs held, on rho >= threshold.
    parent = {n: n for n in names if n == "C" or positions.get(n)}

    def find(n):
        while parent[n] != n:
            n = parent[n]
        return n

    for (a, b), r in zip(itertools.combinations(names, 2), rho, strict=True):
        if a in parent and b in parent and r >= 0.7:
            parent[find(a)] = find(b)
    members = sorted(n for n in parent if n != "C" and find(n) == find("C"))
    assert list(limit.group) == members
    net = sum(positions[m] for m in members)
    after = net + adjusted
    tolerance = 1e-9 * cap
    if size > 0:
        assert after <= max(cap, net) + tolerance
    else:
        assert after >= min(-cap, net) - tolerance
    if limit.is_cut and adjusted != 0:
        assert after == pytest.approx(cap if size > 0 else -cap, abs=1e-12)
    if adjusted == 0:
        assert (net >= cap - tolerance) if size > 0 else (net <= -cap + tolerance)


def test_correlations_skip_constant_series_and_match_numpy():
    rng = np.random.default_rng(3)
    x = rng.normal(size=100)
    others = np.column_stack([x * 2 + rng.normal(size=100), np.ones(100), -x])
    rho = correlations(x, others, 20)
    assert rho[0] == pytest.approx(np.corrcoef(x, others[:, 0])[0, 1])
    assert math.isnan(rho[1])
    assert rho[2] == pytest.approx(-1.0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"correlation_threshold": 0}, "correlation_threshold=0: must be > 0 and <= 1"),
        ({"correlation_threshold": 1.5}, "correlation_threshold=1.5: must be > 0 and <= 1"),
        ({"correlation_threshold": -0.7}, "correlation_threshold=-0.7: must be > 0 and <= 1"),
        ({"max_correlated_exposure": 0}, "max_correlated_exposure=0: must be > 0 and <= 1"),
        ({"max_correlated_exposure": 2}, "max_correlated_exposure=2: must be > 0 and <= 1"),
        ({"correlation_window_days": 0}, "correlation_window_days=0: must be > 0"),
        ({"correlation_window_days": "30"}, "correlation_window_days='30': must be a finite"),
        ({"sample_min_size": 2}, "sample_min_size=2: must be a whole number >= 3"),
        ({"sample_min_size": 20.5}, "sample_min_size=20.5: must be a whole number >= 3"),
        ({"basis": "log"}, "basis='log': must be one of 'returns', 'residual'"),
    ],
)
def test_bad_config_fails_in_one_line_naming_field_value_and_rule(fields, message):
    with pytest.raises(ValueError) as error:
        CorrelationConfig(**fields)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_a_window_shorter_than_sample_min_size_fails_in_one_line():
    config = CorrelationConfig(correlation_window_days=0.5)
    with pytest.raises(ValueError, match=r"^correlation_window_days=0.5: holds 12 candles"):
        config.window_candles(3600)
    assert CorrelationConfig().window_candles(3600) == 720
