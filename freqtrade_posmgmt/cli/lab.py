"""
``freqtrade-posmgmt lab``: thousands of exit variants on a strategy's own signals, each equal to
Freqtrade's backtest of it, ranked; optionally verified by Freqtrade and walked forward.

Heavy imports (Freqtrade, numba) happen inside :func:`run`: ``--help`` stays fast and works
without the ``[lab]`` extra.
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from freqtrade_posmgmt.cli.arguments import add_strategy_run_arguments

DESCRIPTION = (
    "Backtest many exit variants (stop, ROI, trailing, time exits) of a strategy on its own "
    "signals with a compiled copy of Freqtrade's backtester rules; rank them, export them as "
    "config.json sections, verify them with Freqtrade, walk them forward."
)
RANK_COLUMNS = (
    "trades",
    "profit_abs",
    "profit_ratio",
    "max_drawdown",
    "calmar",
    "win_rate",
    "profit_factor",
)


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    lab = commands.add_parser(
        "lab", help="tune exits fast, trade for trade equal to Freqtrade", description=DESCRIPTION
    )
    add_strategy_run_arguments(lab)
    lab.add_argument(
        "--space",
        type=Path,
        required=True,
        metavar="SPACE.json",
        help='what varies: {"trailing_stop": {FIELD: [choices] or {"low": a, '
        '"high": b}}, "time_exits": {...}, "strategy": {"stoploss": ...}}',
    )
    lab.add_argument(
        "--variants",
        type=int,
        default=1000,
        metavar="N",
        help="number of variants (the first is the strategy as configured)",
    )
    lab.add_argument("--seed", type=int, default=0, help="sampling seed")
    lab.add_argument(
        "--export",
        type=Path,
        metavar="PATH.json",
        help="write every variant's posmgmt/strategy sections and metrics",
    )
    lab.add_argument(
        "--export-trades", action="store_true", help="with --export: each variant's trades too"
    )
    lab.add_argument(
        "--verify",
        type=int,
        default=0,
        metavar="K",
        help="run Freqtrade's backtester on K variants (the best, then random) and "
        "fail on any trade that differs",
    )
    lab.add_argument(
        "--walk-forward",
        type=int,
        default=0,
        metavar="K",
        help="K folds: in-sample best, its out-of-sample result, parameter stability",
    )
    lab.add_argument("--top", type=int, default=10, help="ranked variants shown (default 10)")
    return lab


def _progress(total: int) -> Any:
    started = time.monotonic()

    def show(done: int) -> None:
        if done % max(1, total // 100) and done != total:
            return
        width = 30
        filled = width * done // total
        rate = done / max(time.monotonic() - started, 1e-9)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:,.0f} variants/s)"
        )
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _metrics_dict(row: Any) -> dict[str, float]:
    return {name: float(row[i]) for i, name in enumerate(RANK_COLUMNS)}


def _table(rows: list[list[Any]], headers: list[str]) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers, floatfmt=".4g")


def run(args: argparse.Namespace) -> int:
    import logging

    from freqtrade.configuration import Configuration
    from freqtrade.enums import RunMode
    from freqtrade.exceptions import FreqtradeException
    from freqtrade.optimize.backtesting import Backtesting

    from freqtrade_posmgmt.cli.offline import load_markets, use_static_markets
    from freqtrade_posmgmt.lab import data as lab_data
    from freqtrade_posmgmt.lab import kernel
    from freqtrade_posmgmt.lab.refusals import LabRefusal, check_policies, check_strategy
    from freqtrade_posmgmt.lab.runner import run_metrics, run_trades, variant_records
    from freqtrade_posmgmt.lab.variants import base_variant, sample

    logging.disable(logging.INFO)
    ft_args = {
        "config": [str(path) for path in args.config],
        "strategy": args.strategy,
        "timerange": args.timerange,
        "user_data_dir": args.user_data_dir,
        "export": "none",
        "cache": "none",
    }
    ft_args = {k: v for k, v in ft_args.items() if v is not None}
    try:
        config = Configuration(ft_args, RunMode.BACKTEST).get_config()
        markets = args.markets or Path(config["user_data_dir"]) / "markets" / "binance_spot.json"
        use_static_markets(load_markets(markets))
        space = json.loads(args.space.read_text())
        backtesting = Backtesting(config)
        try:
            data = lab_data.load(backtesting)
        finally:
            backtesting.exchange.close()
        strategy = data.strategy
        check_strategy(strategy, config)
        check_policies(_policies(strategy))
        base = base_variant(_strategy_values(strategy), _policies(strategy))
        if _has_posmgmt(space) and not hasattr(strategy, "pm_refresh"):
            raise LabRefusal(
                "posmgmt sections in the space need a strategy with the mixins "
                f"(class {args.strategy}_PM(PositionManagementMixin, {args.strategy}))"
            )
        variants = sample(space, base, args.variants, args.seed)
        started = time.process_time()
        run_trades(data, variants[0])
        compile_s = time.process_time() - started
        print(
            f"compiled kernel ready in {compile_s:.1f} s CPU (cached on disk after the first run)"
        )
        started = time.process_time()
        metrics = run_metrics(data, variants, _progress(len(variants)))
        spent = time.process_time() - started
    except LabRefusal as e:
        print(f"freqtrade-posmgmt lab: refused: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError, FreqtradeException) as e:
        print(f"freqtrade-posmgmt lab: error: {e}", file=sys.stderr)
        return 2
    print(
        f"{len(variants)} variants on {len(data.pairs)} pairs x {len(data.times)} candles in "
        f"{spent:.2f} s CPU ({len(variants) / max(spent, 1e-9):,.0f} variants/s)"
    )
    order = sorted(range(len(variants)), key=lambda i: -metrics[i, kernel.M_PROFIT_ABS])
    shown = order[: args.top]
    print(
        _table(
            [[rank + 1, i, *metrics[i]] for rank, i in enumerate(shown)],
            ["rank", "variant", *RANK_COLUMNS],
        )
    )
    best = variants[order[0]]
    print("best variant:", json.dumps({"strategy": best["strategy"], "posmgmt": best["posmgmt"]}))

    if args.export:
        exported = []
        for i, variant in enumerate(variants):
            entry = {
                "posmgmt": variant["posmgmt"],
                "strategy": variant["strategy"],
                "metrics": _metrics_dict(metrics[i]),
            }
            if args.export_trades:
                entry["trades"] = variant_records(data, variant)
            exported.append(entry)
        args.export.write_text(json.dumps({"variants": exported}, indent=1))
        params = _hyperopt_params(strategy, best)
        params_file = args.export.with_name(f"{args.export.stem}.{args.strategy}.json")
        params_file.write_text(json.dumps(params, indent=2))
        print(
            f"exported {len(exported)} variants to {args.export}; the best as Freqtrade "
            f"parameters in {params_file} (copy it beside the strategy file as "
            f"<strategy file name>.json)"
        )

    status = 0
    if args.verify:
        status = _verify(args, ft_args, data, variants, order)
    if args.walk_forward:
        _walk_forward(args, data, variants)
    return status


def _verify(args: argparse.Namespace, ft_args: dict, data: Any, variants: list, order: list) -> int:
    from freqtrade_posmgmt.lab.runner import variant_records
    from freqtrade_posmgmt.lab.verify import differences, run_freqtrade

    rng = random.Random(args.seed)
    rest = order[1:]
    chosen = [order[0], *rng.sample(rest, min(len(rest), args.verify - 1))][: args.verify]
    failed = 0
    compared = 0
    for i in chosen:
        lab = variant_records(data, variants[i])
        theirs = run_freqtrade(ft_args, variants[i])
        compared += len(theirs)
        found = differences(lab, theirs)
        if found:
            failed += 1
            print(f"variant {i} DIFFERS from Freqtrade: {found[0]}", file=sys.stderr)
    print(
        f"verified {len(chosen)} variants with Freqtrade's backtester: {compared} trades, "
        f"{failed} variants differ"
    )
    return 1 if failed else 0


def _walk_forward(args: argparse.Namespace, data: Any, variants: list) -> None:
    from freqtrade_posmgmt.lab import kernel
    from freqtrade_posmgmt.lab.walkforward import html_page, stability, walk_forward

    folds = walk_forward(data, variants, args.walk_forward)

    def day(index: int) -> str:
        index = min(index, len(data.times) - 1)
        return time.strftime("%Y-%m-%d", time.gmtime(data.times[index] / 1e6))

    rows = []
    for k, fold in enumerate(folds):
        rows.append(
            {
                "fold": k + 1,
                "in_sample": f"{day(fold.in_sample[0])}..{day(fold.in_sample[1] - 1)}",
                "out_of_sample": f"{day(fold.out_of_sample[0])}..{day(fold.out_of_sample[1] - 1)}",
                "variant": fold.best,
                "is_profit_pct": round(100 * fold.in_sample_metrics[kernel.M_PROFIT_RATIO], 2),
                "oos_profit_pct": round(100 * fold.out_of_sample_metrics[kernel.M_PROFIT_RATIO], 2),
                "oos_trades": int(fold.out_of_sample_metrics[kernel.M_TRADES]),
                "oos_max_drawdown_pct": round(
                    100 * fold.out_of_sample_metrics[kernel.M_MAX_DRAWDOWN], 2
                ),
            }
        )
    stable = stability(variants, folds)
    print(_table([list(r.values()) for r in rows], list(rows[0])))
    print(
        _table(
            [list(r.values()) for r in stable],
            ["field", "chosen per fold", "distinct", "relative spread"],
        )
    )
    page = (args.export or Path("lab")).with_suffix(".walk_forward.html")
    page.write_text(html_page(f"Walk-forward of {args.strategy}", rows, stable))
    print(f"walk-forward page: {page}")


def _has_posmgmt(space: dict) -> bool:
    return any(section != "strategy" for section in space)


def _strategy_values(strategy: Any) -> dict[str, Any]:
    """The strategy's own exit attributes (before any mixin compiled a trail into them)."""
    from freqtrade_posmgmt.lab.refusals import STRATEGY_FIELDS

    own = getattr(strategy, "pm_user_features", {})
    values = {name: own.get(name, getattr(strategy, name)) for name in STRATEGY_FIELDS}
    values["minimal_roi"] = {str(k): v for k, v in values["minimal_roi"].items()}
    return values


