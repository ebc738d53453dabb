"""Streaming aggregation: trade ticks into bars, and time bars into longer time bars.

The same aggregators run in every mode: they listen to ticks or lower bars on the bus and publish
each bar once it is over, so a strategy sees the hour's bar at the hour's close, never earlier.
:mod:`ttquant.data.batch_aggregation` builds the same bars from whole columns, with the same
windows (:mod:`ttquant.data.windows`) and the same floating-point operations in the same order,
so the two give identical bars.

A bar is ``complete`` when it saw all of its data: a time window that the data covered from start
to end, a tick/volume/value bar that reached its size. A window cut by a gap or by the end of the
data is published with ``complete=False`` (and a lower-bar window cut by a gap also goes to
``incomplete``). When lower bars start inside a window, that first partial window is skipped: it
would look like a full bar.
"""

from __future__ import annotations

from collections.abc import Callable

from ttquant.core.errors import ConfigError
from ttquant.data.windows import TimeWindows
from ttquant.model.data import Bar, BarType, TradeTick
from ttquant.model.enums import BarAggregation

__all__ = ["TimeBarAggregator", "TradeBarAggregator", "trade_bar_aggregator"]

_NONE = -(2**63)  # "no window open"


class TimeBarAggregator:
    """Build ``target`` bars from ``source`` bars of the same instrument."""

    def __init__(
        self,
        source: BarType,
        target: BarType,
        publish: Callable[[Bar], None],
        *,
        timezone: str = "UTC",
        day_offset: int = 0,
    ) -> None:
        if source.instrument_id != target.instrument_id:
            raise ConfigError(f"cannot aggregate {source} into {target}: different instruments")
        if target.step <= source.step or target.step % source.step:
            raise ConfigError(
                f"cannot aggregate {source} into {target}: the target step must be a multiple "
                "of the source step"
            )
        self.source = source
        self.target = target
        self._windows = TimeWindows(target.step, timezone, day_offset)
        self._publish = publish
        self._start = self._end = _NONE  # the window being built
        self._open = self._high = self._low = self._close = self._volume = 0.0
        self._covered = 0  # ns of the window covered by the lower bars seen
        self._all_complete = True
        self._skip_until = _NONE  # the data started inside this window's predecessor
        self.incomplete: list[Bar] = []  # windows published without all their lower bars

    def handle_bar(self, bar: Bar) -> None:
        ts = bar.ts_event
        if ts >= self._end or ts < self._start:
            start, end = self._windows.window(ts)
        else:
            start, end = self._start, self._end
        if self._skip_until == _NONE:  # the first bar seen
            self._skip_until = end if ts != start else start
        if ts < self._skip_until:
            return
        if self._start not in (_NONE, start):
            self._emit(complete=False)  # a gap: the previous window never saw its last bar
        if self._start == _NONE:
            self._start, self._end = start, end
            self._open, self._high, self._low = bar.open, bar.high, bar.low
            self._volume = 0.0
            self._covered = 0
            self._all_complete = True
        else:
            self._high = max(self._high, bar.high)
            self._low = min(self._low, bar.low)
        self._close = bar.close
        self._volume += bar.volume
        self._covered += bar.ts_init - ts
        self._all_complete = self._all_complete and bar.complete
        if bar.ts_init >= end:
            self._emit(complete=self._all_complete and self._covered == end - start)

    def flush(self) -> None:
        """Publish the window being built, incomplete: the data ended before it closed."""
        if self._start != _NONE:
            self._emit(complete=False)

    def _emit(self, complete: bool) -> None:
        bar = Bar(
            self.target,
            self._open,
            self._high,
            self._low,
            self._close,
            self._volume,
            self._start,
            self._end,
            complete,
        )
        self._start = self._end = _NONE
        if not complete:
            self.incomplete.append(bar)
        self._publish(bar)


class TradeBarAggregator:
    """Build bars from trade ticks; :func:`trade_bar_aggregator` picks the kind for a bar type.

    ``update`` takes plain numbers so a feed or a replay can call it without building a tick.
    """

    def __init__(self, bar_type: BarType, publish: Callable[[Bar], None]) -> None:
        self.bar_type = bar_type
        self._publish = publish
        self._ticks = 0
        self._open = self._high = self._low = self._close = self._volume = 0.0

    def handle_trade(self, tick: TradeTick) -> None:
        self.update(tick.ts_event, tick.price, tick.size)

    def update(self, ts: int, price: float, size: float) -> None:
        raise NotImplementedError

    def flush(self, end_ns: int | None = None) -> None:
        """Publish the bar being built; ``end_ns``: the ticks are known up to this time."""
        raise NotImplementedError

    def _emit(self, ts_event: int, ts_init: int, complete: bool) -> None:
        self._ticks = 0
        self._publish(
            Bar(
                self.bar_type,
                self._open,
                self._high,
                self._low,
                self._close,
                self._volume,
                ts_event,
                ts_init,
                complete,
            )
        )


