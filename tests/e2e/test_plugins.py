"""Plugins: a package installed beside ttquant adds strategies and indicators via entry points.

``examples/plugin`` is installed with pip into a temporary folder (never into the project's
environment) and put on ``PYTHONPATH`` of ``ttq`` subprocesses, exactly as an installed package
would be seen.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.conftest import DEMO_DATA, REPO

from ttquant.strategy.registry import builtin_strategies

PLUGIN = REPO / "examples" / "plugin"
PLUGIN_DIST = "ttquant-example-plugin"


def _pip_install(project: Path, site: Path) -> Path:
    """``pip install --target site project``: without build isolation when the environment has
    hatchling (no download), else with it (pip fetches hatchling into a throwaway environment)."""
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site)]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.append("--no-build-isolation")
    proc = subprocess.run([*cmd, str(project)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"installing {project} failed:\n{proc.stdout}{proc.stderr}"
    return site


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _pip_install(PLUGIN, tmp_path_factory.mktemp("plugin") / "site")


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package whose strategy entry point names a module that does not exist."""
    root = tmp_path_factory.mktemp("broken")
    project = root / "project"
    (project / "ttq_broken_plugin").mkdir(parents=True)
    (project / "ttq_broken_plugin" / "__init__.py").write_text('"""Nothing here."""\n')
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [build-system]
            requires = ["hatchling>=1.25"]
            build-backend = "hatchling.build"

            [project]
            name = "ttquant-broken-plugin"
            version = "0.1.0"

            [project.entry-points."ttquant.strategies"]
            broken_strategy = "ttq_no_such_module:Nothing"

            [tool.hatch.build.targets.wheel]
            packages = ["ttq_broken_plugin"]
            """
        )
    )
    return _pip_install(project, root / "site")


def _run(*args: str, sites: tuple[Path, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``python *args`` with ``sites`` on PYTHONPATH (and nothing else added to it)."""
    env = dict(os.environ)
    paths = [str(s) for s in sites]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONIOENCODING"] = "utf-8"  # the table's box characters, whatever the locale
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        encoding="utf-8",
        cwd=REPO,
        env=env,
        check=False,
    )


def _ttq(*args: str, sites: tuple[Path, ...] = ()) -> subprocess.CompletedProcess[str]:
    return _run("-m", "ttquant.cli.main", *args, sites=sites)


def _listed(stdout: str) -> dict[str, str]:
    """Name → source of each row of the ``ttq strategies list`` table."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│|").split("│")]
        if len(cells) >= 2 and cells[0] and cells[1]:
            rows[cells[0]] = cells[1]
    rows.pop("Name", None)
    return rows


def test_installed_plugin_strategy_is_listed_with_its_source(plugin_site: Path) -> None:
    proc = _ttq("strategies", "list", sites=(plugin_site,))
    assert proc.returncode == 0, proc.stderr
    listed = _listed(proc.stdout)
    assert listed["ema_ribbon"] == PLUGIN_DIST
    for name in builtin_strategies():
        assert listed[name] == "built-in", name
    for param in (
        "fastest: int = 8 in [2, 500]",
        "lines: int = 4 in [2, 12]",
        "min_width: float = 0.0 in [0.0, 10.0]",
        "long_only: bool = True",
    ):
        assert param in proc.stdout, param
    assert "Hold a long while every EMA" in proc.stdout
    assert "warning" not in proc.stderr

    # without the plugin on the path it is not there: the listing above came from the install
    assert "ema_ribbon" not in _listed(_ttq("strategies", "list").stdout)


def test_installed_plugin_strategy_backtests_by_name(plugin_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "ribbon"
    proc = _ttq(
        "backtest",
        "--strategy",
        "ema_ribbon",
        "--data",
        str(DEMO_DATA),
        "--timerange",
        "20240101-20240103",
        "--set",
        "lines=5",
        "--out",
        str(out),
        sites=(plugin_site,),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["n_trades"] > 0 and doc["final_equity"] > 0
    strategy = doc["config"]["strategies"][0]
    assert strategy["name"] == "ema_ribbon" and strategy["params"] == {"lines": "5"}


def test_installed_plugin_indicator_is_found_by_load_plugins(plugin_site: Path) -> None:
    script = textwrap.dedent(
        f"""\
        import json
        import gzip

        import numpy as np

        import ttquant.indicators as ti

        added = ti.load_plugins()
        again = ti.load_plugins()
        entry = ti.REGISTRY["ribbon_width"]
        with gzip.open({str(DEMO_DATA)!r}, "rt") as f:
            rows = f.read().splitlines()[1:2001]
        close = np.array([float(r.split(",")[4]) for r in rows])
        vector = entry.function(close)
        line = entry.streaming()
        stream = np.array([line.update(c) for c in close])
        print(json.dumps({{
            "added": added,
            "again": again,
            "module": entry.streaming.__module__,
            "is_indicator": issubclass(entry.streaming, ti.Indicator),
            "equal": bool(np.array_equal(vector, stream, equal_nan=True)),
            "warmup": int(np.isnan(vector).sum()),
            "trend": line.trend,
        }}))
        """
    )
    proc = _run("-c", script, sites=(plugin_site,))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["added"] == ["ribbon_width"] and result["again"] == []
    assert result["module"] == "ttq_example_plugin.indicators" and result["is_indicator"]
    assert result["equal"] and result["warmup"] == 25  # slowest EMA (26 bars) defines the first
    assert result["trend"] in (-1.0, 0.0, 1.0)

    # without the plugin nothing is added
    plain = _run("-c", "import ttquant.indicators as ti; print(ti.load_plugins())")
    assert plain.returncode == 0 and plain.stdout.strip() == "[]", plain.stderr


def test_broken_plugin_does_not_hide_the_other_strategies(
    plugin_site: Path, broken_site: Path
) -> None:
    proc = _ttq("strategies", "list", sites=(broken_site,))
    assert proc.returncode == 0, proc.stderr
    listed = _listed(proc.stdout)
    assert set(builtin_strategies()) <= set(listed)
    assert "broken_strategy" not in listed
    warnings = proc.stderr.strip().splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning:"), proc.stderr
    assert "broken_strategy" in warnings[0] and "ttq_no_such_module" in warnings[0]
    assert "Traceback" not in proc.stderr

    both = _ttq("strategies", "list", sites=(broken_site, plugin_site))
    assert both.returncode == 0, both.stderr
    listed = _listed(both.stdout)
    assert listed["ema_ribbon"] == PLUGIN_DIST and set(builtin_strategies()) <= set(listed)

    # naming the broken strategy is a one-line error, not a traceback
    run = _ttq(
        "backtest", "--strategy", "broken_strategy", "--data", str(DEMO_DATA), sites=(broken_site,)
    )
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken_strategy" in lines[0] and "failed to load" in lines[0]
