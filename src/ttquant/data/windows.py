"""Time windows of time bars: where each bar starts and ends.

Both aggregators (streaming and batch) ask this one module, so they cannot disagree about a
boundary. Sub-day steps are aligned to the Unix epoch in UTC (an hour starts at :00). Weekly
steps start on Monday 00:00, as exchanges' weekly candles do (the epoch was a Thursday). Steps of
whole days may instead follow an exchange's calendar: days in the exchange's time zone, starting
``day_offset`` after local midnight (CME's trading day starts 17:00 in Chicago: ``day_offset`` =
-7h), so such a day lasts 23 or 25 hours across a daylight-saving change.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from ttquant.core.errors import ConfigError
from ttquant.core.time import NANOS_PER_DAY, NANOS_PER_SECOND

_WEEK: Final = 7 * NANOS_PER_DAY
_MONDAY: Final = 4 * NANOS_PER_DAY  # 1970-01-05, the first Monday after the epoch
_EPOCH_DATE: Final = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class TimeWindows:
    """The windows of bars of ``step`` ns; ``timezone`` and ``day_offset`` apply to whole days."""

    step: int
    timezone: str = "UTC"
    day_offset: int = 0
    _zone: zoneinfo.ZoneInfo | None = field(init=False, repr=False, compare=False)
    _origin: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.step <= 0:
            raise ConfigError(f"bar step must be positive, got {self.step} ns")
        whole_days = self.step % NANOS_PER_DAY == 0
        if (self.timezone != "UTC" or self.day_offset) and not whole_days:
            raise ConfigError(
                "a time zone or day offset applies to bars of whole days (1d, 1w, ...), "
                f"not to a step of {self.step} ns"
            )
        if abs(self.day_offset) >= NANOS_PER_DAY or self.day_offset % NANOS_PER_SECOND:
            raise ConfigError("the day offset must be whole seconds, less than a day either way")
        try:
            zone = None if self.timezone == "UTC" else zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"unknown time zone {self.timezone!r}") from exc
        object.__setattr__(self, "_zone", zone)
        origin = (_MONDAY if self.step % _WEEK == 0 else 0) + self.day_offset
        object.__setattr__(self, "_origin", origin)

    @property
    def is_fixed(self) -> bool:
        """True when every window lasts exactly ``step`` (no time zone with daylight saving)."""
        return self._zone is None

    def window(self, ts: int) -> tuple[int, int]:
        """``(start, end)`` in ns of the window holding ``ts``: ``start <= ts < end``."""
        if self._zone is None:
            start = ts - (ts - self._origin) % self.step
            return start, start + self.step
        days = self.step // NANOS_PER_DAY
        first = 4 if self.step % _WEEK == 0 else 0
        offset = timedelta(microseconds=self.day_offset // 1000)
        local = datetime.fromtimestamp(ts // NANOS_PER_SECOND, self._zone).replace(tzinfo=None)
        day = (local - offset).date()
        index = (day - _EPOCH_DATE).days
        start_day = _EPOCH_DATE + timedelta(days=index - (index - first) % days)
        start = self._local_ns(start_day, offset)
        if ts < start:  # a wall-clock day start moved by DST: ts belongs to the day before
            start_day -= timedelta(days=days)
            start = self._local_ns(start_day, offset)
        end = self._local_ns(start_day + timedelta(days=days), offset)
        if ts >= end:
            return self.window(end)
        return start, end

    def starts(self, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Window start of each of the sorted timestamps ``ts``, vectorized."""
        if self._zone is None:
            return ts - (ts - self._origin) % self.step
        if ts.shape[0] == 0:
            return ts.copy()
        bounds = self._bounds(int(ts[0]), int(ts[-1]))
        return bounds[np.searchsorted(bounds, ts, side="right") - 1]

    def ends(self, starts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The end of each window given its start."""
        if self._zone is None:
            return starts + self.step
        if starts.shape[0] == 0:
            return starts.copy()
        bounds = self._bounds(int(starts[0]), int(starts[-1]))
        return bounds[np.searchsorted(bounds, starts, side="right")]

    def _bounds(self, first: int, last: int) -> npt.NDArray[np.int64]:
        """Every window start from the window of ``first`` to the end of the window of ``last``."""
        start, end = self.window(first)
        bounds = [start]
        while end <= last:
            start, end = self.window(end)
            bounds.append(start)
        bounds.append(end)
        return np.array(bounds, dtype=np.int64)

    def _local_ns(self, day: date, offset: timedelta) -> int:
        """UTC ns of ``offset`` after midnight of ``day`` on the wall clock of the zone."""
        assert self._zone is not None
        naive = datetime(day.year, day.month, day.day) + offset
        aware = naive.replace(tzinfo=self._zone)  # fold=0: the earlier of two repeated times
        if aware.astimezone(UTC).astimezone(self._zone).replace(tzinfo=None) != naive:
            raise ConfigError(
                f"the day start {naive.isoformat()} does not exist in {self.timezone} "
                "(skipped by a daylight-saving change); choose another day offset"
            )
        delta = aware.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * NANOS_PER_SECOND
