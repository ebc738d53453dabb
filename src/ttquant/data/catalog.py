"""The market data catalog: Parquet files by venue, instrument, data type and period.

```
ROOT/BINANCE/BTC%2FUSDT/bars_1m/2024-01.parquet      one file per month of intraday bars
ROOT/BINANCE/BTC%2FUSDT/trades/2024-01-05.parquet    one file per day of ticks
```

Why it is built this way:

* **A crash never leaves half a file.** Every file is written to a temporary name in the same
  folder, flushed to disk, then renamed over the old one (``os.replace`` is atomic); readers
  ignore temporary names. Writers to one data set take a file lock, so two imports interleave
  whole partitions, never rows.
* **Appends deduplicate.** Data with a key (a bar's open time, a trade id) replaces stored rows
  with the same key; data without one (quotes, trades of venues without ids) replaces the stored
  rows of the time span it covers. Re-importing a file or re-downloading a range is harmless.
* **Queries touch only what they need.** A time range selects partition files by name and
  row groups by their min/max statistics; :meth:`Catalog.batches` streams a range of any size
  in chunks of bounded size.

Instrument folders are the symbol percent-encoded (``BTC/USDT`` → ``BTC%2FUSDT``), reversible
and safe on every file system.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote, unquote

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from ttquant.core.errors import DataError
from ttquant.data.bars import OHLCV
from ttquant.data.schema import DataType
from ttquant.model.instruments import instrument_id, split_instrument_id

__all__ = ["Catalog", "DatasetInfo", "WriteResult", "default_catalog_root"]

ROW_GROUP_ROWS: Final = 131_072  # rows per Parquet row group: the unit of streaming reads
_GAPS_FILE: Final = "_gaps.parquet"
_LOCK_FILE: Final = ".lock"
_TMP_SUFFIX: Final = ".tmp"
_GAPS_SCHEMA: Final = pl.Schema({"start": pl.Int64, "end": pl.Int64, "missing": pl.Int64})


def default_catalog_root() -> Path:
    """``$TTQ_CATALOG``, else ``ttquant/catalog`` in the user's data folder (XDG)."""
    if env := os.environ.get("TTQ_CATALOG"):
        return Path(env)
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "ttquant" / "catalog"


@dataclass(frozen=True, slots=True)
class WriteResult:
    rows: int  # rows of the new data stored
    replaced: int  # stored rows the new data replaced (duplicates)
    partitions: int  # files written


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    instrument_id: str
    data_type: DataType
    rows: int
    first_ns: int | None
    last_ns: int | None
    files: int
    bytes: int
    path: Path


