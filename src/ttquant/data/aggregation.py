"""Streaming aggregation of time bars into longer time bars (1m → 5m, 1h, 1d, ...).

The same aggregator runs in every mode: it listens to the lower bars on the bus and publishes
each higher bar once the lower bar that ends its window arrives, so a strategy sees the hour's
bar at the hour's close, never earlier. Windows are aligned to the Unix epoch in UTC (an hour
starts at :00, a day at 00:00 UTC). When the data has a gap, the window is published with the
first lower bar after it, stamped with its own close time, and listed in ``incomplete``. When the
data starts inside a window, that first partial window is skipped: it would look like a full bar.
"""

from __future__ import annotations

from collections.abc import Callable

from ttquant.core.errors import ConfigError
from ttquant.model.data import Bar, BarType


class TimeBarAggregator:
    """Build ``target`` bars from ``source`` bars of the same instrument."""

    def __init__(self, source: BarType, target: BarType, publish: Callable[[Bar], None]) -> None:
        if source.instrument_id != target.instrument_id:
            raise ConfigError(f"cannot aggregate {source} into {target}: different instruments")
        if target.step <= source.step or target.step % source.step:
            raise ConfigError(
                f"cannot aggregate {source} into {target}: the target step must be a multiple "
                "of the source step"
            )
        self.source = source
        self.target = target
        self._publish = publish
        self._start = -1  # open time of the window being built; -1 when none
        self._open = self._high = self._low = self._close = self._volume = 0.0
        self._count = 0
        self._skip_until = -1  # the data started inside this window's predecessor
        self.incomplete: list[Bar] = []  # windows published without all their lower bars

    def handle_bar(self, bar: Bar) -> None:
        step = self.target.step
        start = bar.ts_event - bar.ts_event % step
        if self._skip_until == -1:  # the first bar seen
            self._skip_until = start + step if bar.ts_event != start else start
        if bar.ts_event < self._skip_until:
            return
        if self._start >= 0 and start != self._start:
            self._emit(complete=False)  # a gap: the previous window never saw its last bar
        if self._start < 0:
            self._start = start
            self._open, self._high, self._low = bar.open, bar.high, bar.low
            self._volume = 0.0
            self._count = 0
        else:
            self._high = max(self._high, bar.high)
            self._low = min(self._low, bar.low)
        self._close = bar.close
        self._volume += bar.volume
        self._count += 1
        if bar.ts_init >= start + step:
            self._emit(complete=self._count * self.source.step == step)

    def _emit(self, complete: bool) -> None:
        bar = Bar(
            self.target,
            self._open,
            self._high,
            self._low,
            self._close,
            self._volume,
            self._start,
            self._start + self.target.step,
        )
        self._start = -1
        if not complete:
            self.incomplete.append(bar)
        self._publish(bar)
