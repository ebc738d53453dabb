"""Every kind of bad bar file fails with one line naming the file, the line and the problem.

The files are built by hand so that the offending line number is known independently of the code.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttquant.core.errors import ConfigError, DataError
from ttquant.data.bars import load_ohlcv

WriteCsv = Callable[[Sequence[Sequence[object]]], Path]
HEADER: list[object] = ["ts", "open", "high", "low", "close", "volume"]
# 2024-01-01 00:00, 00:01, 00:02, 00:03 UTC in epoch ms.
GOOD_ROWS: list[list[object]] = [
    [1704067200000, 100, 101, 99, 100.5, 10],
    [1704067260000, 100.5, 102, 100, 101, 12],
    [1704067320000, 101, 101.5, 100.5, 101, 0],
    [1704067380000, 101, 103, 100.8, 102.5, 7],
]


def rows_with(line: int, column: str, value: object) -> list[list[object]]:
    """The good file with one field replaced; ``line`` counts the header as line 1."""
    rows = [list(HEADER), *(list(r) for r in GOOD_ROWS)]
    rows[line - 1][HEADER.index(column)] = value
    return rows


def error_of(path: Path, **kwargs: str) -> str:
    with pytest.raises(DataError) as info:
        load_ohlcv(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_good_file_loads(write_csv: WriteCsv) -> None:
    bars = load_ohlcv(write_csv([HEADER, *GOOD_ROWS]))
    assert len(bars) == 4


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    assert error_of(path) == f"{path}: file not found"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert error_of(path) == f"{path}: empty file"


def test_empty_gzip(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv.gz"
    path.write_bytes(gzip.compress(b""))
    assert error_of(path) == f"{path}: empty file"


def test_header_without_rows(write_csv: WriteCsv) -> None:
    path = write_csv([HEADER])
    assert error_of(path) == f"{path}: no data rows"


def test_truncated_gzip(tmp_path: Path, shared_data: Path) -> None:
    real = shared_data / "bars_1m" / "binance_spot_BTCUSDT_1m_2022-2024.csv.gz"
    with real.open("rb") as f:
        head = f.read(200_000)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(head)
    assert error_of(path).startswith(f"{path}: unreadable as CSV: ")


def test_not_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "picture.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    assert error_of(path).startswith(f"{path}: unreadable as CSV: ")


def test_line_with_extra_field(write_csv: WriteCsv) -> None:
    rows = [HEADER, *GOOD_ROWS]
    rows[3] = [*rows[3], 99]
    path = write_csv(rows)
    assert error_of(path) == f"{path}: line 4: 7 fields but the header has 6"


def test_missing_price_column(write_csv: WriteCsv) -> None:
    path = write_csv([[r[0], r[1], r[2], r[4], r[5]] for r in [HEADER, *GOOD_ROWS]])
    assert error_of(path) == (
        f"{path}: line 1: missing column 'low' "
        "(columns found: 'ts', 'open', 'high', 'close', 'volume')"
    )


def test_missing_time_column(write_csv: WriteCsv) -> None:
    path = write_csv([["when", *HEADER[1:]], *GOOD_ROWS])
    message = error_of(path)
    assert message.startswith(f"{path}: line 1: missing column for time (one of ts, timestamp,")
    assert "columns found: 'when', 'open'" in message


def test_missing_named_time_column(write_csv: WriteCsv) -> None:
    path = write_csv([HEADER, *GOOD_ROWS])
    assert error_of(path, timestamp_column="Stamp").startswith(
        f"{path}: line 1: missing column 'Stamp' (columns found: 'ts',"
    )


def test_non_numeric_value(write_csv: WriteCsv) -> None:
    path = write_csv(rows_with(3, "high", "abc"))
    assert error_of(path) == f"{path}: line 3: high 'abc' is not a number"


def test_non_numeric_value_after_schema_inference_window(write_csv: WriteCsv) -> None:
    step = 60_000
    rows: list[list[object]] = [[1704067200000 + i * step, 1, 2, 0.5, 1.5, 3] for i in range(500)]
    rows[400][5] = "n/a"
    path = write_csv([HEADER, *rows])
    assert error_of(path) == f"{path}: line 402: volume 'n/a' is not a number"


def test_nan_price(write_csv: WriteCsv) -> None:
    path = write_csv(rows_with(4, "close", "NaN"))
    assert error_of(path) == f"{path}: line 4: close is nan (not finite)"


def test_infinite_price(write_csv: WriteCsv) -> None:
    path = write_csv(rows_with(5, "low", "-inf"))
    assert error_of(path) == f"{path}: line 5: low is -inf (not finite)"


def test_missing_price(write_csv: WriteCsv) -> None:
    path = write_csv(rows_with(3, "open", ""))
    assert error_of(path) == f"{path}: line 3: missing open"


def test_blank_line_counts_as_a_line(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    lines = [",".join(map(str, r)) for r in [HEADER, *GOOD_ROWS]]
    path.write_text("\n".join([*lines[:3], "", *lines[3:]]) + "\n")
    assert error_of(path) == f"{path}: line 4: missing timestamp"


@pytest.mark.parametrize("value", [0, -1.5])
def test_non_positive_price(write_csv: WriteCsv, value: float) -> None:
    path = write_csv(rows_with(2, "low", value))
    assert error_of(path) == f"{path}: line 2: low {float(value)} is not positive"


def test_high_below_low(write_csv: WriteCsv) -> None:
    rows = rows_with(3, "high", 99.5)  # low on line 3 is 100
    path = write_csv(rows)
    assert error_of(path) == f"{path}: line 3: high 99.5 < low 100.0"


def test_high_below_open_or_close(write_csv: WriteCsv) -> None:
    path = write_csv(rows_with(5, "high", 102))  # close on line 5 is 102.5
    assert error_of(path) == f"{path}: line 5: high 102.0 < max(open, close) = 102.5"


def test_low_above_open_or_close(write_csv: WriteCsv) -> None:
    path = write_csv(rows_with(2, "low", 100.2))  # open on line 2 is 100
    assert error_of(path) == f"{path}: line 2: low 100.2 > min(open, close) = 100.0"


def test_negative_volume(write_csv: WriteCsv) -> None:
    path = write_csv(rows_with(4, "volume", -3))
    assert error_of(path) == f"{path}: line 4: volume -3.0 is negative"


def test_unsorted_timestamps(write_csv: WriteCsv) -> None:
    path = write_csv(rows_with(4, "ts", 1704067230000))  # 00:00:30, after 00:01 on line 3
    assert error_of(path) == (
        f"{path}: line 4: timestamp 2024-01-01T00:00:30Z is earlier than "
        "2024-01-01T00:01:00Z on line 3 (timestamps must increase)"
    )


def test_duplicate_timestamps(write_csv: WriteCsv) -> None:
    path = write_csv(rows_with(5, "ts", 1704067320000))
    assert error_of(path) == (
        f"{path}: line 5: duplicate timestamp 2024-01-01T00:02:00Z (same as line 4)"
    )


def test_unparseable_iso_timestamp(write_csv: WriteCsv) -> None:
    rows = [[HEADER[0], *HEADER[1:]]]
    days = ["2024-01-01", "2024-01-02", "2024-01-3x", "2024-01-04"]
    rows += [[day, *r[1:]] for day, r in zip(days, GOOD_ROWS, strict=True)]
    path = write_csv(rows)
    assert error_of(path) == f"{path}: line 4: unparseable timestamp '2024-01-3x'"


def test_impossible_date(write_csv: WriteCsv) -> None:
    rows = [[HEADER[0], *HEADER[1:]]]
    days = ["2024-01-30", "2024-01-31", "2024-02-30", "2024-03-01"]
    rows += [[day, *r[1:]] for day, r in zip(days, GOOD_ROWS, strict=True)]
    path = write_csv(rows)
    assert error_of(path) == f"{path}: line 4: unparseable timestamp '2024-02-30'"


def test_unparseable_first_timestamp(write_csv: WriteCsv) -> None:
    path = write_csv(rows_with(2, "ts", "yesterday"))
    assert error_of(path) == f"{path}: line 2: unparseable timestamp 'yesterday'"


def test_text_among_integer_timestamps(write_csv: WriteCsv) -> None:
    path = write_csv(rows_with(3, "ts", "2024-01-01T00:01:00Z"))
    assert error_of(path) == (
        f"{path}: line 3: unparseable timestamp '2024-01-01T00:01:00Z' (expected an integer)"
    )


def test_mixed_timestamp_units(write_csv: WriteCsv) -> None:
    path = write_csv(rows_with(4, "ts", 1704067320))  # seconds among milliseconds
    assert error_of(path) == (
        f"{path}: line 4: timestamp 1704067320 looks like seconds but most timestamps are "
        "in milliseconds (mixed units)"
    )


def test_timestamp_out_of_range_for_explicit_unit(write_csv: WriteCsv) -> None:
    path = write_csv([HEADER, *GOOD_ROWS])
    assert error_of(path, timestamp_unit="s") == (
        f"{path}: line 2: timestamp 1704067200000 in seconds is outside 1677..2262"
    )


def test_nonexistent_local_time(write_csv: WriteCsv) -> None:
    # 2021-03-14 02:30 was skipped in New York (clocks jumped from 02:00 to 03:00).
    times = ["2021-03-14 00:30", "2021-03-14 01:30", "2021-03-14 02:30", "2021-03-14 03:30"]
    rows = [HEADER, *([t, *r[1:]] for t, r in zip(times, GOOD_ROWS, strict=True))]
    path = write_csv(rows)
    assert error_of(path, timezone="America/New_York") == (
        f"{path}: line 4: local time '2021-03-14 02:30' is ambiguous or does not exist "
        "in America/New_York"
    )


def test_parquet_positions_are_rows(tmp_path: Path) -> None:
    frame = pl.DataFrame([dict(zip(HEADER, r, strict=True)) for r in GOOD_ROWS])
    frame = frame.with_columns(pl.col("high").cast(pl.Float64))
    frame[2, "high"] = 99.0  # third row: low is 100.5
    path = tmp_path / "bars.parquet"
    frame.write_parquet(path)
    assert error_of(path) == f"{path}: row 3: high 99.0 < low 100.5"


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    assert error_of(path).startswith(f"{path}: unreadable as Parquet: ")


def test_earliest_line_wins_across_problems(write_csv: WriteCsv) -> None:
    rows = rows_with(5, "high", 1)  # high < low on line 5 ...
    rows[2][HEADER.index("volume")] = -1  # ... but negative volume on line 3 comes first
    path = write_csv(rows)
    assert error_of(path) == f"{path}: line 3: volume -1.0 is negative"


def test_bad_options_are_config_errors(write_csv: WriteCsv) -> None:
    path = write_csv([HEADER, *GOOD_ROWS])
    with pytest.raises(ConfigError, match="timestamp_unit must be one of s, ms, us, ns"):
        load_ohlcv(path, timestamp_unit="minutes")
    with pytest.raises(ConfigError, match="unknown timezone 'Mars/Olympus'"):
        load_ohlcv(path, timezone="Mars/Olympus")


DEFECTS = {
    # column, bad value, words the message must contain
    "nan": ("open", "nan", "open is nan"),
    "zero": ("close", 0, "close 0.0 is not positive"),
    "text": ("low", "x1", "low 'x1' is not a number"),
    "inverted": ("high", 0.25, "high 0.25 < low"),
    "negative volume": ("volume", -2, "volume -2.0 is negative"),
    "duplicate": ("ts", None, "duplicate timestamp"),
}


@settings(max_examples=30, deadline=None)
@given(
    n_rows=st.integers(2, 300),
    data=st.data(),
    defect=st.sampled_from(sorted(DEFECTS)),
)
def test_any_single_defect_is_found_on_its_line(
    tmp_path_factory: pytest.TempPathFactory, n_rows: int, data: st.DataObject, defect: str
) -> None:
    """A defect planted on any line of an otherwise valid file is reported on exactly that line."""
    row = data.draw(st.integers(1, n_rows - 1), label="row")
    bars: list[list[object]] = [
        [1_600_000_000 + 3_600 * i, 1.0, 2.0, 0.5, 1.5, 10] for i in range(n_rows)
    ]
    column, value, words = DEFECTS[defect]
    bars[row][HEADER.index(column)] = bars[row - 1][0] if value is None else value
    path = tmp_path_factory.mktemp("defect") / "bars.csv"
    path.write_text("\n".join(",".join(map(str, r)) for r in [HEADER, *bars]) + "\n")
    message = error_of(path)
    assert re.fullmatch(rf"{re.escape(str(path))}: line {row + 2}: .+", message), message
    assert words in message