class Catalog:
    """Read and write market data under ``root`` (created on first write)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- paths ----------------------------------------------------------------------------------
    def dataset_path(self, instrument: str, data_type: DataType) -> Path:
        symbol, venue = split_instrument_id(instrument)
        return self.root / venue / quote(symbol, safe="") / data_type.name

    def files(self, instrument: str, data_type: DataType) -> list[Path]:
        """The partition files of a data set, in time order."""
        folder = self.dataset_path(instrument, data_type)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(("_", ".")))

    # -- writing --------------------------------------------------------------------------------
    def write(self, instrument: str, data_type: DataType, frame: pl.DataFrame) -> WriteResult:
        """Store ``frame`` (the data type's columns, any order of rows), merging with what is
        stored; see the module docstring for how duplicates are resolved."""
        new = _conform(frame, data_type, instrument)
        if new.height == 0:
            return WriteResult(0, 0, 0)
        folder = self.dataset_path(instrument, data_type)
        folder.mkdir(parents=True, exist_ok=True)
        keys = data_type.period_keys(new["ts_event"].to_numpy())
        key_col = pl.Series("_period", keys)
        span = (int(new["ts_event"].min()), int(new["ts_event"].max()))  # type: ignore[arg-type]
        replaced = 0
        written = 0
        with _locked(folder / _LOCK_FILE):
            for part in new.with_columns(key_col).partition_by("_period", as_dict=False):
                name = data_type.period_name(int(part["_period"][0]))
                path = folder / f"{name}.parquet"
                old = _read_partition(path) if path.exists() else None
                merged, dropped = _merge(old, part.drop("_period"), data_type, span)
                _write_atomic(merged, path)
                replaced += dropped
                written += 1
        return WriteResult(new.height, replaced, written)

    def replace(self, instrument: str, data_type: DataType, frame: pl.DataFrame) -> None:
        """Make ``frame`` the whole data set: partitions it has no rows for are removed."""
        new = _conform(frame, data_type, instrument)
        folder = self.dataset_path(instrument, data_type)
        folder.mkdir(parents=True, exist_ok=True)
        keys = data_type.period_keys(new["ts_event"].to_numpy())
        with _locked(folder / _LOCK_FILE):
            kept = set()
            if new.height:
                parts = new.with_columns(pl.Series("_period", keys)).partition_by(
                    "_period", as_dict=False
                )
                for part in parts:
                    name = data_type.period_name(int(part["_period"][0]))
                    _write_atomic(part.drop("_period"), folder / f"{name}.parquet")
                    kept.add(f"{name}.parquet")
            for path in self.files(instrument, data_type):
                if path.name not in kept:
                    path.unlink()

    def mark_gaps(self, instrument: str, data_type: DataType, gaps: pl.DataFrame) -> None:
        """Record known gaps (``start``, ``end``, ``missing``) so readers can tell a hole in the
        data from a hole in the market; replaces earlier marks."""
        folder = self.dataset_path(instrument, data_type)
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder / _LOCK_FILE):
            _write_atomic(gaps.select(_GAPS_SCHEMA.names()).cast(_GAPS_SCHEMA), folder / _GAPS_FILE)

    def gaps(self, instrument: str, data_type: DataType) -> pl.DataFrame:
        """Gaps recorded by :meth:`mark_gaps` (empty if none)."""
        path = self.dataset_path(instrument, data_type) / _GAPS_FILE
        return pl.read_parquet(path) if path.exists() else pl.DataFrame(schema=_GAPS_SCHEMA)

    # -- reading --------------------------------------------------------------------------------
    def scan(
        self,
        instrument: str,
        data_type: DataType,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> pl.LazyFrame:
        """Rows with ``start_ns <= ts_event < end_ns`` as a lazy frame (only the partitions of
        the range are opened; Polars pushes the filter down to row groups)."""
        files = self._files_in_range(instrument, data_type, start_ns, end_ns)
        if not files:
            return pl.LazyFrame(schema=data_type.schema)
        lazy = pl.scan_parquet(files, schema=data_type.schema)
        if start_ns is not None:
            lazy = lazy.filter(pl.col("ts_event") >= start_ns)
        if end_ns is not None:
            lazy = lazy.filter(pl.col("ts_event") < end_ns)
        return lazy

    def read(
        self,
        instrument: str,
        data_type: DataType,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> pl.DataFrame:
        return self.scan(instrument, data_type, start_ns, end_ns).collect()

    def batches(
        self,
        instrument: str,
        data_type: DataType,
        start_ns: int | None = None,
        end_ns: int | None = None,
        rows: int = 65_536,
    ) -> Iterator[pl.DataFrame]:
        """The rows of a range in time order, at most ``rows`` at a time; memory stays at about
        one row group whatever the size of the range."""
        lo = -(2**63) if start_ns is None else start_ns
        hi = 2**63 - 1 if end_ns is None else end_ns
        for path in self._files_in_range(instrument, data_type, start_ns, end_ns):
            parquet = pq.ParquetFile(path)
            groups = [g for g in range(parquet.num_row_groups) if _overlaps(parquet, g, lo, hi)]
            for batch in parquet.iter_batches(batch_size=rows, row_groups=groups):
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                ts = frame["ts_event"]
                if int(ts[0]) < lo or int(ts[-1]) >= hi:
                    frame = frame.filter((ts >= lo) & (ts < hi))
                if frame.height:
                    yield frame

    def load_ohlcv(
        self,
        instrument: str,
        timeframe: str | int,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> OHLCV:
        """Bars as the arrays a backtest takes (``ts`` = bar open)."""
        data_type = DataType.bars(timeframe)
        frame = self.read(instrument, data_type, start_ns, end_ns)
        if frame.height == 0:
            raise DataError(
                f"catalog {self.root}: no {data_type} of {instrument} in the requested range "
                f"(stored: {', '.join(str(d) for d in self.data_types(instrument)) or 'nothing'})"
            )
        arrays = [
            np.ascontiguousarray(frame[c].to_numpy())
            for c in ("ts_event", "open", "high", "low", "close", "volume")
        ]
        for array in arrays:
            array.flags.writeable = False
        ts, o, h, lo, c, v = arrays
        where = f"catalog {self.root}: {instrument} {data_type}"
        return OHLCV(ts=ts, open=o, high=h, low=lo, close=c, volume=v, source=where)

    def last_ts(self, instrument: str, data_type: DataType) -> int | None:
        """The latest stored ``ts_event`` (where an incremental download resumes)."""
        files = self.files(instrument, data_type)
        if not files:
            return None
        last = pl.scan_parquet(files[-1]).select(pl.col("ts_event").max()).collect().item()
        return None if last is None else int(last)

    # -- listing --------------------------------------------------------------------------------
    def instruments(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            instrument_id(unquote(sym.name), venue.name)
            for venue in self.root.iterdir()
            if venue.is_dir() and not venue.name.startswith(".")
            for sym in venue.iterdir()
            if sym.is_dir()
        )

    def data_types(self, instrument: str) -> list[DataType]:
        folder = self.dataset_path(instrument, DataType("trades")).parent
        if not folder.is_dir():
            return []
        found = []
        for sub in sorted(folder.iterdir()):
            with contextlib.suppress(Exception):
                found.append(DataType.parse(sub.name))
        return found

    def info(self, instrument: str, data_type: DataType) -> DatasetInfo:
        """Size and time span from the Parquet footers: no data is read."""
        files = self.files(instrument, data_type)
        rows = 0
        size = 0
        first: int | None = None
        last: int | None = None
        for path in files:
            meta = pq.ParquetFile(path).metadata
            rows += meta.num_rows
            size += path.stat().st_size
            column = meta.schema.names.index("ts_event")
            for g in range(meta.num_row_groups):
                stats = meta.row_group(g).column(column).statistics
                if stats is not None and stats.has_min_max:
                    first = int(stats.min) if first is None else min(first, int(stats.min))
                    last = int(stats.max) if last is None else max(last, int(stats.max))
        return DatasetInfo(
            instrument,
            data_type,
            rows,
            first,
            last,
            len(files),
            size,
            self.dataset_path(instrument, data_type),
        )

    def datasets(self) -> list[DatasetInfo]:
        return [self.info(i, d) for i in self.instruments() for d in self.data_types(i)]

    def _files_in_range(
        self, instrument: str, data_type: DataType, start_ns: int | None, end_ns: int | None
    ) -> list[Path]:
        files = self.files(instrument, data_type)
        return [
            p
            for p in files
            if (start_ns is None or data_type.period_end(p.stem) > start_ns)
            and (end_ns is None or data_type.period_start(p.stem) < end_ns)
        ]


# ------------------------------------------------------------------------------ helpers


def _conform(frame: pl.DataFrame, data_type: DataType, instrument: str) -> pl.DataFrame:
    """The frame in the data type's columns and types; missing or null values are refused."""
    schema = data_type.schema
    missing = [c for c in schema.names() if c not in frame.columns]
    if missing:
        raise DataError(
            f"{instrument} {data_type}: missing column(s) {', '.join(missing)} "
            f"(got {', '.join(frame.columns)})"
        )
    try:
        out = frame.select(schema.names()).cast(schema)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{instrument} {data_type}: columns of the wrong type ({exc})") from None
    for name in schema.names():
        if out[name].null_count():
            raise DataError(f"{instrument} {data_type}: column {name} has missing values")
    return out


def _merge(
    old: pl.DataFrame | None, new: pl.DataFrame, data_type: DataType, span: tuple[int, int]
) -> tuple[pl.DataFrame, int]:
    """``old`` and ``new`` rows of one partition, sorted, duplicates resolved in favour of new."""
    key = data_type.row_key(new)
    if key is not None:
        new = new.unique(subset=key, keep="last", maintain_order=True)
    if old is None:
        return new.sort("ts_event", maintain_order=True), 0
    if key is not None:
        kept = old.join(new.select(key), on=key, how="anti")
    else:
        ts = old["ts_event"]
        kept = old.filter((ts < span[0]) | (ts > span[1]))
    merged = pl.concat([kept, new]).sort("ts_event", maintain_order=True)
    return merged, old.height - kept.height


def _read_partition(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"{path}: unreadable catalog file ({exc})") from None


def _write_atomic(frame: pl.DataFrame, path: Path) -> None:
    """Write next to ``path`` under a temporary name, flush to disk, rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{_TMP_SUFFIX}")
    try:
        frame.write_parquet(tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS, statistics=True)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _overlaps(parquet: pq.ParquetFile, group: int, lo: int, hi: int) -> bool:
    """Whether row group ``group`` may hold a ``ts_event`` in ``[lo, hi)`` (by its statistics)."""
    meta = parquet.metadata.row_group(group)
    column = parquet.metadata.schema.names.index("ts_event")
    stats = meta.column(column).statistics
    if stats is None or not stats.has_min_max:
        return True
    return int(stats.max) >= lo and int(stats.min) < hi
