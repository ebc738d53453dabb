"""Argument checks shared by every indicator.

Bad parameters are a user's mistake (a strategy config, a CLI flag), so they surface as
:class:`~ttquant.core.errors.ConfigError` with the indicator and parameter named, instead of a
numba typing error or a silently empty result.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from ttquant.core.errors import ConfigError

FloatArray = npt.NDArray[np.float64]


def check_period(indicator: str, param: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` if it is an ``int`` (not ``bool``) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(
            f"{indicator}: parameter '{param}' must be an integer >= {minimum}, "
            f"got {type(value).__name__} {value!r}"
        )
    if value < minimum:
        raise ConfigError(
            f"{indicator}: parameter '{param}' must be an integer >= {minimum}, got {value}"
        )
    return int(value)


def check_positive(indicator: str, param: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(
            f"{indicator}: parameter '{param}' must be a positive number, "
            f"got {type(value).__name__} {value!r}"
        )
    result = float(value)
    if not math.isfinite(result) or result <= 0.0:
        raise ConfigError(
            f"{indicator}: parameter '{param}' must be a positive number, got {value}"
        )
    return result


def as_series(indicator: str, param: str, values: Any) -> FloatArray:
    """Return ``values`` as a contiguous 1-D float64 array (no copy when it already is one)."""
    try:
        array = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{indicator}: input '{param}' must be a 1-D array of numbers ({exc})"
        ) from None
    if array.ndim != 1:
        raise ConfigError(
            f"{indicator}: input '{param}' must be 1-D, got an array of shape {array.shape}"
        )
    return array


def as_series_group(indicator: str, **inputs: Any) -> list[FloatArray]:
    """Convert several inputs with :func:`as_series` and check they all have the same length."""
    arrays = [as_series(indicator, name, values) for name, values in inputs.items()]
    lengths = {name: len(array) for name, array in zip(inputs, arrays, strict=True)}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise ConfigError(f"{indicator}: inputs must have the same length, got {described}")
    return arrays
