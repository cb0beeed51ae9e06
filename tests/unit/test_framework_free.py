"""
Policies are framework-free: each policy module imports, and the policies' own unit tests pass,
with Freqtrade made unimportable. Run in a subprocess, since this process has Freqtrade loaded.
"""

import pkgutil
import subprocess
import sys

import freqtrade_posmgmt
from tests.support.backtest_harness import REPO

# The Freqtrade side (mixins) and the command line / report, which read Freqtrade's results.
FREQTRADE_SIDE = {"mixins", "cli", "offline", "offline_checks", "distributed_hyperopt", "report"}
POLICY_MODULES = sorted(
    f"freqtrade_posmgmt.{module.name}"
    for module in pkgutil.iter_modules(freqtrade_posmgmt.__path__)
    if module.name not in FREQTRADE_SIDE
)
POLICY_TESTS = [
    "tests/unit/test_partial_manager.py",
    "tests/unit/test_trailing_stops.py",
    "tests/unit/test_time_exits.py",
    "tests/unit/test_mfe_mae_tracker.py",
    "tests/unit/test_validation.py",
    "tests/unit/test_stop_sources.py",
]
BLOCK = "import sys; sys.modules['freqtrade'] = None; "


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code], check=False, cwd=REPO, capture_output=True, text=True
    )


def test_freqtrade_is_really_blocked():
    assert run("import freqtrade.persistence").returncode != 0


def test_every_policy_module_imports_without_freqtrade():
    assert {"freqtrade_posmgmt.partial_manager", "freqtrade_posmgmt.profit"} <= set(POLICY_MODULES)
    code = f"import importlib; [importlib.import_module(m) for m in {POLICY_MODULES!r}]"
    done = run(code)
    assert done.returncode == 0, done.stderr


def test_the_policies_unit_tests_pass_without_freqtrade():
    # --noconftest: tests/conftest.py loads strategies through Freqtrade.
    args = ["-q", "-p", "no:cacheprovider", "--noconftest", *POLICY_TESTS]
    code = f"import pytest; sys.exit(pytest.main({args!r}))"
    done = run(code)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and " failed" not in done.stdout
