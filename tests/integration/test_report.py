"""``freqtrade-posmgmt analyze`` on real exported backtest results."""

import json

import pytest
from example_strategy import ExampleStrategy

from freqtrade_posmgmt.cli.analyze import main
from tests.support.backtest_harness import (
    SPOT_DATA,
    copy_user_data,
    derive_futures_data,
    export,
    run_backtest,
)
from tests.support.strategies import PAIRS, ExampleShort, ScaleInAndOut

TIMERANGE = "20250101-20250401"
ERROR = "freqtrade-posmgmt analyze: error: "


@pytest.fixture(scope="module")
def spot_result():
    return run_backtest(ScaleInAndOut, pairs=PAIRS, timerange=TIMERANGE)


@pytest.fixture
def userdir(tmp_path):
    return copy_user_data(tmp_path)


@pytest.fixture
def exported(spot_result, userdir):
    return export(spot_result, userdir / "backtest_results")


def run(capsys, *argv):
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_report_tables_json_and_html(spot_result, userdir, exported, capsys):
    json_path, html_path = userdir / "mfe.json", userdir / "mfe.html"
    status, out, err = run(capsys, "--userdir", userdir, "--json", json_path, "--html", html_path)
    assert (status, err) == (0, "")
    for heading in (
        "Per strategy",
        "per exit reason",
        "per partial-exit tag",
        "take_half",
        "Edge ratio",
        "stop keeping 90% of winners",
        "trailing stop",
        "target reached by 50% of trades",
        "best stop + target",
    ):
        assert heading in out

    document = json.loads(json_path.read_text())
    closed = [trade for trade in spot_result.trades if not trade.is_open]
    assert len(document["trades"]) == len(closed)
    for trade in document["trades"]:
        assert trade["mfe"] >= 0 >= trade["mae"]
        assert trade["position_mae"] <= trade["pnl"] <= trade["position_mfe"]
        assert trade["open_date"].endswith("Z") and trade["mfe_time"].endswith("Z")
        assert trade["open_date"] <= trade["mfe_time"] <= trade["close_date"]
        if trade["fills"] == 2:
            assert trade["position_mfe"] == pytest.approx(trade["mfe"])
    assert any(trade["partial_exit_tags"] == ["take_half"] for trade in document["trades"])
    summary = document["summary"]["strategies"]["ScaleInAndOut"]
    assert summary["metrics"]["trades"] == len(closed)
    assert set(summary["by_partial_exit_tag"]) == {"take_half"}
    assert [row["bars"] for row in summary["edge_ratio"]][:3] == [1, 2, 3]
    optimal = summary["optimal_exit"]
    assert optimal["expectancy"] >= optimal["baseline_expectancy"]

    html = html_path.read_text()
    assert html.startswith("<!doctype html>") and len(html) > 1_000_000
    # Self-contained: plotly.js is inline, nothing is fetched.
    assert "<script src=" not in html
    assert "MAE vs result (Sweeney)" in html and "Edge ratio e(n)" in html
    assert "ScaleInAndOut: worst excursion (|MAE|) vs result" in html


def test_latest_result_and_html_next_to_it_by_default(spot_result, userdir, exported, capsys):
    older = export(spot_result, userdir / "backtest_results", stamp="2025-05-01_00-00-00")
    # store_backtest_results points .last_result.json at the file it wrote last: point it back.
    (userdir / "backtest_results" / ".last_result.json").write_text(
        json.dumps({"latest_backtest": exported.name})
    )
    status, out, _ = run(capsys, "--userdir", userdir, "--html")
    assert status == 0
    assert exported.name in out and older.name not in out
    assert exported.with_name(f"{exported.stem}_mfe_mae.html").is_file()


def test_short_futures_result(userdir, tmp_path, capsys):
    result = run_backtest(ExampleShort, pairs=PAIRS, timerange=TIMERANGE, trading_mode="futures")
    exported = export(result, tmp_path)
    datadir = tmp_path / "data"
    datadir.mkdir()
    for candles in SPOT_DATA.glob("*-1h.feather"):
        (datadir / candles.name).symlink_to(candles)
    derive_futures_data([f"{pair}:USDT" for pair in PAIRS], ["1h"], datadir)
    json_path = tmp_path / "short.json"
    status, _, err = run(
        capsys, exported, "--userdir", userdir, "--datadir", datadir, "--json", json_path
    )
    assert (status, err) == (0, "")
    trades = json.loads(json_path.read_text())["trades"]
    shorts = [trade for trade in trades if trade["is_short"]]
    assert len(shorts) >= 10
    assert all(trade["mfe"] >= 0 >= trade["mae"] for trade in shorts)


class TightStop(ExampleStrategy):
    stoploss = -0.004


def test_losing_trade_opened_and_closed_in_one_candle(userdir, tmp_path, capsys):
    # This stake buys 0.5576 ETH at 1842.23 on 2025-05-07 01:00 and the stop closes it in that
    # candle; 1842.23 * 0.5576 / 0.5576 is one ulp off, which once made the best point -1e-16.
    result = run_backtest(
        TightStop, pairs=["ETH/USDT"], timerange="20250505-20250508",
        config={"stake_amount": 1027.28},
    )  # fmt: skip
    (trade,) = [t for t in result.trades if t.open_date == t.close_date and t.close_profit < 0]
    price, amount = trade.orders[0].safe_price, trade.orders[0].safe_amount
    assert amount * (price - price * amount / amount) < 0
    json_path = tmp_path / "one_candle.json"
    status, _, err = run(
        capsys, export(result, tmp_path), "--userdir", userdir, "--json", json_path
    )
    assert (status, err) == (0, "")
    trades = json.loads(json_path.read_text())["trades"]
    (row,) = [t for t in trades if t["open_date"] == t["close_date"] and t["pnl"] < 0]
    assert row["position_mfe"] == 0.0 and row["position_mae"] == row["pnl"] < 0


