"""
``freqtrade-posmgmt lab`` end to end on the shipped data: ranked variants, the export Freqtrade
runs unchanged (checked by the command's own --verify against Freqtrade's backtester), the
parameter file Freqtrade loads, the walk-forward page, and one-line refusals.
"""

import json

from freqtrade.optimize.hyperopt_tools import HyperoptTools

from freqtrade_posmgmt.cli import build_parser
from tests.support.backtest_harness import copy_user_data

SPACE = {
    "strategy": {"stoploss": {"low": -0.08, "high": -0.02}},
    "trailing_stop": {
        "activation_threshold": {"low": 0.0, "high": 0.05},
        "trailing_distance_pct": {"low": 0.003, "high": 0.03},
        "atr_multiplier": [None, 2.0],
    },
    "time_exits": {"max_holding_hours": [None, 24, 72]},
}
OFF = {"posmgmt": {"partial_exits": None, "correlation": None, "dynamic_risk": None}}
OWN_STOP = """
from example_strategy import ExampleStrategy


class OwnStop(ExampleStrategy):
    use_custom_stoploss = True

    def custom_stoploss(self, pair, trade, current_time, current_rate, current_profit, **kwargs):
        return -0.05
"""


def lab(userdir, *extra):
    args = build_parser().parse_args(
        [
            "lab",
            "-c",
            str(userdir / "config.json"),
            "--userdir",
            str(userdir),
            "--timerange",
            "20250101-20250201",
            *extra,
        ]
    )
    return args.run(args)


def test_lab_ranks_exports_verifies_and_walks_forward(tmp_path, capsys):
    userdir = copy_user_data(tmp_path)
    (userdir / "off.json").write_text(json.dumps(OFF))
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    export = tmp_path / "lab.json"
    status = lab(
        userdir,
        "-c",
        str(userdir / "off.json"),
        "-s",
        "ExampleManagedStrategy",
        "--space",
        str(tmp_path / "space.json"),
        "--variants",
        "40",
        "--seed",
        "7",
        "--export",
        str(export),
        "--export-trades",
        "--verify",
        "2",
        "--walk-forward",
        "2",
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "verified 2 variants with Freqtrade's backtester" in out
    assert "0 variants differ" in out
    assert "compiled kernel ready in" in out

    variants = json.loads(export.read_text())["variants"]
    assert len(variants) == 40
    for variant in variants:
        assert variant["posmgmt"]["partial_exits"] is None
        assert variant["metrics"]["trades"] == len(variant["trades"])
        stop = variant["strategy"]["stoploss"]
        assert variant is variants[0] or -0.08 <= stop <= -0.02
    assert len({json.dumps(v["posmgmt"]["trailing_stop"]) for v in variants}) > 30

    best = max(variants, key=lambda v: v["metrics"]["profit_abs"])
    params = HyperoptTools.load_params((tmp_path / "lab.ExampleManagedStrategy.json").read_text())
    assert params["params"]["stoploss"]["stoploss"] == best["strategy"]["stoploss"]
    page = tmp_path / "lab.walk_forward.html"
    assert "Parameter stability" in page.read_text()


def test_lab_refuses_what_it_cannot_reproduce_in_one_line(tmp_path, capsys):
    userdir = copy_user_data(tmp_path)
    (userdir / "strategies" / "own_stop.py").write_text(OWN_STOP)
    (tmp_path / "space.json").write_text(json.dumps({"strategy": {"stoploss": [-0.05]}}))
    space = ["--space", str(tmp_path / "space.json"), "--variants", "2"]

    assert lab(userdir, "-s", "OwnStop", *space) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "freqtrade-posmgmt lab: refused: the strategy's own custom_stoploss() "
        "(the lab cannot run user callbacks)"
    )

    # The managed example with its correlation gate on: not modelled, refused by name.
    assert lab(userdir, "-s", "ExampleManagedStrategy", *space) == 2
    assert "refused: posmgmt.correlation" in capsys.readouterr().err
