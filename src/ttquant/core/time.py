"""Time as int64 nanoseconds since the Unix epoch, UTC.

One integer representation everywhere (events, bars, clocks, stored records) avoids timezone and
float-rounding bugs and matches what exchanges and Parquet give us.
"""

from __future__ import annotations

from datetime import UTC, datetime

NANOS_PER_MICRO = 1_000
NANOS_PER_MILLI = 1_000_000
NANOS_PER_SECOND = 1_000_000_000
NANOS_PER_MINUTE = 60 * NANOS_PER_SECOND
NANOS_PER_HOUR = 60 * NANOS_PER_MINUTE
NANOS_PER_DAY = 24 * NANOS_PER_HOUR


def ns_to_datetime(ns: int) -> datetime:
    """The UTC datetime of ``ns`` (microsecond precision, as datetime allows)."""
    return datetime.fromtimestamp(ns // NANOS_PER_SECOND, tz=UTC).replace(
        microsecond=(ns % NANOS_PER_SECOND) // NANOS_PER_MICRO
    )


def ns_to_iso(ns: int) -> str:
    """ISO 8601 UTC text such as ``2024-01-01T00:00:00Z``; sub-second digits only when present."""
    dt = ns_to_datetime(ns)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    rest = ns % NANOS_PER_SECOND
    if rest:
        text += f".{rest:09d}".rstrip("0")
    return text + "Z"


def datetime_to_ns(dt: datetime) -> int:
    """Nanoseconds of an aware datetime; naive datetimes are taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NANOS_PER_SECOND + delta.microseconds * 1_000
