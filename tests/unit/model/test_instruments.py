"""Instrument rules: rounding and validation at the boundary."""

from __future__ import annotations

import pytest

from ttquant.core.errors import InstrumentError
from ttquant.model.instruments import instrument_from_symbol, spot


def test_round_quantity_survives_float_noise_on_large_sizes() -> None:
    """Two units summing to 174.98412 BTC must close as 174.98412, not one lot less."""
    inst = spot("BTC/USDT", "SIM", size_increment=1e-5)
    total = 87.49206 + 87.49206  # 174.98411999999999 in binary floating point
    assert inst.round_quantity(total) == 174.98412
    assert inst.round_quantity(0.123456789) == 0.12345  # real excess still rounds down


def test_checks_name_the_problem() -> None:
    inst = spot("BTC/USDT", "SIM", price_increment=0.01, size_increment=0.001, min_notional=5.0)
    assert inst.check_price(100.005) == (
        "price 100.005 is not a multiple of the price increment 0.01"
    )
    assert inst.check_price(float("nan")) == "price nan must be a positive finite number"
    assert inst.check_quantity(0.0005) == (
        "quantity 0.0005 is not a multiple of the size increment 0.001"
    )
    assert inst.check_notional(0.001, 100.0) == (
        "notional 0.1 USDT is below the minimum notional 5.0 USDT"
    )
    assert inst.check_price(100.01) is None and inst.check_quantity(0.002) is None


def test_symbols_and_venues() -> None:
    perp = instrument_from_symbol("BTC/USDT:USDT", "binance")
    assert (perp.id, perp.settlement_currency, perp.is_inverse) == (
        "BTC/USDT:USDT@BINANCE",
        "USDT",
        False,
    )
    inverse = instrument_from_symbol("BTC/USD:BTC", "okx")
    assert inverse.is_inverse and inverse.settlement_currency == "BTC"
    with pytest.raises(InstrumentError, match="not of the form BASE/QUOTE"):
        spot("BTCUSDT")


def test_round_quantity_never_rounds_up_real_excess() -> None:
    inst = spot("BTC/USDT", "SIM", size_increment=1e-8)
    assert inst.round_quantity(12.3456789999) == 12.34567899
    assert inst.round_quantity(9.99999999995) == 9.99999999
