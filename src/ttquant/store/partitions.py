"""Calendar months as nanosecond ranges: the unit of partitioning and retention.

PostgreSQL range partitions hold one UTC month each, ``[first ns of the month, first ns of the
next)``, named ``<table>_pYYYYMM`` so that a listing sorts by time. Retention keeps whole months
on every backend, so SQLite and PostgreSQL expire exactly the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np

from ttquant.core.time import NANOS_PER_SECOND, datetime_to_ns


class Month(NamedTuple):
    year: int
    month: int

    @property
    def start_ns(self) -> int:
        return datetime_to_ns(datetime(self.year, self.month, 1, tzinfo=UTC))

    @property
    def end_ns(self) -> int:
        """First nanosecond of the next month (exclusive bound)."""
        return self.next().start_ns

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def shifted(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def partition_name(self, table: str) -> str:
        return f"{table}_p{self.year:04d}{self.month:02d}"


def month_of(ns: int) -> Month:
    """The UTC month containing ``ns``."""
    dt = datetime.fromtimestamp(ns // NANOS_PER_SECOND, tz=UTC)
    return Month(dt.year, dt.month)


def months_of(times_ns: Sequence[int]) -> list[Month]:
    """The distinct months holding ``times_ns``, in order (vectorized: a batch can be large)."""
    months = np.unique(
        np.asarray(times_ns, dtype=np.int64).astype("datetime64[ns]").astype("datetime64[M]")
    )
    return [Month(1970 + int(m) // 12, int(m) % 12 + 1) for m in months.astype(np.int64)]


def parse_partition_name(name: str, table: str) -> Month | None:
    """The month of a partition called ``<table>_pYYYYMM``; None for any other name."""
    prefix = f"{table}_p"
    digits = name[len(prefix) :]
    if not name.startswith(prefix) or len(digits) != 6 or not digits.isdigit():
        return None
    month = Month(int(digits[:4]), int(digits[4:]))
    return month if 1 <= month.month <= 12 else None


def retention_cutoff(keep_months: int, now_ns: int) -> int:
    """First nanosecond kept when keeping the current month and ``keep_months - 1`` before it."""
    return month_of(now_ns).shifted(1 - keep_months).start_ns
