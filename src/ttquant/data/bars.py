"""OHLCV bar files (CSV, CSV.gz, Parquet) loaded into numpy arrays.

This is the boundary where a user's file enters ttquant, so everything the engine later takes for
granted (sorted unique UTC timestamps, finite positive prices, consistent high/low) is checked here
once, and a bad file fails with one line that says which file, which line and what is wrong. All
checks are vectorized: a 1.5M-row file costs a few numpy passes, not a Python loop.

Line numbers count the header as line 1 (so data row ``i``, 0-based, is line ``i + 2``) because that
is what a user sees in an editor; Parquet has no lines, so its positions are 1-based rows.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

from ttquant.core.errors import ConfigError, DataError
from ttquant.data.columns import (
    NS_PER_UNIT,
    Locator,
    first_line,
    first_true,
    floats,
    readonly,
    timestamps_ns,
)

__all__ = ["OHLCV", "infer_step_ns", "load_ohlcv"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_A = TypeVar("_A", bound=np.ndarray[Any, Any])

_TIME_COLUMNS: Final = ("ts", "timestamp", "time", "date", "datetime", "open_time", "timestamp_utc")
# pandas writes an unnamed index as a nameless first column in CSV (backtesting.py's files) and
# as this column, after the others, in Parquet.
_PANDAS_INDEX: Final = "__index_level_0__"
_PRICE_COLUMNS: Final = ("open", "high", "low", "close")
_VOLUME_COLUMN: Final = "volume"


@dataclass(frozen=True, slots=True, eq=False)
class OHLCV:
    """Bars of one instrument as parallel arrays; the arrays are read-only and may be views.

    ``eq=False`` because element-wise ``==`` on arrays has no single truth value.
    """

    ts: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    source: str

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def slice_time(self, start_ns: int | None, end_ns: int | None) -> OHLCV:
        """Bars with ``start_ns <= ts < end_ns`` (``None`` = unbounded), as views, not copies."""
        lo = 0 if start_ns is None else int(np.searchsorted(self.ts, start_ns, side="left"))
        hi = len(self) if end_ns is None else int(np.searchsorted(self.ts, end_ns, side="left"))
        hi = max(lo, hi)
        return OHLCV(
            ts=self.ts[lo:hi],
            open=self.open[lo:hi],
            high=self.high[lo:hi],
            low=self.low[lo:hi],
            close=self.close[lo:hi],
            volume=self.volume[lo:hi],
            source=self.source,
        )


def load_ohlcv(
    path: str | Path,
    *,
    timestamp_column: str | None = None,
    timestamp_unit: str | None = None,
    timezone: str = "UTC",
) -> OHLCV:
    """Load and validate an OHLCV file; any defect raises :class:`DataError` naming file and line.

    ``timestamp_unit`` ("s", "ms", "us", "ns") overrides the unit detected from the magnitude of
    integer timestamps; ``timezone`` is the zone of timestamps written without an offset.
    """
    if timestamp_unit is not None and timestamp_unit not in NS_PER_UNIT:
        raise ConfigError(
            f"timestamp_unit must be one of {', '.join(NS_PER_UNIT)}; got {timestamp_unit!r}"
        )
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown timezone {timezone!r}") from exc

    source = str(path)
    loc = Locator(source, is_parquet=_is_parquet(source))
    read = _read_parquet if loc.is_parquet else _read_csv
    frame = read(loc, timestamp_column)
    if frame.height == 0:
        raise DataError(f"{source}: no data rows")

    ts = timestamps_ns(frame["ts"], timestamp_unit, timezone, loc)
    prices = [floats(frame[name], name, loc) for name in _PRICE_COLUMNS]
    volume = (
        floats(frame[_VOLUME_COLUMN], _VOLUME_COLUMN, loc)
        if _VOLUME_COLUMN in frame.columns
        else readonly(np.zeros(frame.height, dtype=np.float64))
    )
    open_, high, low, close = prices
    bars = OHLCV(ts, open_, high, low, close, volume, source)
    _check_values(bars, loc)
    return bars


def infer_step_ns(ts: I64) -> int:
    """The bar step as the most common positive gap, so that outages and weekends don't change it.

    Ties go to the smaller step.
    """
    if ts.shape[0] < 2:
        raise DataError(f"cannot infer the bar step from {ts.shape[0]} bar(s); need at least 2")
    diffs = np.diff(ts)
    diffs = diffs[diffs > 0]
    if diffs.shape[0] == 0:
        raise DataError("cannot infer the bar step: timestamps never increase")
    steps, counts = np.unique(diffs, return_counts=True)
    return int(steps[np.argmax(counts)])


# --------------------------------------------------------------------------- reading


def _is_parquet(source: str) -> bool:
    try:
        with open(source, "rb") as f:
            magic = f.read(4)
    except FileNotFoundError as exc:
        raise DataError(f"{source}: file not found") from exc
    except OSError as exc:
        raise DataError(f"{source}: cannot open: {exc.strerror}") from exc
    if not magic:
        raise DataError(f"{source}: empty file")
    return magic == b"PAR1"


def _read_csv(loc: Locator, timestamp_column: str | None) -> pl.DataFrame:
    """Read only the needed columns, renamed to ts, open, high, low, close[, volume].

    The fast path lets polars parse numbers; if any field fails to parse, the file is read again
    as text so that the conversion step can name the offending line.
    """
    try:
        header = pl.read_csv(loc.source, n_rows=0, infer_schema=False).columns
    except pl.exceptions.NoDataError as exc:
        raise loc.file_error("empty file") from exc
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise loc.file_error(f"unreadable as CSV: {first_line(exc)}") from exc
    if any("\ufffd" in name or "\x00" in name for name in header):
        # polars decodes the header leniently, so a binary file shows up as replacement characters.
        raise loc.file_error("unreadable as CSV: the header is not UTF-8 text (a binary file?)")
    wanted = _select_columns(header, timestamp_column, loc)
    float_cols = {name: pl.Float64 for name in wanted[1:]}
    try:
        frame = pl.read_csv(loc.source, columns=wanted, schema_overrides=float_cols)
    except (pl.exceptions.PolarsError, OSError):
        try:
            frame = pl.read_csv(loc.source, columns=wanted, infer_schema=False)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise _csv_unreadable(loc, len(header), exc) from exc
    return frame.rename(dict(zip(wanted, _canonical(wanted), strict=True)))


def _csv_unreadable(loc: Locator, n_columns: int, exc: BaseException) -> DataError:
    """Name the first line with more fields than the header: polars reports no position for it."""
    try:
        lines = pl.read_csv(
            loc.source, has_header=False, separator="\x1f", quote_char=None, infer_schema=False
        ).to_series()
    except (pl.exceptions.PolarsError, OSError):
        return loc.file_error(f"unreadable as CSV: {first_line(exc)}")
    fields = lines.str.replace_all(r'"[^"]*"', "").str.count_matches(",", literal=True) + 1
    too_many = (fields > n_columns).fill_null(False).to_numpy()
    if too_many.any():
        line = int(np.argmax(too_many)) + 1
        return loc.file_error(
            f"line {line}: {fields[line - 1]} fields but the header has {n_columns}"
        )
    return loc.file_error(f"unreadable as CSV: {first_line(exc)}")


def _read_parquet(loc: Locator, timestamp_column: str | None) -> pl.DataFrame:
    try:
        header = list(pl.read_parquet_schema(loc.source))
        wanted = _select_columns(header, timestamp_column, loc)
        frame = pl.read_parquet(loc.source, columns=wanted)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise loc.file_error(f"unreadable as Parquet: {first_line(exc)}") from exc
    return frame.rename(dict(zip(wanted, _canonical(wanted), strict=True)))


def _canonical(wanted: Sequence[str]) -> list[str]:
    return ["ts", *_PRICE_COLUMNS, _VOLUME_COLUMN][: len(wanted)]


def _select_columns(header: Sequence[str], timestamp_column: str | None, loc: Locator) -> list[str]:
    """Actual names of the time, O, H, L, C and (if any) volume columns, matched ignoring case."""
    by_lower: dict[str, str] = {}
    for name in header:
        by_lower.setdefault(name.strip().lower(), name)

    def missing(what: str) -> DataError:
        found = ", ".join(repr(h) for h in header)
        where = "" if loc.is_parquet else "line 1: "
        return loc.file_error(f"{where}missing column {what} (columns found: {found})")

    if timestamp_column is not None:
        if timestamp_column.strip().lower() not in by_lower:
            raise missing(repr(timestamp_column))
        time_col = by_lower[timestamp_column.strip().lower()]
    else:
        candidates = [by_lower[c] for c in (*_TIME_COLUMNS, _PANDAS_INDEX) if c in by_lower]
        if candidates:
            time_col = candidates[0]
        elif header and not header[0].strip():
            time_col = header[0]
        else:
            raise missing("for time (one of " + ", ".join(_TIME_COLUMNS) + ")")
    absent = [c for c in _PRICE_COLUMNS if c not in by_lower]
    if absent:
        raise missing(repr(absent[0]))
    wanted = [time_col, *(by_lower[c] for c in _PRICE_COLUMNS)]
    if _VOLUME_COLUMN in by_lower:
        wanted.append(by_lower[_VOLUME_COLUMN])
    return wanted


# --------------------------------------------------------------------------- validation


def _iso(ns: np.int64) -> str:
    t = np.datetime64(int(ns), "ns")
    return f"{t.astype('datetime64[s]') if ns % 10**9 == 0 else t}Z"


def _describe(template: str, *arrays: F64) -> Callable[[int], str]:
    """Message for row ``i``: ``template`` formatted with each array's value at ``i``."""
    return lambda i: template.format(*(a[i] for a in arrays))


