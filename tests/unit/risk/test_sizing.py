"""Position sizing against hand-computed sizes, and the rounding invariants (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttquant.core.errors import ConfigError
from ttquant.model.instruments import Instrument, perpetual, spot
from ttquant.risk.sizing import (
    capped_kelly,
    fixed_fractional,
    fixed_notional,
    fixed_quantity,
    kelly_fraction,
    percent_of_equity,
    tradable_quantity,
    volatility_target,
)

BTC = spot(
    "BTC/USDT", "SIM", price_increment=0.01, size_increment=0.001, min_quantity=0.002,
    min_notional=10.0, max_quantity=50.0,
)  # fmt: skip
INVERSE = perpetual("BTC/USD:BTC", "SIM", price_increment=0.5, size_increment=1.0, multiplier=100.0)


def test_fixed_quantity_rounds_down_to_the_lot() -> None:
    assert fixed_quantity(BTC, 0.0379, 30_000.0) == 0.037
    assert fixed_quantity(BTC, 0.0015, 30_000.0) == 0.0  # below the 0.002 minimum
    assert fixed_quantity(BTC, 0.003, 3_000.0) == 0.0  # 9 USDT: below the 10 USDT minimum
    assert fixed_quantity(BTC, 80.0, 30_000.0) == 50.0  # the maximum quantity


def test_fixed_notional() -> None:
    assert fixed_notional(BTC, 1_000.0, 30_000.0) == 0.033  # 0.0333.. rounded down
    # inverse: one contract is worth 100 USD, i.e. 100 / price BTC; 1 BTC at 50,000 is 500
    assert fixed_notional(INVERSE, 1.0, 50_000.0) == 500.0


def test_percent_of_equity() -> None:
    assert percent_of_equity(BTC, 20_000.0, 50.0, 40_000.0) == 0.25
    assert percent_of_equity(BTC, 20_000.0, 300.0, 40_000.0) == 1.5  # three times leveraged
    assert percent_of_equity(BTC, -5.0, 50.0, 40_000.0) == 0.0  # nothing left to size from


def test_fixed_fractional_risks_the_given_share_of_equity() -> None:
    # 1 % of 10,000 = 100 at risk; 500 lost per unit from 30,000 to 29,500 → 0.2
    assert fixed_fractional(BTC, 10_000.0, 1.0, 30_000.0, 29_500.0) == 0.2
    # a short: stop above the entry, same distance, same size
    assert fixed_fractional(BTC, 10_000.0, 1.0, 30_000.0, 30_500.0) == 0.2
    # inverse: a contract loses 100 * (1/40,000 - 1/50,000) = 0.0005 BTC; 0.01 BTC at risk → 20
    assert fixed_fractional(INVERSE, 1.0, 1.0, 50_000.0, 40_000.0) == 20.0


def test_volatility_target() -> None:
    # 20 % target on an 80 % asset: a quarter of equity → 25,000 / 40,000 = 0.625
    assert volatility_target(BTC, 100_000.0, 0.2, 0.8, 40_000.0) == 0.625
    # a 10 % asset would ask for 2x equity; capped at 1.5x → 150,000 / 40,000 = 3.75
    assert volatility_target(BTC, 100_000.0, 0.2, 0.1, 40_000.0, max_leverage=1.5) == 3.75


def test_capped_kelly() -> None:
    assert kelly_fraction(0.55, 1.5) == pytest.approx(0.25)  # 0.55 - 0.45 / 1.5
    # half Kelly 0.125, capped at 0.1 of 100,000 = 10,000 at 20,000 → 0.5
    assert capped_kelly(BTC, 100_000.0, 0.55, 1.5, 20_000.0, fraction=0.5, cap=0.1) == 0.5
    # uncapped half Kelly: 12,500 → 0.625
    assert capped_kelly(BTC, 100_000.0, 0.55, 1.5, 20_000.0, fraction=0.5, cap=1.0) == 0.625
    # a losing edge (0.4 - 0.6 / 1.0 < 0) sizes nothing
    assert capped_kelly(BTC, 100_000.0, 0.4, 1.0, 20_000.0) == 0.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fixed_quantity(BTC, -1.0, 100.0), "quantity must be a positive"),
        (lambda: fixed_notional(BTC, 100.0, 0.0), "price must be a positive"),
        (lambda: fixed_notional(BTC, 100.0, math.nan), "price must be a positive"),
        (lambda: percent_of_equity(BTC, math.inf, 10.0, 100.0), "equity must be a finite"),
        (lambda: fixed_fractional(BTC, 1e4, 0.0, 100.0, 99.0), "risk_percent"),
        (lambda: fixed_fractional(BTC, 1e4, 150.0, 100.0, 99.0), "risk_percent"),
        (lambda: fixed_fractional(BTC, 1e4, 1.0, 100.0, 100.0), "equals the entry"),
        (lambda: volatility_target(BTC, 1e4, 0.2, 0.0, 100.0), "volatility must be"),
        (lambda: volatility_target(BTC, 1e4, 0.2, 0.5, 100.0, -1.0), "max_leverage"),
        (lambda: kelly_fraction(1.2, 1.0), "win_rate"),
        (lambda: kelly_fraction(0.5, 0.0), "payoff"),
        (lambda: capped_kelly(BTC, 1e4, 0.5, 2.0, 100.0, fraction=0.0), "fraction"),
        (lambda: capped_kelly(BTC, 1e4, 0.5, 2.0, 100.0, cap=-0.1), "cap"),
    ],
)
def test_bad_arguments_are_named(call: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call()  # type: ignore[operator]


instruments = st.builds(
    lambda lot, min_lots, min_notional: spot(
        "X/USDT", "SIM", price_increment=0.01, size_increment=lot,
        min_quantity=lot * min_lots, min_notional=min_notional,
    ),
    st.sampled_from([1e-5, 0.001, 0.01, 0.1, 1.0, 5.0]),
    st.integers(0, 20),
    st.sampled_from([0.0, 5.0, 100.0]),
)  # fmt: skip


@given(
    inst=instruments,
    quantity=st.floats(0.0, 1e6, allow_nan=False),
    price=st.floats(0.01, 1e5, allow_nan=False),
)
def test_tradable_quantities_are_valid_orders_or_nothing(
    inst: Instrument, quantity: float, price: float
) -> None:
    qty = tradable_quantity(inst, quantity, price)
    assert qty <= quantity * (1 + 1e-12)  # never rounded up
    if qty > 0.0:
        assert inst.check_quantity(qty) is None
        assert inst.check_notional(qty, price) is None
        assert quantity - qty < inst.size_increment * (1 + 1e-9)  # at most one lot lost
    else:
        # only a quantity with less than the smallest tradable size comes back empty
        one_more = inst.round_quantity(quantity)
        assert (
            one_more <= 0.0
            or inst.check_quantity(one_more) is not None
            or inst.check_notional(one_more, price) is not None
        )


@given(
    equity=st.floats(1.0, 1e8),
    extra=st.floats(0.0, 1e8),
    risk=st.floats(0.01, 10.0),
    entry=st.floats(1.0, 1e5),
    distance=st.floats(0.001, 0.5),
)
def test_fixed_fractional_never_risks_more_and_grows_with_equity(
    equity: float, extra: float, risk: float, entry: float, distance: float
) -> None:
    stop = entry * (1.0 - distance)
    qty = fixed_fractional(BTC, equity, risk, entry, stop)
    assert qty * (entry - stop) <= equity * risk / 100.0 * (1 + 1e-9)
    assert fixed_fractional(BTC, equity + extra, risk, entry, stop) >= qty
