"""What a search optimizes, which runs it accepts, and how a refused run is scored.

An objective reads the statistics of one backtest (the dict of
:func:`ttquant.analytics.statistics.compute_statistics`) and returns a number, or ``None`` when
it is undefined (a Sharpe ratio without returns, a Calmar ratio without drawdown). Built-ins:
``sharpe``, ``sortino``, ``calmar``, ``total_return`` (maximized) and ``max_drawdown``
(minimized). A user objective is a function ``f(stats) -> float | None`` named
``package.module:function`` or ``path/to/file.py:function``; its direction is ``maximize``
unless told otherwise.

Infeasible runs
---------------
A run is infeasible when it breaks a constraint (fewer trades than ``min_trades``, a deeper
drawdown than ``max_drawdown_pct``), when its objective is undefined, or when its parameters
are refused by the strategy (``fast >= slow``). The optimizer still needs a number for it, one
worse than any real result and worse the further the run is from feasible, so that a search
stuck among infeasible runs is pulled towards feasibility:

    penalty = -(PENALTY * (1 + violation))   when maximizing (the sign flips when minimizing)

where ``violation`` sums each broken constraint's relative shortfall (``(10 - 4) / 10`` for 4
trades against a minimum of 10) and is 1 for an undefined objective or refused parameters.
Infeasible runs are marked (``feasible = False`` with the reason) in every output and are never
chosen as the best run.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from ttquant.analytics.statistics import StatisticValue
from ttquant.core.errors import ConfigError

__all__ = [
    "BUILTIN_OBJECTIVES",
    "PENALTY",
    "Constraints",
    "Direction",
    "Objective",
    "Score",
    "combine_folds",
    "load_objective",
    "refused",
    "score",
]

Direction = Literal["maximize", "minimize"]
Statistics = Mapping[str, StatisticValue]
Measure = Callable[[Statistics], float | None]

PENALTY = 1e9

# objective name -> (statistic it reads, direction)
BUILTIN_OBJECTIVES: dict[str, tuple[str, Direction]] = {
    "sharpe": ("sharpe", "maximize"),
    "sortino": ("sortino", "maximize"),
    "calmar": ("calmar", "maximize"),
    "total_return": ("total_return_pct", "maximize"),
    "max_drawdown": ("max_drawdown_pct", "minimize"),
}


@dataclass(frozen=True, slots=True)
class Objective:
    """A named measure of a run and whether larger or smaller is better."""

    name: str
    direction: Direction
    measure: Measure

    def __call__(self, stats: Statistics) -> float | None:
        value = self.measure(stats)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"objective {self.name!r} returned {value!r}, not a number or None")
        return float(value) if math.isfinite(value) else None

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self.direction == "maximize" else a < b

    def penalty(self, violation: float) -> float:
        worst = PENALTY * (1.0 + violation)
        return -worst if self.direction == "maximize" else worst


@dataclass(frozen=True, slots=True)
class Constraints:
    """Limits a run must respect to be feasible; ``None`` disables a limit."""

    min_trades: int | None = None
    max_drawdown_pct: float | None = None

    def __post_init__(self) -> None:
        if self.min_trades is not None and self.min_trades < 0:
            raise ConfigError(f"--min-trades must be >= 0, got {self.min_trades}")
        dd = self.max_drawdown_pct
        if dd is not None and not (math.isfinite(dd) and 0 < dd <= 100):
            raise ConfigError(f"--max-drawdown must be a percentage in (0, 100], got {dd}")

    def violations(self, stats: Statistics) -> dict[str, float]:
        """Each broken limit with its relative shortfall (> 0)."""
        broken: dict[str, float] = {}
        trades = _number(stats.get("n_trades")) or 0.0
        if self.min_trades and trades < self.min_trades:
            broken["min_trades"] = (self.min_trades - trades) / self.min_trades
        drawdown = _number(stats.get("max_drawdown_pct"))
        limit = self.max_drawdown_pct
        if limit is not None and drawdown is not None and drawdown > limit:
            broken["max_drawdown"] = (drawdown - limit) / limit
        return broken

    def describe(self, stats: Statistics, broken: Mapping[str, float]) -> str:
        parts = []
        if "min_trades" in broken:
            parts.append(f"{stats.get('n_trades')} trades < {self.min_trades}")
        if "max_drawdown" in broken:
            dd = _number(stats.get("max_drawdown_pct")) or 0.0
            parts.append(f"drawdown {dd:.2f}% > {self.max_drawdown_pct:g}%")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Score:
    """What the optimizer sees for one run (``value``) and why."""

    value: float
    objective: float | None  # the objective itself; None when undefined or not evaluated
    feasible: bool
    violation: float  # 0 when feasible
    reason: str  # why the run is infeasible; "" when feasible


def score(objective: Objective, constraints: Constraints, folds: Sequence[Statistics]) -> Score:
    """The optimizer's value of a run, given the statistics of its time folds (often one).

    The objective is the mean of the folds' defined objectives; constraints apply to the folds
    together (:func:`combine_folds`). Penalties: see the module docstring.
    """
    values = [v for s in folds if (v := objective(s)) is not None]
    value = sum(values) / len(values) if values else None
    combined = combine_folds(folds)
    broken = constraints.violations(combined)
    reasons = [constraints.describe(combined, broken)] if broken else []
    violation = sum(broken.values())
    if value is None:
        reasons.insert(0, f"{objective.name} is undefined")
        violation += 1.0
    if value is None or reasons:
        return Score(objective.penalty(violation), value, False, violation, "; ".join(reasons))
    return Score(value, value, True, 0.0, "")


def combine_folds(folds: Sequence[Statistics]) -> dict[str, StatisticValue]:
    """One statistics dict for several time folds of a run: each number's mean over the folds,
    except trades (summed) and the drawdown (the deepest); the first start, the last end."""
    if len(folds) == 1:
        return dict(folds[0])
    combined: dict[str, StatisticValue] = {}
    for key in folds[0]:
        values = [s.get(key) for s in folds]
        numbers = [float(v) for v in values if isinstance(v, int | float)]
        if key in ("start", "end"):
            combined[key] = values[0] if key == "start" else values[-1]
        elif key == "n_trades":
            combined[key] = int(sum(numbers))
        elif key == "max_drawdown_pct":
            combined[key] = max(numbers) if numbers else None
        else:
            combined[key] = sum(numbers) / len(numbers) if numbers else None
    return combined


def refused(objective: Objective, reason: str) -> Score:
    """The score of a run whose parameters the strategy refused (no statistics at all)."""
    return Score(objective.penalty(1.0), None, False, 1.0, reason)


def load_objective(spec: str, direction: Direction | None = None) -> Objective:
    """A built-in objective by name, or a user function ``module:function`` / ``file.py:fn``."""
    if spec in BUILTIN_OBJECTIVES:
        key, builtin_direction = BUILTIN_OBJECTIVES[spec]
        if direction is not None and direction != builtin_direction:
            raise ConfigError(
                f"objective {spec!r} is always {builtin_direction}d; --direction applies to "
                "user objectives"
            )
        return Objective(spec, builtin_direction, _statistic(key))
    if ":" not in spec:
        known = ", ".join(BUILTIN_OBJECTIVES)
        raise ConfigError(
            f"unknown objective {spec!r} (known: {known}; or module:function / file.py:function)"
        )
    return Objective(spec, direction or "maximize", _user_function(spec))


def _statistic(key: str) -> Measure:
    def measure(stats: Statistics) -> float | None:
        return _number(stats.get(key))

    return measure


def _number(value: StatisticValue | None) -> float | None:
    return float(value) if isinstance(value, int | float) else None


@cache
def _user_function(spec: str) -> Measure:
    """Import ``module:function`` or ``file.py:function`` once per process."""
    target, _, name = spec.rpartition(":")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise ConfigError(f"objective file {path} does not exist")
        module_name = f"ttquant_user_objective_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise ConfigError(f"objective file {path} cannot be imported")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)  # the user's code: its errors keep their traceback
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ConfigError(f"objective module {target!r} cannot be imported: {exc}") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ConfigError(f"objective {spec!r}: {target} has no function {name!r}")
    measure: Measure = function
    return measure