class TimeTradeBars(TradeBarAggregator):
    """Time bars from ticks: a window's bar is published by the first tick after it.

    A tick stamped earlier than one already seen (feeds deliver a few late) joins the open bar;
    a published bar never changes. ``start_ns``: ticks are known from this time, so a first window
    that starts earlier is incomplete. A live feed calls :meth:`close_until` from a timer to
    publish a window at its end without waiting for the next tick.
    """

    def __init__(
        self,
        bar_type: BarType,
        publish: Callable[[Bar], None],
        *,
        timezone: str = "UTC",
        day_offset: int = 0,
        start_ns: int | None = None,
    ) -> None:
        super().__init__(bar_type, publish)
        self._windows = TimeWindows(bar_type.step, timezone, day_offset)
        self._start = self._end = _NONE
        self._latest = _NONE
        self._known_from = start_ns
        self._whole = True  # the open window is covered from its start

    def update(self, ts: int, price: float, size: float) -> None:
        if ts < self._latest:
            ts = self._latest
        else:
            self._latest = ts
        if ts < self._end:
            if price > self._high:
                self._high = price
            elif price < self._low:
                self._low = price
            self._close = price
            self._volume += size
            self._ticks += 1
            return
        if self._ticks:
            self._emit(self._start, self._end, self._whole)
        self._start, self._end = self._windows.window(ts)
        self._whole = self._known_from is None or self._known_from <= self._start
        self._known_from = None
        self._open = self._high = self._low = self._close = price
        self._volume = 0.0 + size
        self._ticks = 1

    def close_until(self, now_ns: int) -> None:
        """Publish the open window if it ended by ``now_ns``; later ticks start a new one."""
        if self._ticks and now_ns >= self._end:
            self._latest = max(self._latest, self._end)
            self._emit(self._start, self._end, self._whole)

    def flush(self, end_ns: int | None = None) -> None:
        if self._ticks:
            whole = self._whole and end_ns is not None and end_ns >= self._end
            self._emit(self._start, self._end, whole)


class ThresholdTradeBars(TradeBarAggregator):
    """Tick, volume and value bars: a bar closes with the tick that brings it to its size.

    The closing tick belongs wholly to the bar it closes (ticks are never split), so a bar may
    exceed its size; ``ts_event`` is the first tick's time and ``ts_init`` the closing tick's.
    """

    def __init__(self, bar_type: BarType, publish: Callable[[Bar], None]) -> None:
        super().__init__(bar_type, publish)
        if bar_type.aggregation is BarAggregation.TIME or bar_type.step <= 0:
            raise ConfigError(f"{bar_type} is not a tick, volume or value bar type")
        self._threshold = float(bar_type.step)
        self._measure = MEASURES[bar_type.aggregation]
        self._filled = 0.0
        self._first_ts = self._last_ts = 0

    def update(self, ts: int, price: float, size: float) -> None:
        if self._ticks:
            if price > self._high:
                self._high = price
            elif price < self._low:
                self._low = price
            self._close = price
            self._volume += size
            self._ticks += 1
        else:
            self._open = self._high = self._low = self._close = price
            self._volume = 0.0 + size
            self._ticks = 1
            self._filled = 0.0
            self._first_ts = ts
        measure = self._measure
        self._filled += 1.0 if measure == 0 else (size if measure == 1 else price * size)
        self._last_ts = ts
        if self._filled >= self._threshold:
            self._emit(self._first_ts, ts, True)

    def flush(self, end_ns: int | None = None) -> None:
        if self._ticks:
            self._emit(self._first_ts, self._last_ts, False)


# what fills a threshold bar: 0 each tick counts one, 1 its size, 2 its value (price * size)
MEASURES = {BarAggregation.TICK: 0, BarAggregation.VOLUME: 1, BarAggregation.VALUE: 2}


def trade_bar_aggregator(
    bar_type: BarType,
    publish: Callable[[Bar], None],
    *,
    timezone: str = "UTC",
    day_offset: int = 0,
    start_ns: int | None = None,
) -> TradeBarAggregator:
    """The streaming aggregator that builds ``bar_type`` bars from trade ticks."""
    if bar_type.aggregation is BarAggregation.TIME:
        return TimeTradeBars(
            bar_type, publish, timezone=timezone, day_offset=day_offset, start_ns=start_ns
        )
    if timezone != "UTC" or day_offset or start_ns is not None:
        raise ConfigError(f"{bar_type}: a time zone, day offset or start applies to time bars")
    return ThresholdTradeBars(bar_type, publish)