def assert_one_line_error(status, out, err, fragment):
    assert status == 2
    assert err.startswith(ERROR) and err.count("\n") == 1, err
    assert fragment in err
    assert "Traceback" not in err + out


def test_missing_result(userdir, capsys):
    status, out, err = run(capsys, userdir / "nope.zip", "--userdir", userdir)
    assert_one_line_error(status, out, err, "nope.zip does not exist")


def test_result_and_database_together(userdir, exported, capsys):
    status, out, err = run(capsys, exported, "--db-url", "sqlite:///x.sqlite", "--userdir", userdir)
    assert_one_line_error(status, out, err, "pass a backtest result or --db-url, not both")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [("sqlite:///nope.sqlite", "nope.sqlite does not exist"), ("postgresql://h/db", "only SQLite")],
)
def test_unreadable_database(userdir, capsys, url, fragment):
    status, out, err = run(capsys, "--db-url", url, "--userdir", userdir)
    assert_one_line_error(status, out, err, fragment)


def test_no_result_in_the_backtest_directory(userdir, capsys):
    status, out, err = run(capsys, "--userdir", userdir)
    assert_one_line_error(status, out, err, "backtest_results")


@pytest.mark.parametrize("content", [b"not a zip at all", b"PK\x03\x04 truncated"])
def test_corrupt_zip(userdir, capsys, content):
    corrupt = userdir / "broken.zip"
    corrupt.write_bytes(content)
    status, out, err = run(capsys, corrupt, "--userdir", userdir)
    assert_one_line_error(status, out, err, "is not a readable Freqtrade backtest result")


def test_corrupt_json(userdir, capsys):
    corrupt = userdir / "broken.json"
    corrupt.write_text('{"strategy": {"S": {"trades": [')
    status, out, err = run(capsys, corrupt, "--userdir", userdir)
    assert_one_line_error(status, out, err, "is not a readable Freqtrade backtest result")


def test_pairs_without_candles(userdir, exported, tmp_path, capsys):
    empty = tmp_path / "empty_data"
    empty.mkdir()
    status, out, err = run(capsys, exported, "--userdir", userdir, "--datadir", empty)
    assert_one_line_error(status, out, err, "has no 1h spot candles in")


def test_empty_result(spot_result, userdir, capsys):
    exported = export(spot_result, userdir / "backtest_results", trades=[])
    status, out, err = run(capsys, exported, "--userdir", userdir)
    assert_one_line_error(status, out, err, "the backtest made no trades")


def test_unwritable_output(userdir, exported, capsys):
    status, out, err = run(
        capsys, exported, "--userdir", userdir, "--json", userdir / "missing_dir" / "x.json"
    )
    assert_one_line_error(status, out, err, "cannot write")


def test_missing_config(exported, tmp_path, capsys):
    status, out, err = run(capsys, exported, "-c", tmp_path / "absent.json")
    assert_one_line_error(status, out, err, "absent.json does not exist")


def test_html_option_before_the_result_reads_the_result(userdir, exported, capsys):
    # --html takes an optional path: "--html RESULT" must not overwrite the result with HTML.
    status, out, err = run(capsys, "--userdir", userdir, "--html", exported)
    assert exported.name in out
    assert (status, err) == (0, "")
    assert exported.read_bytes()[:2] == b"PK"
    assert exported.with_name(f"{exported.stem}_mfe_mae.html").is_file()


def test_outputs_are_checked_before_the_analysis(userdir, exported, capsys):
    missing = userdir / "missing_dir" / "report.html"
    status, out, err = run(capsys, exported, "--userdir", userdir, "--html", missing)
    assert_one_line_error(status, out, err, "cannot write")
    assert out == ""  # nothing printed before the error


def test_a_config_given_as_the_result_is_named_as_such(userdir, capsys):
    status, out, err = run(capsys, userdir / "config.json", "--userdir", userdir)
    assert_one_line_error(status, out, err, "is a Freqtrade config, not a backtest result")
    assert "TypeError" not in err


def test_the_labs_attribution_file_is_shown_in_its_chapter(userdir, exported, tmp_path, capsys):
    from tests.unit.test_report_analysis import ATTRIBUTION

    attribution = tmp_path / "attribution.json"
    attribution.write_text(json.dumps(ATTRIBUTION))
    json_path = tmp_path / "story.json"
    status, out, err = run(
        capsys, exported, "--userdir", userdir, "--attribution", attribution, "--json", json_path
    )
    assert (status, err) == (0, "")
    assert out.index("What each capability contributed") < out.index("Excursions, and the stops")
    assert "dynamic_risk off" in out and "+52.50" in out
    document = json.loads(json_path.read_text())
    assert document["attribution"]["all_on"] == ATTRIBUTION["all_on"]


def test_a_malformed_attribution_fails_before_any_output(userdir, exported, tmp_path, capsys):
    attribution = tmp_path / "attribution.json"
    attribution.write_text(json.dumps({"capabilities": [], "all_on": {"trades": 3}}))
    status, out, err = run(capsys, exported, "--userdir", userdir, "--attribution", attribution)
    assert_one_line_error(status, out, err, "attribution: all_on lacks profit_abs")
    assert out == ""


def test_the_attribution_beside_the_result_is_found(userdir, exported, capsys):
    from freqtrade_posmgmt.attribution import attribution_path
    from tests.unit.test_report_analysis import ATTRIBUTION

    path = attribution_path(exported)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(ATTRIBUTION))
    status, out, err = run(capsys, exported, "--userdir", userdir)
    assert (status, err) == (0, "")
    assert "What each capability contributed" in out and "dynamic_risk off" in out
