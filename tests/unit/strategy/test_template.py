"""``ttq strategies new``: the generated template is lint-clean, documented, runnable and trades."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import DEMO_DATA, REPO

from ttquant.core.errors import ConfigError
from ttquant.strategy.registry import load_strategy_class
from ttquant.strategy.strategy import Strategy
from ttquant.strategy.template import (
    MAX_NAME_LENGTH,
    class_name_for,
    render_template,
    write_template,
)

LONGEST = "a" * (MAX_NAME_LENGTH - 2) + "_b"  # a valid name of the maximum length


def _ttq(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ttquant.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], capture_output=True, text=True, check=False
    )


def _assert_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("my_breakout", "MyBreakout"),
        ("rsi2", "Rsi2"),
        ("trend_follow_v2", "TrendFollowV2"),
        ("_private__name_", "PrivateName"),
        ("myBreakout", "MyBreakout"),
        ("x", "X"),
    ],
)
def test_class_name_is_derived_from_the_name(name: str, cls: str) -> None:
    assert class_name_for(name) == cls


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("1abc", "Python identifier"),
        ("my-strategy", "Python identifier"),
        ("my strategy", "Python identifier"),
        ("my_breakout.py", "Python identifier"),
        ("", "Python identifier"),
        ("class", "Python identifier"),
        ("_", "no class name"),
        ("__", "no class name"),
        ("bar", "shadow"),
        ("strategy", "shadow"),
        (LONGEST + "x", f"longer than {MAX_NAME_LENGTH}"),
    ],
)
def test_invalid_names_are_refused(name: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        render_template(name)


@pytest.mark.parametrize("name", ["my_breakout", LONGEST])
def test_generated_file_passes_ruff_and_is_formatted(tmp_path: Path, name: str) -> None:
    path, _ = write_template(name, tmp_path)
    # the project's rule set (line length 100, pycodestyle, pyflakes, isort, bugbear, pyupgrade,
    # naming, pylint, ...) and ruff's own defaults, as in a user's folder without configuration
    strict = _ruff("check", "--config", str(REPO / "pyproject.toml"), str(path))
    assert strict.returncode == 0, strict.stdout + strict.stderr
    default = _ruff("check", "--isolated", str(path))
    assert default.returncode == 0, default.stdout + default.stderr
    fmt = _ruff("format", "--check", "--config", str(REPO / "pyproject.toml"), str(path))
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    assert max(len(line) for line in path.read_text().splitlines()) <= 100


def test_generated_class_is_documented_and_has_typed_ranged_params(tmp_path: Path) -> None:
    path, cls_name = write_template("my_breakout", tmp_path)
    source = path.read_text()
    for text in (
        f"ttq backtest --data FILE \\\n        --strategy my_breakout.py:{cls_name}",
        "on_start()",
        "on_bar(bar)",
        "on_fill(fill)",
        "on_order(event)",
        "on_timer(event)",
        "on_stop()",
        "--set key=value",
    ):
        assert text in source, text
    cls = load_strategy_class(f"{path}:{cls_name}")
    assert issubclass(cls, Strategy) and cls.__name__ == "MyBreakout"
    assert cls.name == "my_breakout" and cls.__doc__
    assert {"on_start", "on_bar", "on_fill"} <= set(vars(cls))
    spec = cls.params_spec
    assert list(spec) == ["period", "band_pct", "long_only", "size"]
    for param in spec.values():
        assert param.param.doc, param.name
        if param.type in (int, float):
            assert param.param.min is not None, param.name
    assert spec["period"].type is int and spec["period"].param.max is not None
    assert cls(period=20).period == 20
    with pytest.raises(ConfigError, match="period"):
        cls(period=1)


def test_cli_writes_a_template_that_backtests_and_trades(tmp_path: Path) -> None:
    folder = tmp_path / "strategies"  # created by --out
    proc = _ttq("strategies", "new", "my_breakout", "--out", str(folder))
    assert proc.returncode == 0, proc.stderr
    path = folder / "my_breakout.py"
    assert path.is_file() and "class MyBreakout(Strategy)" in path.read_text()
    assert "MyBreakout" in proc.stdout and "ttq backtest" in proc.stdout

    out = tmp_path / "run"
    proc = _ttq(
        "backtest",
        "--strategy",
        f"{path}:MyBreakout",
        "--data",
        str(DEMO_DATA),
        "--timerange",
        "20240101-20240105",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["n_trades"] > 0 and doc["final_equity"] > 0
    assert doc["config"]["strategies"][0]["name"] == f"{path}:MyBreakout"
    with (out / "trades.csv").open() as f:
        assert len(list(csv.DictReader(f))) == doc["n_trades"]


def test_cli_writes_to_the_current_folder_by_default(tmp_path: Path) -> None:
    proc = _ttq("strategies", "new", "trend_v2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "class TrendV2(Strategy)" in (tmp_path / "trend_v2.py").read_text()


def test_cli_refuses_an_existing_file_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "my_breakout.py"
    path.write_text("# mine\n")
    proc = _ttq("strategies", "new", "my_breakout", "--out", str(tmp_path))
    _assert_one_line_error(proc, str(path), "already exists", "--force")
    assert path.read_text() == "# mine\n"

    proc = _ttq("strategies", "new", "my_breakout", "--out", str(tmp_path), "--force")
    assert proc.returncode == 0, proc.stderr
    assert "class MyBreakout(Strategy)" in path.read_text()


@pytest.mark.parametrize(
    ("name", "fragment"), [("1abc", "'1abc'"), ("my-strategy", "'my-strategy'"), ("bar", "Bar")]
)
def test_cli_refuses_an_invalid_name(tmp_path: Path, name: str, fragment: str) -> None:
    proc = _ttq("strategies", "new", name, "--out", str(tmp_path))
    _assert_one_line_error(proc, "invalid strategy name", fragment)
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_an_out_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    proc = _ttq("strategies", "new", "my_breakout", "--out", str(target))
    _assert_one_line_error(proc, "is not a folder")
