"""Binance spot and USDⓈ-M futures adapter."""

from ttquant.venues.binance.adapter import BinanceAdapter, BinanceConfig

__all__ = ["BinanceAdapter", "BinanceConfig"]
