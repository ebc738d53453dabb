"""Instrument rounding inside numba kernels, equal bit for bit to :class:`Instrument`'s.

``Instrument.round_price`` is ``round(round(p / inc) * inc, decimals)``. For ``k`` whole steps the
decimal rounding of ``k * inc`` is exactly ``k * units / 10**decimals`` (``units`` = the step in
units of the last decimal), and Python's ``round`` returns the double nearest that decimal, which
is what one correctly rounded division gives. So the kernels need no decimal arithmetic, and a
stop level computed here equals the one an event-driven strategy computes with the instrument.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ttquant.model.instruments import Instrument

_ROUNDING_NOISE = 1e-12  # Instrument.round_quantity's tolerance for sums of lots


def decimal_step(increment: float, decimals: int) -> tuple[float, float]:
    """``(units, scale)``: the increment as a whole number of ``1 / scale``."""
    scale = 10.0**decimals
    return float(round(increment * scale)), scale


def price_rounding(instrument: Instrument) -> tuple[float, float, float]:
    """``(increment, units, scale)`` of the instrument's prices."""
    units, scale = decimal_step(instrument.price_increment, instrument.price_decimals)
    return instrument.price_increment, units, scale


def size_rounding(instrument: Instrument) -> tuple[float, float, float]:
    """``(increment, units, scale)`` of the instrument's quantities."""
    units, scale = decimal_step(instrument.size_increment, instrument.size_decimals)
    return instrument.size_increment, units, scale


@njit(cache=True)
def round_price(price: float, increment: float, units: float, scale: float) -> float:
    """The nearest valid price (``Instrument.round_price``)."""
    return float((np.rint(price / increment) * units) / scale)


@njit(cache=True)
def round_quantity(quantity: float, increment: float, units: float, scale: float) -> float:
    """The largest valid quantity not above ``quantity`` (``Instrument.round_quantity``)."""
    steps = quantity / increment
    nearest = np.rint(steps)
    if abs(steps - nearest) <= _ROUNDING_NOISE * max(1.0, abs(steps)):
        return float((nearest * units) / scale)
    return (math.floor(steps) * units) / scale
