"""Clocks and timers.

Both clocks keep timers in one heap and fire them when told the time has moved on
(:meth:`Clock.advance_to`); only where "now" comes from differs. In a backtest the engine advances
the simulated clock to each event's timestamp, so timers fire between data events exactly as they
would live; live, the node advances the wall clock from its event loop.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass

from ttquant.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TimeEvent:
    """A timer firing: ``name`` of the timer, when it was due and when it was handled."""

    name: str
    ts_event: int
    ts_init: int


TimerCallback = Callable[[TimeEvent], None]


@dataclass(slots=True)
class _Timer:
    name: str
    callback: TimerCallback
    next_ns: int
    interval_ns: int  # 0 for a one-shot alert
    stop_ns: int | None


class Clock:
    """Time source with named timers; subclasses define ``timestamp_ns``."""

    def __init__(self) -> None:
        self._timers: dict[str, _Timer] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._seq = 0
        # earliest due time in the heap (inf when empty): one attribute read lets an event loop
        # skip timer handling; may point at a cancelled timer, which pop_due then discards
        self.next_due: float = float("inf")

    def timestamp_ns(self) -> int:
        raise NotImplementedError

    @property
    def timer_names(self) -> list[str]:
        return sorted(self._timers)

    @property
    def next_timer_ns(self) -> int | None:
        """When the earliest timer is due, or None when no timer is set."""
        while self._heap:
            due, _, name = self._heap[0]
            timer = self._timers.get(name)
            if timer is not None and timer.next_ns == due:
                return due
            heapq.heappop(self._heap)  # stale entry of a cancelled or rescheduled timer
        self.next_due = float("inf")
        return None

    def set_timer(
        self,
        name: str,
        interval_ns: int,
        callback: TimerCallback,
        start_ns: int | None = None,
        stop_ns: int | None = None,
    ) -> None:
        """Fire ``callback`` every ``interval_ns`` from ``start_ns`` (default: now) + interval."""
        if interval_ns <= 0:
            raise ConfigError(f"timer {name!r}: interval must be positive, got {interval_ns} ns")
        start = self.timestamp_ns() if start_ns is None else start_ns
        self._add(_Timer(name, callback, start + interval_ns, interval_ns, stop_ns))

    def set_time_alert(self, name: str, alert_ns: int, callback: TimerCallback) -> None:
        """Fire ``callback`` once at ``alert_ns``."""
        self._add(_Timer(name, callback, alert_ns, 0, None))

    def cancel_timer(self, name: str) -> None:
        self._timers.pop(name, None)

    def cancel_timers(self) -> None:
        self._timers.clear()
        self._heap.clear()
        self.next_due = float("inf")

    def _add(self, timer: _Timer) -> None:
        if timer.name in self._timers:
            raise ConfigError(f"timer {timer.name!r} already exists; cancel it first")
        self._timers[timer.name] = timer
        self._push(timer)

    def _push(self, timer: _Timer) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (timer.next_ns, self._seq, timer.name))
        self.next_due = float(self._heap[0][0])

    def pop_due(self, until_ns: int) -> tuple[TimeEvent, TimerCallback] | None:
        """Take the next timer event due at or before ``until_ns`` (rescheduling repeating timers).

        The caller sets the clock to the event's time before invoking the callback, so a callback
        sees the time at which its timer was due, and timers interleave with data in time order.
        """
        due = self.next_timer_ns
        if due is None or due > until_ns:
            return None
        _, _, name = heapq.heappop(self._heap)
        timer = self._timers[name]
        event = TimeEvent(name, due, due)
        if timer.interval_ns and (
            timer.stop_ns is None or due + timer.interval_ns <= timer.stop_ns
        ):
            timer.next_ns = due + timer.interval_ns
            self._push(timer)
        else:
            del self._timers[name]
        self.next_due = float(self._heap[0][0]) if self._heap else float("inf")
        return event, timer.callback


class TestClock(Clock):
    """Simulated time, moved forward by the backtest engine only."""

    __test__ = False  # not a pytest test class

    def __init__(self, start_ns: int = 0) -> None:
        super().__init__()
        self.now_ns = start_ns

    def timestamp_ns(self) -> int:
        return self.now_ns

    def set_time(self, ns: int) -> None:
        self.now_ns = ns


class LiveClock(Clock):
    """Wall-clock time (UTC ns)."""

    def timestamp_ns(self) -> int:
        return time.time_ns()
