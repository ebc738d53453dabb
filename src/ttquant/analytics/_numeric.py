"""Guarded arithmetic shared by the statistics helpers.

Statistics must come out as JSON-friendly numbers or ``None``: a zero denominator, an overflow or
a spread that is only floating-point noise must turn into ``None`` rather than NaN, inf or a
numpy warning, because reports and ``results.json`` show these values verbatim.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

# A standard deviation below this fraction of the data's magnitude is rounding noise (e.g. the
# returns of a curve compounding at a constant rate): treating it as a real spread would turn a
# "zero volatility" case into a ratio of 1e15 instead of "undefined".
_RELATIVE_NOISE = 1e-12
_MAX_EXP = math.log(np.finfo(np.float64).max)


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when the quotient is undefined or infinite."""
    if denominator == 0.0:
        return None
    quotient = numerator / denominator
    return float(quotient) if math.isfinite(quotient) else None


def percent(fraction: float | None) -> float | None:
    return None if fraction is None else fraction * 100.0


def is_noise(spread: float, values: NDArray[np.float64]) -> bool:
    """True when ``spread`` is indistinguishable from zero at the magnitude of ``values``."""
    return spread <= _RELATIVE_NOISE * float(np.max(np.abs(values)))


def sample_std(values: NDArray[np.float64]) -> float | None:
    """Sample standard deviation (ddof=1); None below two values, 0.0 when it is only noise."""
    if values.size < 2:
        return None
    std = float(np.std(values, ddof=1))
    return 0.0 if is_noise(std, values) else std


def compound(growth: float, power: float) -> float | None:
    """``growth ** power - 1`` as a fraction; -1.0 (all lost) when growth <= 0, None on overflow.

    Annualizing a short, strongly trending sample raises the growth factor to a large power; the
    log form detects the overflow instead of producing inf with a warning.
    """
    if growth <= 0.0:
        return -1.0
    exponent = math.log(growth) * power
    if exponent > _MAX_EXP:
        return None
    return math.expm1(exponent)
