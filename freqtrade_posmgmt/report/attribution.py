"""
What each capability contributed: the lab's attribution (backtests with one capability switched
off at a time), read from a plain JSON document and shown as given; the report computes nothing
of it. The document::

    {"capabilities": [{"name": "dynamic_risk",
                       "off": {"trades": 120, "profit_abs": 812.4, "profit_ratio": 0.081,
                               "max_drawdown": 0.12, "calmar": 2.1},
                       "delta_profit_abs": 143.2}, ...],
     "all_on": {"trades": 131, "profit_abs": 955.6, "profit_ratio": 0.096,
                "max_drawdown": 0.10, "calmar": 3.0}}

``delta_profit_abs`` is what the capability added: profit with everything on minus profit with
it off (computed from ``all_on`` and ``off`` when absent). ``freqtrade-posmgmt attribution``
writes this document (``freqtrade_posmgmt.attribution``) with more that is shown when present:
``delta_max_drawdown`` per capability, ``baseline`` (the plain strategy's run), ``not_run``
(capabilities that do nothing in a backtest, and why), ``strategy``, ``stake_currency``. It lies
beside the result (``posmgmt/<result>.attribution.json``), where the report finds it.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from freqtrade_posmgmt.report.loading import ReportError

RUN_COLUMNS = ("trades", "profit_abs", "profit_ratio", "max_drawdown", "calmar")


@dataclass(frozen=True)
class Attribution:
    """Per capability, the backtest with it switched off, and what it added."""

    table: pd.DataFrame
    """One row per capability (in the document's order): :data:`RUN_COLUMNS` of the run with
    it off, and ``delta_profit_abs``."""
    all_on: dict[str, float]
    """:data:`RUN_COLUMNS` of the run with every capability on."""
    baseline: dict[str, float] | None = None
    """:data:`RUN_COLUMNS` of the plain strategy's run, when the lab ran it."""
    baseline_name: str = ""
    not_run: dict[str, str] = field(default_factory=dict)
    """Capabilities not run (they do nothing in a backtest), and why."""


def _run(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ReportError(f"attribution: {where} must be an object with {', '.join(RUN_COLUMNS)}")
    missing = [key for key in RUN_COLUMNS if key not in value]
    if missing:
        raise ReportError(f"attribution: {where} lacks {', '.join(missing)}")
    run = {}
    for key in RUN_COLUMNS:
        number = value[key]
        if number is not None and (isinstance(number, bool) or not isinstance(number, int | float)):
            raise ReportError(f"attribution: {where}.{key} = {number!r} is not a number")
        run[key] = math.nan if number is None else float(number)
    return run


def attribution_from(document: Any) -> Attribution:
    """
    Validate the lab's attribution document (see the module docstring).
    :raise ReportError: a missing or malformed field, named in one line
    """
    if not isinstance(document, dict) or not isinstance(document.get("capabilities"), list):
        raise ReportError('attribution: expected {"capabilities": [...], "all_on": {...}}')
    all_on = _run(document.get("all_on"), "all_on")
    rows = {}
    for index, item in enumerate(document["capabilities"]):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise ReportError(f"attribution: capabilities[{index}] has no name")
        off = _run(item.get("off"), f"{name}.off")
        delta = item.get("delta_profit_abs", all_on["profit_abs"] - off["profit_abs"])
        if isinstance(delta, bool) or not isinstance(delta, int | float):
            raise ReportError(f"attribution: {name}.delta_profit_abs = {delta!r} is not a number")
        drawdown = item.get("delta_max_drawdown", all_on["max_drawdown"] - off["max_drawdown"])
        if isinstance(drawdown, bool) or not isinstance(drawdown, int | float):
            raise ReportError(
                f"attribution: {name}.delta_max_drawdown = {drawdown!r} is not a number"
            )
        rows[name] = {
            **off,
            "delta_profit_abs": float(delta),
            "delta_max_drawdown": float(drawdown),
        }
    table = pd.DataFrame.from_dict(
        rows, orient="index", columns=[*RUN_COLUMNS, "delta_profit_abs", "delta_max_drawdown"]
    ).rename_axis("capability")
    baseline = document.get("baseline")
    not_run = document.get("not_run") or {}
    if not isinstance(not_run, dict):
        raise ReportError("attribution: not_run must be an object of capability: why")
    return Attribution(
        table,
        all_on,
        _run(baseline, "baseline") if baseline is not None else None,
        str(baseline.get("strategy", "")) if isinstance(baseline, dict) else "",
        {str(key): str(value) for key, value in not_run.items()},
    )


def find_attribution(result_file: Path) -> Attribution | None:
    """The attribution written beside ``result_file`` by ``freqtrade-posmgmt attribution``
    (``posmgmt/<result>.attribution.json``), if there is one."""
    from freqtrade_posmgmt.attribution import attribution_path

    path = attribution_path(result_file)
    return load_attribution(path) if path.is_file() else None


def load_attribution(path: Path) -> Attribution:
    """Read and validate an attribution file (``--attribution PATH``)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ReportError(f"attribution file {path} does not exist") from e
    except (OSError, ValueError) as e:
        raise ReportError(f"attribution file {path} is not readable JSON ({e})") from e
    return attribution_from(document)
