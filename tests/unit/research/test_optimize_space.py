"""The search space: declared ranges, --param overrides, grids and what they refuse."""

from __future__ import annotations

import itertools
from typing import Any

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttquant.core.errors import ConfigError
from ttquant.research.space import Dimension, build_space, parse_assignments
from ttquant.strategy.library.ma_cross import SMACross
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy

SPECS = SMACross.params_spec


class Tuned(Strategy):
    """A strategy declaring every kind of parameter the space handles."""

    name = "tuned"
    window: int = Param(20, min=5, max=50, step=5)
    threshold: float = Param(0.5, min=0.0, max=1.0)
    mode: str = Param("a", choices=("a", "b", "c"))
    enabled: bool = Param(True)
    size: float = Param(1.0, min=0.0)  # no upper bound: not searched by default
    label: str = Param("x")


def test_declared_space_searches_bounded_ranges_choices_and_bools() -> None:
    space = build_space("tuned", Tuned.params_spec)
    dims = {d.name: d for d in space.dimensions}
    assert set(dims) == {"window", "threshold", "mode", "enabled"}
    assert dims["window"] == Dimension("window", "int", 5.0, 50.0, 5)
    assert dims["window"].values() == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert dims["threshold"].kind == "float" and dims["threshold"].step is None
    assert dims["mode"].values() == ["a", "b", "c"]
    assert dims["enabled"].values() == [False, True]


def test_overrides_replace_the_declared_space() -> None:
    space = build_space("sma_cross", SPECS, {"fast": "5:50:5", "slow": "20:200:20", "ma": "sma"})
    assert space.names == ["fast", "slow"]
    assert space.fixed == {"ma": "sma"}
    assert space.grid_size() == 100  # the 10 x 10 sweep
    grid = space.grid()
    assert grid[0] == {"ma": "sma", "fast": 5, "slow": 20}
    assert grid[1] == {"ma": "sma", "fast": 5, "slow": 40}  # last dimension fastest
    assert grid[-1] == {"ma": "sma", "fast": 50, "slow": 200}
    expected = [
        {"ma": "sma", "fast": f, "slow": s}
        for f, s in itertools.product(range(5, 51, 5), range(20, 201, 20))
    ]
    assert grid == expected


def test_set_fixes_a_parameter_and_coerces_it() -> None:
    space = build_space("sma_cross", SPECS, {"fast": "5:10"}, {"size": "2.5", "long_only": "no"})
    assert space.fixed == {"size": 2.5, "long_only": False}
    assert space.params({"fast": 7}) == {"size": 2.5, "long_only": False, "fast": 7}


def test_float_ranges_log_scales_and_choices() -> None:
    space = build_space(
        "tuned", Tuned.params_spec, {"threshold": "0.1:0.5:0.2", "window": "5:40:log"}
    )
    threshold, window = space.dimensions
    assert threshold.values() == [0.1, 0.3, 0.5]
    assert window.log and window.distribution() == optuna.distributions.IntDistribution(
        5, 40, log=True
    )
    dist = threshold.distribution()
    assert dist == optuna.distributions.FloatDistribution(0.1, 0.5, step=0.2)
    choices = build_space("tuned", Tuned.params_spec, {"mode": "c,a"}).dimensions[0]
    assert choices.values() == ["c", "a"]


def test_a_float_step_that_does_not_divide_the_range_keeps_the_last_grid_point() -> None:
    dim = build_space("tuned", Tuned.params_spec, {"threshold": "0:1:0.3"}).dimensions[0]
    assert dim.values() == [0.0, 0.3, 0.6, 0.9]
    assert dim.distribution() == optuna.distributions.FloatDistribution(0.0, 0.9, step=0.3)


@pytest.mark.parametrize(
    ("overrides", "fixed", "message"),
    [
        ({"speed": "1:2"}, {}, "strategy 'sma_cross' has no parameter 'speed'"),
        ({"fast": "0:10"}, {}, "parameter 'fast' must be >= 1, got 0"),
        ({"fast": "10:5"}, {}, "--param fast=10:5: LOW must be below HIGH"),
        ({"fast": "1:5:0"}, {}, "--param fast=1:5:0: step must be positive"),
        ({"fast": "1:5:x"}, {}, "step 'x' is not a int (or 'log')"),
        ({"fast": "1:2:3:4"}, {}, "expected LOW:HIGH, LOW:HIGH:STEP or LOW:HIGH:log"),
        ({"ma": "sma:ema"}, {}, "a range needs a numeric parameter"),
        ({"ma": "sma,wma"}, {}, "must be one of ['sma', 'ema'], got 'wma'"),
        ({"fast": "5,5"}, {}, "a choice is repeated"),
        ({"fast": "2.5:9"}, {}, "parameter 'fast' must be int, got '2.5'"),
        ({"fast": "5:9"}, {"fast": "3"}, "'fast' is given both as --param and as --set"),
        ({"size": "3"}, {}, "nothing to search"),
    ],
)
def test_bad_spaces_are_one_line_errors(
    overrides: dict[str, str], fixed: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        build_space("sma_cross", SPECS, overrides, fixed)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_log_range_needs_a_positive_low() -> None:
    with pytest.raises(ConfigError, match="a log range needs LOW > 0"):
        build_space("tuned", Tuned.params_spec, {"threshold": "0:1:log"})


def test_a_continuous_float_range_has_no_grid() -> None:
    dim = build_space("tuned", Tuned.params_spec, {"threshold": "0:1"}).dimensions[0]
    with pytest.raises(ConfigError, match="a float range needs a step for a grid"):
        dim.values()


def test_parse_assignments() -> None:
    assert parse_assignments(["fast=5:50", " slow = 20:200 "], "--param") == {
        "fast": "5:50",
        "slow": "20:200",
    }
    for bad, message in (
        (["fast"], "--param 'fast' is not of the form name=value"),
        (["=3"], "is not of the form"),
        (["fast=1", "fast=2"], "--param names parameter 'fast' twice"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_assignments(bad, "--param")


@given(
    low=st.integers(1, 500),
    width=st.integers(1, 400),
    step=st.integers(1, 50),
)
def test_every_grid_value_is_accepted_by_the_strategy(low: int, width: int, step: int) -> None:
    """Whatever range a user gives, the grid only holds values the strategy's Param accepts,
    in order, starting at LOW and never past HIGH."""
    high = low + width
    space = build_space("sma_cross", SPECS, {"fast": f"{low}:{high}:{step}"})
    values = space.dimensions[0].values()
    assert values[0] == low and values[-1] <= high and high - values[-1] < step
    assert values == sorted(set(values))
    spec = SPECS["fast"]
    assert all(spec.coerce("sma_cross", v) == v for v in values)
    params: list[dict[str, Any]] = space.grid()
    assert [p["fast"] for p in params] == values
