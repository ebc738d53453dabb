"""Position sizing: how much to trade, as a quantity the instrument accepts.

Every helper works out a size in money or risk, converts it to a quantity at ``price``, and
hands it to :func:`tradable_quantity`, which rounds *down* to the instrument's size increment
(a sizing rule never buys more than it allows), caps it at the maximum quantity, and returns 0
when the result is below the minimum quantity or the minimum notional: too small to trade is
"do not trade", not an order the venue will reject. Linear and inverse contracts are both
handled through the instrument's own notional and PnL arithmetic.

Percentages are given as percent (``2.0`` == 2 %); volatilities and Kelly fractions as
fractions (``0.2`` == 20 % a year). Bad arguments raise :class:`ConfigError` naming the
argument; an equity of zero or less sizes to 0.
"""

from __future__ import annotations

import math

from ttquant.core.errors import ConfigError
from ttquant.model.instruments import Instrument


def tradable_quantity(instrument: Instrument, quantity: float, price: float) -> float:
    """``quantity`` rounded down to a valid size, or 0 when too small to trade at ``price``."""
    _check_price(price, "price")
    if not math.isfinite(quantity):
        raise ConfigError(f"quantity must be a finite number, got {quantity}")
    if quantity <= 0.0:
        return 0.0
    qty = instrument.round_quantity(min(quantity, instrument.max_quantity))
    if qty <= 0.0 or instrument.check_quantity(qty) is not None:
        return 0.0  # below one lot or below the minimum quantity
    if instrument.check_notional(qty, price) is not None:
        return 0.0
    return qty


def quantity_for_notional(instrument: Instrument, notional: float, price: float) -> float:
    """The (unrounded) quantity worth ``notional`` settlement currency at ``price``."""
    _check_price(price, "price")
    if instrument.is_inverse:
        return notional * price / instrument.multiplier
    return notional / (price * instrument.multiplier)


def fixed_quantity(instrument: Instrument, quantity: float, price: float) -> float:
    """The same quantity every time, made valid for the instrument."""
    _check_positive(quantity, "quantity")
    return tradable_quantity(instrument, quantity, price)


def fixed_notional(instrument: Instrument, notional: float, price: float) -> float:
    """A position worth ``notional`` (settlement currency) at ``price``."""
    _check_positive(notional, "notional")
    return tradable_quantity(instrument, quantity_for_notional(instrument, notional, price), price)


def percent_of_equity(instrument: Instrument, equity: float, percent: float, price: float) -> float:
    """A position worth ``percent`` of ``equity``: 100 is fully invested, 300 three times."""
    _check_equity(equity)
    _check_positive(percent, "percent")
    return _notional_quantity(instrument, equity * percent / 100.0, price)


def fixed_fractional(
    instrument: Instrument, equity: float, risk_percent: float, entry: float, stop: float
) -> float:
    """A position that loses ``risk_percent`` of ``equity`` if it is stopped out at ``stop``.

    ``quantity = equity * risk% / loss per unit from entry to stop``; the quantity is valued at
    ``entry`` for the minimum-notional check.
    """
    _check_equity(equity)
    _check_percent(risk_percent, "risk_percent")
    _check_price(entry, "entry")
    _check_price(stop, "stop")
    if entry == stop:
        raise ConfigError(f"stop {stop} equals the entry price: the risk per unit is zero")
    if instrument.is_inverse:
        per_unit = instrument.multiplier * abs(1.0 / stop - 1.0 / entry)
    else:
        per_unit = instrument.multiplier * abs(entry - stop)
    if equity <= 0.0:
        return 0.0
    return tradable_quantity(instrument, equity * risk_percent / 100.0 / per_unit, entry)


def volatility_target(
    instrument: Instrument,
    equity: float,
    target_volatility: float,
    volatility: float,
    price: float,
    max_leverage: float | None = None,
) -> float:
    """A position whose expected volatility is ``target_volatility`` of equity.

    ``notional = equity * target / volatility`` with both volatilities annualized fractions
    (the instrument's, e.g. from :func:`ttquant.risk.metrics.annualized_volatility`), capped at
    ``max_leverage`` times equity when given.
    """
    _check_equity(equity)
    _check_positive(target_volatility, "target_volatility")
    _check_positive(volatility, "volatility")
    notional = equity * target_volatility / volatility
    if max_leverage is not None:
        _check_positive(max_leverage, "max_leverage")
        notional = min(notional, equity * max_leverage)
    return _notional_quantity(instrument, notional, price)


def kelly_fraction(win_rate: float, payoff: float) -> float:
    """The Kelly fraction ``p - (1 - p) / b`` (negative: the edge is against you)."""
    if not (math.isfinite(win_rate) and 0.0 <= win_rate <= 1.0):
        raise ConfigError(f"win_rate must be a fraction between 0 and 1, got {win_rate}")
    _check_positive(payoff, "payoff")
    return win_rate - (1.0 - win_rate) / payoff


def capped_kelly(
    instrument: Instrument,
    equity: float,
    win_rate: float,
    payoff: float,
    price: float,
    *,
    fraction: float = 0.5,
    cap: float = 0.25,
) -> float:
    """A position worth ``min(fraction * kelly, cap)`` of equity (none for a negative edge).

    Full Kelly maximizes long-run growth only if ``win_rate`` and ``payoff`` (average win over
    average loss) are exact; estimated from a backtest they are not, hence the default half
    Kelly and the cap on the share of equity at stake.
    """
    _check_equity(equity)
    if not (math.isfinite(fraction) and 0.0 < fraction <= 1.0):
        raise ConfigError(f"fraction must be in (0, 1], got {fraction}")
    if not (math.isfinite(cap) and cap > 0.0):
        raise ConfigError(f"cap must be a positive fraction of equity, got {cap}")
    share = min(fraction * kelly_fraction(win_rate, payoff), cap)
    if share <= 0.0:
        _check_price(price, "price")
        return 0.0
    return _notional_quantity(instrument, equity * share, price)


def _notional_quantity(instrument: Instrument, notional: float, price: float) -> float:
    if notional <= 0.0:
        _check_price(price, "price")
        return 0.0
    return tradable_quantity(instrument, quantity_for_notional(instrument, notional, price), price)


def _check_price(value: float, name: str) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise ConfigError(f"{name} must be a positive finite price, got {value}")


def _check_positive(value: float, name: str) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise ConfigError(f"{name} must be a positive finite number, got {value}")


def _check_percent(value: float, name: str) -> None:
    if not (math.isfinite(value) and 0.0 < value <= 100.0):
        raise ConfigError(f"{name} must be a percentage in (0, 100], got {value}")


def _check_equity(value: float) -> None:
    if not math.isfinite(value):
        raise ConfigError(f"equity must be a finite amount, got {value}")
