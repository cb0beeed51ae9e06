"""
Framework-free is a folder rule: every module of the package outside the Freqtrade side (the
folders below) imports with Freqtrade made unimportable, and the policies' own unit tests pass
so. Run in a subprocess, since this process has Freqtrade loaded.
"""

import subprocess
import sys
from pathlib import Path

import freqtrade_posmgmt
from tests.support.backtest_harness import REPO

PACKAGE = Path(freqtrade_posmgmt.__file__).parent
# Where Freqtrade may be imported: its callbacks, the command line, what reads its results, the
# bot loop replay, plots, the lab and the attribution's backtests. Inside, the lab's kernel and
# the attribution package's own module (which the report reads) stay framework-free.
FREQTRADE_SIDE = {"mixins", "cli", "report", "replay", "plot", "lab", "attribution"}
FRAMEWORK_FREE_INSIDE = {"freqtrade_posmgmt.lab.kernel", "freqtrade_posmgmt.attribution"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(path) for path in PACKAGE.rglob("*.py"))


def framework_free(name: str) -> bool:
    parts = name.split(".")
    return len(parts) == 1 or parts[1] not in FREQTRADE_SIDE or name in FRAMEWORK_FREE_INSIDE


FRAMEWORK_FREE = [name for name in MODULES if framework_free(name)]
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


def test_every_module_outside_the_freqtrade_side_imports_without_freqtrade():
    assert {"freqtrade_posmgmt", "freqtrade_posmgmt.partial_manager"} <= set(FRAMEWORK_FREE)
    assert not any(".cli" in name or ".mixins" in name for name in FRAMEWORK_FREE)
    code = f"import importlib; [importlib.import_module(m) for m in {FRAMEWORK_FREE!r}]"
    done = run(code)
    assert done.returncode == 0, done.stderr


def test_the_policies_unit_tests_pass_without_freqtrade():
    # --noconftest: tests/conftest.py loads strategies through Freqtrade.
    args = ["-q", "-p", "no:cacheprovider", "--noconftest", *POLICY_TESTS]
    code = f"import pytest; sys.exit(pytest.main({args!r}))"
    done = run(code)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and " failed" not in done.stdout