def _policies(strategy: Any) -> dict[str, Any]:
    return {
        "trailing_stop": getattr(strategy, "pm_trailing_stop_policy", None),
        "time_exits": getattr(strategy, "pm_time_exit_policy", None),
        "partial_exits": getattr(strategy, "pm_partial_exit_policy", None),
        "correlation": getattr(strategy, "pm_correlation", None),
        "dynamic_risk": getattr(strategy, "pm_risk_policy", None),
    }


def _hyperopt_params(strategy: Any, best: dict[str, Any]) -> dict[str, Any]:
    """
    The best variant as Freqtrade's hyperopt parameter file (``<strategy file>.json``): the
    strategy's ROI, stoploss and trailing spaces, and the mixins' Parameters where the
    variant's policies are expressible by them.
    """
    s = best["strategy"]
    params: dict[str, Any] = {
        "roi": s["minimal_roi"],
        "stoploss": {"stoploss": s["stoploss"]},
        "trailing": {
            "trailing_stop": s["trailing_stop"],
            "trailing_stop_positive": s["trailing_stop_positive"],
            "trailing_stop_positive_offset": s["trailing_stop_positive_offset"],
            "trailing_only_offset_is_reached": s["trailing_only_offset_is_reached"],
        },
    }
    trailing = best["posmgmt"].get("trailing_stop")
    if trailing is not None and hasattr(strategy, "pm_trailing_activation"):
        params["pm_trailing"] = {
            "pm_trailing_activation": trailing["activation_threshold"],
            "pm_trailing_distance": trailing["trailing_distance_pct"],
            "pm_trailing_atr_multiplier": trailing.get("atr_multiplier") or 0.0,
            "pm_trailing_breakeven": trailing.get("breakeven_threshold") or 0.0,
        }
    time_exits = best["posmgmt"].get("time_exits")
    if time_exits is not None and hasattr(strategy, "pm_time_max_holding_hours"):
        hours = time_exits.get("max_holding_hours")
        if hours is not None:
            params["pm_time"] = {"pm_time_max_holding_hours": int(hours)}
    return {
        "strategy_name": type(strategy).__name__,
        "params": params,
        "ft_stratparam_v": 1,
        "export_time": time.strftime("%Y-%m-%d %H:%M:%S+00:00", time.gmtime()),
    }
