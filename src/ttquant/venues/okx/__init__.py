"""OKX v5 adapter."""

from ttquant.venues.okx.adapter import OkxAdapter, OkxConfig

__all__ = ["OkxAdapter", "OkxConfig"]
