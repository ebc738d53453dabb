"""Generic adapter over ccxt's unified API (REST, and ccxt.pro streams where they exist)."""

from ttquant.venues.ccxt.adapter import CcxtAdapter, CcxtConfig

__all__ = ["CcxtAdapter", "CcxtConfig"]
