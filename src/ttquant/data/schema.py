"""The kinds of market data the catalog stores, their columns and how they are partitioned.

One column layout per kind, whatever the source: importers and downloaders convert to it, the
catalog checks it on write, and readers rely on it. Times are int64 ns UTC with the kernel's
meaning (``ts_event`` when it happened, ``ts_init`` when it could be known: for a bar, its open
and its close).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from ttquant.core.errors import ConfigError
from ttquant.model.data import Bar, format_step, parse_step

__all__ = ["BAR_SCHEMA", "QUOTE_SCHEMA", "TRADE_SCHEMA", "DataType", "Kind", "bar_frame"]

Kind = Literal["bars", "trades", "quotes"]

BAR_SCHEMA: Final = pl.Schema(
    {
        "ts_event": pl.Int64,
        "ts_init": pl.Int64,
        "open": pl.Float64,
        "high": pl.Float64,
        "low": pl.Float64,
        "close": pl.Float64,
        "volume": pl.Float64,
        "complete": pl.Boolean,
    }
)
# aggressor: 0 unknown, 1 buyer, 2 seller (the engine's codes); trade_id "" when the venue has none
TRADE_SCHEMA: Final = pl.Schema(
    {
        "ts_event": pl.Int64,
        "ts_init": pl.Int64,
        "price": pl.Float64,
        "size": pl.Float64,
        "aggressor": pl.Int8,
        "trade_id": pl.String,
    }
)
QUOTE_SCHEMA: Final = pl.Schema(
    {
        "ts_event": pl.Int64,
        "ts_init": pl.Int64,
        "bid_price": pl.Float64,
        "ask_price": pl.Float64,
        "bid_size": pl.Float64,
        "ask_size": pl.Float64,
    }
)
_SCHEMAS: Final = {"bars": BAR_SCHEMA, "trades": TRADE_SCHEMA, "quotes": QUOTE_SCHEMA}
_HOUR: Final = 3_600 * 10**9


def bar_frame(bars: Sequence[Bar]) -> pl.DataFrame:
    """Bar structs in the catalog's bar columns, so streamed bars (recorded live, or built by the
    aggregators) can be stored and compared with batch-built ones."""
    return pl.DataFrame({c: [getattr(b, c) for b in bars] for c in BAR_SCHEMA}, schema=BAR_SCHEMA)


@dataclass(frozen=True, slots=True)
class DataType:
    """``bars_1m``, ``bars_1h``, ..., ``trades`` or ``quotes``: a catalog folder name."""

    kind: Kind
    step: int = 0  # ns, time bars only

    @classmethod
    def parse(cls, text: str) -> DataType:
        name = text.strip().lower()
        if name in ("trades", "quotes"):
            return cls(name)  # type: ignore[arg-type]
        if name.startswith("bars_"):
            return cls("bars", parse_step(name.removeprefix("bars_")))
        raise ConfigError(
            f"unknown data type {text!r}: expected trades, quotes or bars_STEP (e.g. bars_1m)"
        )

    @classmethod
    def bars(cls, step: str | int) -> DataType:
        return cls("bars", parse_step(step) if isinstance(step, str) else step)

    @property
    def name(self) -> str:
        return f"bars_{format_step(self.step)}" if self.kind == "bars" else self.kind

    def __str__(self) -> str:
        return self.name

    @property
    def schema(self) -> pl.Schema:
        return _SCHEMAS[self.kind]

    def row_key(self, frame: pl.DataFrame) -> list[str] | None:
        """The columns that identify a row of ``frame``, None when only the whole row does: a bar
        by its open time, a trade by its id when every trade has one; the catalog keeps one row
        per key and validation reports the others as duplicates."""
        if self.kind == "bars":
            return ["ts_event"]
        if self.kind == "trades" and not (frame["trade_id"] == "").any():
            return ["trade_id"]
        return None

    @property
    def period(self) -> Literal["D", "M", "Y"]:
        """One file per day of ticks, per month of bars shorter than an hour, per year of longer
        bars: files of a few MB, few enough that a scan of years opens tens of them."""
        if self.kind != "bars":
            return "D"
        return "M" if self.step < _HOUR else "Y"

    def period_keys(self, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The partition of each timestamp, as an integer (days, months or years since 1970)."""
        unit = f"datetime64[{self.period}]"
        return ts.astype("datetime64[ns]").astype(unit).astype(np.int64)

    def period_name(self, key: int) -> str:
        """The file stem of a partition: ``2024-01-05``, ``2024-01`` or ``2024``."""
        return str(np.datetime64(key, self.period))

    def period_start(self, name: str) -> int:
        """The first ns of the partition ``name``."""
        return int(np.datetime64(name, self.period).astype("datetime64[ns]").astype(np.int64))

    def period_end(self, name: str) -> int:
        """The first ns after the partition ``name``."""
        end = np.datetime64(name, self.period) + 1
        return int(end.astype("datetime64[ns]").astype(np.int64))
