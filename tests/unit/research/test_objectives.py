"""Objectives, constraints and penalties: what an optimizer is told about each run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttquant.analytics.statistics import StatisticValue
from ttquant.core.errors import ConfigError
from ttquant.research.objectives import (
    PENALTY,
    Constraints,
    combine_folds,
    load_objective,
    refused,
    score,
)

STATS: dict[str, StatisticValue] = {
    "start": "2024-01-01T00:01:00Z",
    "end": "2024-01-08T00:00:00Z",
    "sharpe": 1.5,
    "sortino": 2.5,
    "calmar": 3.5,
    "total_return_pct": 12.0,
    "max_drawdown_pct": 8.0,
    "n_trades": 20,
}


@pytest.mark.parametrize(
    ("name", "expected", "direction"),
    [
        ("sharpe", 1.5, "maximize"),
        ("sortino", 2.5, "maximize"),
        ("calmar", 3.5, "maximize"),
        ("total_return", 12.0, "maximize"),
        ("max_drawdown", 8.0, "minimize"),
    ],
)
def test_builtin_objectives_read_their_statistic(
    name: str, expected: float, direction: str
) -> None:
    objective = load_objective(name)
    assert objective(STATS) == expected
    assert objective.direction == direction


def test_undefined_statistics_are_undefined_objectives() -> None:
    objective = load_objective("sharpe")
    assert objective({**STATS, "sharpe": None}) is None
    result = score(objective, Constraints(), [{**STATS, "sharpe": None}])
    assert not result.feasible and result.value == -PENALTY * 2
    assert result.reason == "sharpe is undefined"


def test_a_builtin_objective_keeps_its_direction() -> None:
    with pytest.raises(ConfigError, match="'max_drawdown' is always minimized"):
        load_objective("max_drawdown", "maximize")
    assert load_objective("max_drawdown", "minimize").direction == "minimize"


def test_unknown_objective() -> None:
    with pytest.raises(ConfigError, match="unknown objective 'sharp' \\(known: sharpe, sortino"):
        load_objective("sharp")


def test_user_objective_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "my_objective.py"
    path.write_text(
        "def return_per_trade(stats):\n"
        "    if not stats['n_trades']:\n"
        "        return None\n"
        "    return stats['total_return_pct'] / stats['n_trades']\n"
        "def text(stats):\n"
        "    return 'high'\n"
    )
    objective = load_objective(f"{path}:return_per_trade", "minimize")
    assert objective(STATS) == pytest.approx(0.6)
    assert objective({**STATS, "n_trades": 0}) is None
    assert objective.direction == "minimize"
    assert load_objective(f"{path}:return_per_trade").direction == "maximize"
    with pytest.raises(ConfigError, match="returned 'high', not a number or None"):
        load_objective(f"{path}:text")(STATS)
    with pytest.raises(ConfigError, match="has no function 'missing'"):
        load_objective(f"{path}:missing")
    with pytest.raises(ConfigError, match=r"objective file .*nope\.py does not exist"):
        load_objective(f"{tmp_path / 'nope.py'}:f")


def test_user_objective_from_a_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "team_objectives.py").write_text(
        "def calmar2(stats):\n    return 2 * stats['calmar']\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_objective("team_objectives:calmar2")(STATS) == 7.0
    with pytest.raises(ConfigError, match="objective module 'no_such_module' cannot be imported"):
        load_objective("no_such_module:f")
    sys.modules.pop("team_objectives", None)


def test_constraints_mark_a_run_infeasible_with_a_graded_penalty() -> None:
    objective = load_objective("sharpe")
    limits = Constraints(min_trades=40, max_drawdown_pct=4.0)
    result = score(objective, limits, [STATS])
    assert not result.feasible
    assert result.violation == pytest.approx((40 - 20) / 40 + (8 - 4) / 4)
    assert result.value == pytest.approx(-PENALTY * (1 + 1.5))
    assert result.objective == 1.5
    assert result.reason == "20 trades < 40; drawdown 8.00% > 4%"
    ok = score(objective, Constraints(min_trades=20, max_drawdown_pct=8.0), [STATS])
    assert ok.feasible and ok.value == 1.5 and ok.reason == ""


def test_penalties_flip_sign_when_minimizing() -> None:
    objective = load_objective("max_drawdown")
    result = score(objective, Constraints(min_trades=30), [STATS])
    assert result.value == pytest.approx(PENALTY * (1 + 1 / 3))
    assert refused(objective, "fast >= slow").value == PENALTY * 2


@given(
    sharpe=st.floats(-1e6, 1e6),
    trades=st.integers(0, 1000),
    drawdown=st.floats(0, 100),
    min_trades=st.integers(0, 1000),
    max_drawdown=st.floats(0.01, 100),
)
def test_any_feasible_run_beats_any_infeasible_one(
    sharpe: float, trades: int, drawdown: float, min_trades: int, max_drawdown: float
) -> None:
    """The optimizer can never prefer a run that breaks a constraint over one that doesn't,
    and among broken runs, the one further from feasible scores worse."""
    objective = load_objective("sharpe")
    limits = Constraints(min_trades, max_drawdown)
    stats: dict[str, StatisticValue] = {
        **STATS,
        "sharpe": sharpe,
        "n_trades": trades,
        "max_drawdown_pct": drawdown,
    }
    result = score(objective, limits, [stats])
    feasible = trades >= min_trades and drawdown <= max_drawdown
    assert result.feasible == feasible
    if feasible:
        assert result.value == sharpe
    else:
        assert result.value < -1e6 <= sharpe
        worse = score(objective, limits, [{**stats, "n_trades": 0, "max_drawdown_pct": 100.0}])
        assert worse.value <= result.value


def test_folds_combine_to_the_mean_objective_and_joint_constraints() -> None:
    a: dict[str, StatisticValue] = {**STATS, "sharpe": 1.0, "n_trades": 6, "max_drawdown_pct": 3.0}
    b: dict[str, StatisticValue] = {
        **STATS,
        "sharpe": 3.0,
        "n_trades": 5,
        "max_drawdown_pct": 7.0,
        "end": "later",
    }
    c: dict[str, StatisticValue] = {**STATS, "sharpe": None, "n_trades": 0, "max_drawdown_pct": 1.0}
    combined = combine_folds([a, b, c])
    assert combined["n_trades"] == 11
    assert combined["max_drawdown_pct"] == 7.0
    assert combined["start"] == STATS["start"] and combined["end"] == STATS["end"]
    assert combined["sortino"] == pytest.approx(2.5)
    result = score(load_objective("sharpe"), Constraints(min_trades=10), [a, b, c])
    assert result.feasible and result.value == pytest.approx(2.0)  # undefined fold skipped
    assert not score(load_objective("sharpe"), Constraints(min_trades=12), [a, b, c]).feasible


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_trades": -1}, "--min-trades must be >= 0"),
        ({"max_drawdown_pct": 0.0}, "--max-drawdown must be a percentage in \\(0, 100\\]"),
        ({"max_drawdown_pct": 120.0}, "--max-drawdown must be a percentage"),
    ],
)
def test_bad_constraints(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Constraints(**kwargs)  # type: ignore[arg-type]