def _check_values(bars: OHLCV, loc: Locator) -> None:
    """Raise for the earliest row that breaks any bar invariant (ties: the order listed below)."""
    o, h, lo, c, v, ts = bars.open, bars.high, bars.low, bars.close, bars.volume, bars.ts
    step = np.diff(ts)
    prices = {"open": o, "high": h, "low": lo, "close": c}
    checks = [(~np.isfinite(a), _describe(n + " is {} (not finite)", a)) for n, a in prices.items()]
    checks += [(~np.isfinite(v), _describe("volume is {} (not finite)", v))]
    checks += [(a <= 0, _describe(n + " {} is not positive", a)) for n, a in prices.items()]
    hi_oc, lo_oc = np.maximum(o, c), np.minimum(o, c)
    checks += [
        (h < lo, _describe("high {} < low {}", h, lo)),
        (h < hi_oc, _describe("high {} < max(open, close) = {}", h, hi_oc)),
        (lo > lo_oc, _describe("low {} > min(open, close) = {}", lo, lo_oc)),
        (v < 0, _describe("volume {} is negative", v)),
        (
            np.concatenate(([False], step < 0)),
            lambda i: (
                f"timestamp {_iso(ts[i])} is earlier than {_iso(ts[i - 1])} on "
                f"{loc.at(i - 1)} (timestamps must increase)"
            ),
        ),
        (
            np.concatenate(([False], step == 0)),
            lambda i: f"duplicate timestamp {_iso(ts[i])} (same as {loc.at(i - 1)})",
        ),
    ]
    found = [
        (row, k) for k, (mask, _) in enumerate(checks) if (row := first_true(mask)) is not None
    ]
    if found:
        row, k = min(found)
        raise loc.error(row, checks[k][1](row))


def infer_price_increment(bars: OHLCV, max_decimals: int = 10, sample: int = 250_000) -> float:
    """The coarsest decimal tick (1, 0.1, 0.01, ...) on which the prices of ``bars`` lie.

    Files carry no instrument rules; the tick they were quoted in is the best default for
    validating orders against them. An evenly spaced sample of the prices decides, so a file of
    millions of bars costs milliseconds.
    """
    step = max(1, len(bars) // max(1, sample // 4))
    prices = np.concatenate(
        [bars.open[::step], bars.high[::step], bars.low[::step], bars.close[::step]]
    )
    for decimals in range(max_decimals + 1):
        scaled = prices * 10.0**decimals
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return float(10.0**-decimals)
    return float(10.0**-max_decimals)
