"""Trading records in SQL: runs, orders and their events, fills, equity, positions, alerts.

SQLite (a file under the user data folder) is the embedded default; PostgreSQL serves shared
deployments, with monthly partitions or TimescaleDB hypertables. Market data lives in the
Parquet catalog (``ttquant.data``), not here.

The names below load on first use: importing a light submodule (``ttquant.store.location``, as
every ``ttq`` command does) doesn't pay for SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ttquant.store.location import default_store_url
    from ttquant.store.store import TradingStore, open_store

__all__ = ["TradingStore", "default_store_url", "open_store"]

_HOMES = {
    "TradingStore": "ttquant.store.store",
    "open_store": "ttquant.store.store",
    "default_store_url": "ttquant.store.location",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
