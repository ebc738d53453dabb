"""Typed strategy parameters: coercion from config/CLI text, ranges, clear errors."""

from __future__ import annotations

import pytest

from ttquant.core.errors import ConfigError
from ttquant.strategy.params import Param
from ttquant.strategy.strategy import Strategy


class Demo(Strategy):
    fast: int = Param(10, min=2, max=50, doc="window")
    ratio: float = Param(0.5, min=0.0, max=1.0)
    short: bool = Param(False)
    kind: str = Param("sma", choices=("sma", "ema"))
    stop: float | None = Param(None, min=0.0, doc="optional stop distance")


def test_defaults_and_text_values_become_typed_attributes() -> None:
    s = Demo(fast="12", ratio="0.25", short="yes", kind="ema", stop="1.5")
    assert (s.fast, s.ratio, s.short, s.kind, s.stop) == (12, 0.25, True, "ema", 1.5)
    assert Demo().stop is None and Demo(stop="none").stop is None
    assert Demo.params_spec["fast"].param.doc == "window"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"fastt": 3}, "unknown parameter 'fastt' (known: fast, ratio, short, kind, stop)"),
        ({"fast": "abc"}, "parameter 'fast' must be int, got 'abc'"),
        ({"fast": 2.5}, "parameter 'fast' must be int, got 2.5"),
        ({"fast": True}, "parameter 'fast' must be int, got True"),
        ({"fast": 1}, "parameter 'fast' must be >= 2, got 1"),
        ({"ratio": "2"}, "parameter 'ratio' must be <= 1.0, got 2.0"),
        ({"short": "maybe"}, "parameter 'short' must be bool, got 'maybe'"),
        ({"kind": "wma"}, "parameter 'kind' must be one of ['sma', 'ema'], got 'wma'"),
        ({"stop": "-1"}, "parameter 'stop' must be >= 0.0, got -1.0"),
    ],
)
def test_bad_values_name_the_strategy_parameter_and_value(
    given: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        Demo(**given)
    assert str(err.value) == f"strategy 'demo': {message}"
