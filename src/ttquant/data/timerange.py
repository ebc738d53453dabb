"""Backtest time ranges written the way freqtrade users already write them.

``START-END`` where each side is a UTC date ``YYYYMMDD``, epoch seconds (10 digits) or epoch
milliseconds (13 digits), and either side may be left out for an open end. The range is half-open,
``[start, end)``, so that consecutive ranges such as ``20240101-20240201`` and
``20240201-20240301`` never share a bar.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from ttquant.core.errors import ConfigError

__all__ = ["parse_timerange"]

_RANGE_RE: Final = re.compile(r"(\d*)-(\d*)")
_NS_PER_DIGITS: Final = {10: 10**9, 13: 10**6}


def parse_timerange(text: str) -> tuple[int | None, int | None]:
    """``(start_ns, end_ns)`` in UTC nanoseconds, ``None`` for an open end."""
    match = _RANGE_RE.fullmatch(text.strip())
    if match is None or not (match.group(1) or match.group(2)):
        raise ConfigError(
            f"invalid time range {text!r}: expected START-END, START- or -END with dates "
            "YYYYMMDD or epoch seconds, e.g. 20240101-20240301"
        )
    start, end = (_bound(part, text) if part else None for part in match.groups())
    if start is not None and end is not None and start >= end:
        raise ConfigError(f"invalid time range {text!r}: the start is not before the end")
    return start, end


def _bound(part: str, text: str) -> int:
    if len(part) == 8:
        try:
            day = datetime.strptime(part, "%Y%m%d").replace(tzinfo=UTC)
        except ValueError:
            raise ConfigError(f"invalid time range {text!r}: {part} is not a date") from None
        return int(day.timestamp()) * 10**9
    if len(part) in _NS_PER_DIGITS:
        return int(part) * _NS_PER_DIGITS[len(part)]
    raise ConfigError(
        f"invalid time range {text!r}: {part!r} is neither a date YYYYMMDD nor epoch "
        "seconds (10 digits) or milliseconds (13 digits)"
    )
