"""Columns of market data files turned into numpy arrays, with errors a user can act on.

Every importer passes its columns through here, so a bad field is reported the same way whatever
the format: the file, the line (or Parquet row) and what is wrong with the value. Epoch timestamps
may be in s, ms, us or ns; without an explicit unit each value's magnitude tells its unit, and a
file that mixes units is refused rather than silently misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

from ttquant.core.errors import DataError

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_A = TypeVar("_A", bound=np.ndarray[Any, Any])

NS_PER_UNIT: Final = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
# Epoch magnitudes seen in practice are ~1e9 (s), ~1e12 (ms), ~1e15 (us), ~1e18 (ns); the
# boundaries sit halfway (in decades) between them, so any date from 1973 to 5138 is classified
# correctly whatever its unit.
_UNIT_BOUNDS: Final = np.array([10**11, 10**14, 10**17], dtype=np.int64)
_UNITS_BY_MAGNITUDE: Final = ("s", "ms", "us", "ns")
_UNIT_NAMES: Final = {
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
}

_INT_RE: Final = re.compile(r"[+-]?\d+")


@dataclass(frozen=True, slots=True)
class Locator:
    """Turns a 0-based data row into the position a user can find in the file.

    Text files count lines from 1 including the header (what an editor shows); files without
    lines (Parquet, Feather, JSON arrays) count rows from 1.
    """

    source: str
    is_parquet: bool  # positions are rows, not lines
    header: bool = True  # the text file's first line is a header

    def at(self, row: int) -> str:
        if self.is_parquet:
            return f"row {row + 1}"
        return f"line {row + 2 if self.header else row + 1}"

    def error(self, row: int, problem: str) -> DataError:
        return DataError(f"{self.source}: {self.at(row)}: {problem}")

    def file_error(self, problem: str) -> DataError:
        return DataError(f"{self.source}: {problem}")


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def readonly(array: _A) -> _A:
    array.flags.writeable = False
    return array


def first_true(mask: npt.NDArray[np.bool_]) -> int | None:
    """Index of the first True, or None (numpy's argmax on booleans stops at the first True)."""
    i = int(np.argmax(mask))
    return i if mask.shape[0] and mask[i] else None


def first_null(series: pl.Series) -> int | None:
    """Index of the first null; the null count is free, so clean columns cost nothing."""
    return first_true(series.is_null().to_numpy()) if series.null_count() else None


def floats(column: pl.Series, name: str, loc: Locator) -> F64:
    """Float64 values of a price/volume column; names the first field that is not a number."""
    if column.dtype == pl.String:
        text = column.str.strip_chars()
        values = text.cast(pl.Float64, strict=False)
        bad = first_true((values.is_null() & text.is_not_null() & (text != "")).to_numpy())
        if bad is not None:
            raise loc.error(bad, f"{name} {column[bad]!r} is not a number")
    elif column.dtype.is_numeric():
        values = column.cast(pl.Float64)
    else:
        raise loc.file_error(f"column {name!r} has type {column.dtype}; expected numbers")
    missing = first_null(values)
    if missing is not None:
        raise loc.error(missing, f"missing {name}")
    return readonly(np.ascontiguousarray(values.to_numpy()))


def timestamps_ns(column: pl.Series, unit: str | None, timezone: str, loc: Locator) -> I64:
    """Int64 ns UTC from epoch integers, ISO text or a Parquet date/datetime column."""
    missing = first_null(column)
    if missing is not None:
        raise loc.error(missing, "missing timestamp")
    dtype = column.dtype
    if dtype == pl.String:
        text = column.str.strip_chars()
        if _INT_RE.fullmatch(text[0]):
            ints = text.cast(pl.Int64, strict=False)
            bad = first_null(ints)
            if bad is not None:
                raise loc.error(bad, f"unparseable timestamp {column[bad]!r} (expected an integer)")
            return epoch_ns(ints.to_numpy(), unit, loc)
        return _iso_ns(text, column, timezone, loc)
    if dtype.is_integer():
        return epoch_ns(column.cast(pl.Int64).to_numpy(), unit, loc)
    if dtype == pl.Date:
        return _datetimes_ns(column.cast(pl.Datetime("ns")), column, timezone, loc)
    if isinstance(dtype, pl.Datetime):
        return _datetimes_ns(column, column, timezone, loc)
    raise loc.file_error(
        f"timestamp column has type {dtype}; expected integers, ISO 8601 text or datetimes"
    )


def epoch_ns(values: I64, unit: str | None, loc: Locator) -> I64:
    """Scale epoch integers to ns; without an explicit unit each value's magnitude tells its unit,
    and a value whose unit differs from the majority's is an error rather than a silent misread."""
    if unit is None:
        classes = np.searchsorted(_UNIT_BOUNDS, np.abs(values), side="right")
        majority = int(np.argmax(np.bincount(classes)))
        unit = _UNITS_BY_MAGNITUDE[majority]
        odd = first_true(classes != majority)
        if odd is not None:
            odd_unit = _UNIT_NAMES[_UNITS_BY_MAGNITUDE[classes[odd]]]
            raise loc.error(
                odd,
                f"timestamp {values[odd]} looks like {odd_unit}"
                f" but most timestamps are in {_UNIT_NAMES[unit]} (mixed units)",
            )
    factor = NS_PER_UNIT[unit]
    limit = np.iinfo(np.int64).max // factor
    out_of_range = first_true(np.abs(values) > limit)
    if out_of_range is not None:
        raise loc.error(
            out_of_range,
            f"timestamp {values[out_of_range]} in {_UNIT_NAMES[unit]} is outside 1677..2262",
        )
    return readonly(values * factor) if factor != 1 else readonly(np.ascontiguousarray(values))


def _iso_ns(text: pl.Series, original: pl.Series, timezone: str, loc: Locator) -> I64:
    try:
        parsed = text.str.to_datetime(time_unit="ns", strict=False)
    except pl.exceptions.PolarsError:
        # polars guesses the format from the first value; if it can't, that value is the culprit.
        raise loc.error(0, f"unparseable timestamp {original[0]!r}") from None
    bad = first_null(parsed)
    if bad is not None:
        raise loc.error(bad, f"unparseable timestamp {original[bad]!r}")
    return _datetimes_ns(parsed, original, timezone, loc)


def _datetimes_ns(parsed: pl.Series, original: pl.Series, timezone: str, loc: Locator) -> I64:
    """UTC ns of a datetime series; naive values are wall-clock times in ``timezone``."""
    dtype = parsed.dtype
    assert isinstance(dtype, pl.Datetime)
    if dtype.time_zone is None:
        parsed = parsed.dt.replace_time_zone(timezone, ambiguous="null", non_existent="null")
        bad = first_null(parsed)
        if bad is not None:
            raise loc.error(
                bad, f"local time {original[bad]!r} is ambiguous or does not exist in {timezone}"
            )
    utc = parsed.dt.convert_time_zone("UTC").dt.cast_time_unit("ns")
    return readonly(np.ascontiguousarray(utc.to_physical().to_numpy()))
