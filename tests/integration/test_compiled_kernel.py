"""The mypyc-compiled kernel behaves exactly like the Python source it is built from.

Regular wheels carry the kernel's hot modules as C extensions (``hatch_build.py``); the test
suite otherwise runs the source through an editable install. This module builds the real wheel
once, then runs the kernel's tests and a backtest against it: the compiled modules must load,
pass the same tests, and give the same fills (the same results hash) as the source.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests.conftest import DEMO_DATA, REPO

pytestmark = pytest.mark.compiled

SOURCE = REPO / "src" / "ttquant"
# the kernel's own tests, and the CLI paths whose behaviour compiled code could change
KERNEL_TESTS = (
    "tests/unit/model",
    "tests/unit/venues",
    "tests/integration/test_backtest_engine.py",
    "tests/integration/test_multi_timeframe.py",
    "tests/e2e/test_cli_backtest.py",
)


def _compiled_modules() -> list[str]:
    """``COMPILED_MODULES`` of the build hook (read, not imported: it needs hatchling)."""
    tree = ast.parse((REPO / "hatch_build.py").read_text())
    (paths,) = (
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "COMPILED_MODULES" for t in node.targets)
    )
    return [m.removesuffix(".py").replace("/", ".") for m in paths]


@pytest.fixture(scope="module")
def compiled_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The regular wheel built from this checkout, unpacked: an importable compiled ttquant."""
    out = tmp_path_factory.mktemp("wheel")
    # from a bare environment, as on a user's fresh machine: the build must not lean on the
    # packages of the environment the tests run in
    bare = tmp_path_factory.mktemp("bare")
    subprocess.run([sys.executable, "-m", "venv", str(bare)], check=True)
    pip = bare / "bin" / "pip"
    build = subprocess.run(
        [str(pip), "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = out.glob("ttquant-*.whl")
    tree = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tree)
    return tree


def _run(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )


def test_source_tree_holds_no_extension_modules() -> None:
    """An extension next to its .py would shadow every edit of it in an editable install."""
    stale = [p for p in SOURCE.rglob("*") if p.suffix in (".so", ".pyd")]
    assert not stale, f"compiled modules in the source tree (delete them): {stale}"


def test_wheel_loads_every_listed_module_compiled(compiled_tree: Path) -> None:
    modules = _compiled_modules()
    probe = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    print(name, importlib.import_module(name).__file__)\n"
    )
    proc = _run(compiled_tree, "-c", probe, *modules)
    assert proc.returncode == 0, proc.stderr
    origins = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    pure = [name for name in modules if not origins[name].endswith((".so", ".pyd"))]
    assert not pure, f"not compiled: {pure}"


def test_kernel_tests_pass_compiled(compiled_tree: Path) -> None:
    proc = _run(
        compiled_tree, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", *KERNEL_TESTS
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_compiled_and_source_backtests_give_the_same_results(
    compiled_tree: Path, tmp_path: Path
) -> None:
    run = "from ttquant.cli.main import main; main()"
    args = ["backtest", "--strategy", "sma_cross", "--data", str(DEMO_DATA), "--fee-bps", "10"]
    hashes = {}
    for name, tree in (("compiled", compiled_tree), ("source", SOURCE.parent)):
        out = tmp_path / name
        proc = _run(tree, "-c", run, *args, "--out", str(out), "--set", "long_only=false")
        assert proc.returncode == 0, proc.stderr
        hashes[name] = json.loads((out / "results.json").read_text())["results_hash"]
    assert hashes["compiled"] == hashes["source"]
