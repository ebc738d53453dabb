"""The combinations a sweep evaluates: the whole grid or a reproducible random sample."""

from __future__ import annotations

import pytest

from ttquant.core.errors import ConfigError
from ttquant.research.grid import grid_combinations, random_combinations
from ttquant.research.space import build_space
from ttquant.strategy.library.ma_cross import SMACross

SPECS = SMACross.params_spec


def space(**grid: str):  # type: ignore[no-untyped-def]
    return build_space("sma_cross", SPECS, grid, {"size": "2"})


def test_grid_is_inclusive_and_the_last_dimension_varies_fastest() -> None:
    combos = grid_combinations(space(fast="5:50:5", slow="20:200:20"))
    assert len(combos) == 100
    assert combos[:2] == [
        {"size": 2.0, "fast": 5, "slow": 20},
        {"size": 2.0, "fast": 5, "slow": 40},
    ]
    assert combos[-1] == {"size": 2.0, "fast": 50, "slow": 200}


def test_random_sample_is_distinct_reproducible_and_inside_the_grid() -> None:
    s = space(fast="5:50:5", slow="20:200:20", ma="sma,ema")
    a = random_combinations(s, 30, seed=3)
    assert a == random_combinations(s, 30, seed=3)
    assert a != random_combinations(s, 30, seed=4)
    keys = {(c["fast"], c["slow"], c["ma"]) for c in a}
    assert len(keys) == 30
    everything = {(c["fast"], c["slow"], c["ma"]) for c in grid_combinations(s)}
    assert keys <= everything
    assert len(random_combinations(s, 10_000, seed=0)) == 200  # never more than the grid


def test_declared_ranges_are_the_default_grid_and_too_big_ones_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"more than 1,000,000.*--random N"):
        grid_combinations(build_space("sma_cross", SPECS))
    sample = random_combinations(build_space("sma_cross", SPECS), 5, seed=1)
    assert all(1 <= c["fast"] <= 1000 and 2 <= c["slow"] <= 5000 for c in sample)


def test_continuous_ranges_need_a_step_for_a_grid() -> None:
    s = build_space("sma_cross", SPECS, {"size": "0.5:2"})
    with pytest.raises(ConfigError, match="give it a step"):
        grid_combinations(s)
    values = [c["size"] for c in random_combinations(s, 20, seed=0)]
    assert all(0.5 <= v <= 2 for v in values) and len(set(values)) == 20
