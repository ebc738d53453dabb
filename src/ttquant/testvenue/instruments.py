"""The instruments of the recorded feeds, with the exchanges' trading rules of the time."""

from __future__ import annotations

from ttquant.model.instruments import perpetual, spot

BINANCE_SPOT_BTCUSDT = spot(
    "BTC/USDT",
    "BINANCE",
    price_increment=0.01,
    size_increment=0.00001,
    min_quantity=0.00001,
    min_notional=5.0,
    maker_fee=0.001,
    taker_fee=0.001,
)
BINANCE_USDM_BTCUSDT = perpetual(
    "BTC/USDT:USDT",
    "BINANCEUSDM",
    price_increment=0.1,
    size_increment=0.001,
    min_quantity=0.001,
    min_notional=100.0,
    maker_fee=0.0002,
    taker_fee=0.0005,
)
OKX_SPOT_BTCUSDT = spot(
    "BTC/USDT",
    "OKX",
    price_increment=0.1,
    size_increment=0.00000001,
    min_quantity=0.00001,
    maker_fee=0.0008,
    taker_fee=0.001,
)
