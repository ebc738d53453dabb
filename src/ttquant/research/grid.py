"""The parameter sets a sweep evaluates: the whole grid of a search space, or a random sample.

The space is :class:`ttquant.research.space.SearchSpace` (``--grid fast=5:50:5`` uses the same
syntax as ``--param``; without any, the strategy's declared ranges). A random sample of a
discrete space is drawn without replacement from the grid's index, so it never repeats a
combination and is the same for the same seed; a continuous (float, no step) dimension is
drawn uniformly (log-uniformly for ``:log``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ttquant.core.errors import ConfigError
from ttquant.research.space import Dimension, SearchSpace

__all__ = ["MAX_COMBINATIONS", "grid_combinations", "random_combinations"]

MAX_COMBINATIONS = 1_000_000


def grid_combinations(space: SearchSpace) -> list[dict[str, Any]]:
    """Every combination of the space, the last dimension varying fastest."""
    for d in space.dimensions:
        if d.kind == "float" and d.step is None:
            raise ConfigError(
                f"parameter {d.name!r} is a continuous range: give it a step for a grid "
                f"(--grid {d.name}={d.low:g}:{d.high:g}:STEP) or use --random N"
            )
    size = space.grid_size()
    if size > MAX_COMBINATIONS:
        raise ConfigError(
            f"the grid has {size:,} combinations (more than {MAX_COMBINATIONS:,}): narrow it "
            "with --grid NAME=LOW:HIGH:STEP or sample it with --random N"
        )
    return space.grid()


def random_combinations(space: SearchSpace, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` distinct combinations drawn with ``seed`` (all of them if the grid is smaller)."""
    if n <= 0:
        raise ConfigError(f"--random must be a positive number of combinations, got {n}")
    rng = np.random.default_rng(seed)
    if all(d.kind != "float" or d.step is not None for d in space.dimensions):
        values = [d.values() for d in space.dimensions]
        sizes = [len(v) for v in values]
        total = math.prod(sizes)
        picks = sorted(rng.choice(total, size=min(n, total), replace=False).tolist())
        return [_decode(space, values, sizes, int(index)) for index in picks]
    return [space.params({d.name: _draw(d, rng) for d in space.dimensions}) for _ in range(n)]


def _decode(
    space: SearchSpace, values: list[list[Any]], sizes: list[int], index: int
) -> dict[str, Any]:
    """The grid's ``index``-th combination (mixed radix, the last dimension fastest)."""
    chosen: dict[str, Any] = {}
    for d, options, size in zip(
        reversed(space.dimensions), reversed(values), reversed(sizes), strict=True
    ):
        index, digit = divmod(index, size)
        chosen[d.name] = options[digit]
    return space.params({d.name: chosen[d.name] for d in space.dimensions})


def _draw(d: Dimension, rng: np.random.Generator) -> Any:
    if d.kind == "categorical":
        return d.choices[int(rng.integers(len(d.choices)))]
    if d.kind == "int" or d.step is not None:
        options = d.values()
        return options[int(rng.integers(len(options)))]
    if d.log:
        return float(math.exp(rng.uniform(math.log(d.low), math.log(d.high))))
    return float(rng.uniform(d.low, d.high))
