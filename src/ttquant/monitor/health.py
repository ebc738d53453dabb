"""Liveness and readiness: is the process responsive, and can it do its job right now?

*Alive* means the event loop still runs callbacks on time; an orchestrator restarts a process that
is not. *Ready* adds what trading needs: the store answers, every venue is connected and no
subscribed feed has gone quiet for longer than its limit; a load balancer or an operator holds
traffic back from a process that is not. Each answer lists its checks, so "not ready" always says
which check failed and by how much.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from prometheus_client import Gauge


@dataclass(frozen=True, slots=True)
class HealthLimits:
    max_loop_lag_s: float = 0.5  # ready: callbacks run about on time
    max_loop_stall_s: float = 5.0  # alive: the loop is late, but not hung
    max_feed_age_s: float = 60.0


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """What a trading node reports about its connections."""

    venues_connected: Mapping[str, bool] = field(default_factory=dict)
    feed_age_s: Mapping[str, float] = field(default_factory=dict)  # instrument -> s since data
    loop_lag_s: float = 0.0  # the node's own loop, when it runs in another process


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class HealthReport:
    ok: bool
    checks: list[Check]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def liveness(loop_lag_s: float, limits: HealthLimits) -> HealthReport:
    """Alive unless the loop stalls for seconds: a busy machine is no reason for a restart."""
    check = _loop_check("event_loop", loop_lag_s, limits.max_loop_stall_s)
    return HealthReport(check.ok, [check])


def readiness(
    loop_lag_s: float,
    limits: HealthLimits,
    *,
    store_error: str | None,
    node: NodeHealth | None,
) -> HealthReport:
    """Ready when the loop is on time, the store answers and, with a node, its venues and feeds
    are live; ``store_error`` is why the store did not answer (None when it did)."""
    checks = [_loop_check("event_loop", loop_lag_s, limits.max_loop_lag_s)]
    checks.append(Check("store", store_error is None, store_error or "reachable"))
    if node is not None:
        checks.append(_loop_check("node_event_loop", node.loop_lag_s, limits.max_loop_lag_s))
        for venue, connected in sorted(node.venues_connected.items()):
            checks.append(
                Check(f"venue:{venue}", connected, "connected" if connected else "disconnected")
            )
        for instrument, age in sorted(node.feed_age_s.items()):
            fresh = math.isfinite(age) and age <= limits.max_feed_age_s
            detail = (
                f"last data {age:.1f}s ago (limit {limits.max_feed_age_s:g}s)"
                if math.isfinite(age)
                else "no data yet"
            )
            checks.append(Check(f"feed:{instrument}", fresh, detail))
    return HealthReport(all(c.ok for c in checks), checks)


def _loop_check(name: str, lag_s: float, limit_s: float) -> Check:
    return Check(name, lag_s <= limit_s, f"lag {lag_s * 1000:.1f} ms (limit {limit_s * 1000:g} ms)")


class LoopLagProbe:
    """Measure how late the running event loop wakes a task that asked to sleep ``interval_s``.

    A loop blocked by a slow callback (a CPU-bound handler, a synchronous database call) wakes
    everyone late; the overshoot is that delay. ``lag_s`` (and the gauge) is the worst of the
    measurements of the last ``window_s``, so a spike is still visible to a health check or a
    scrape that comes a few seconds later.
    """

    def __init__(
        self,
        interval_s: float = 0.25,
        gauge: Gauge | None = None,
        clock: Callable[[], float] | None = None,
        window_s: float = 10.0,
    ) -> None:
        self.interval_s = interval_s
        self._recent: deque[float] = deque(maxlen=max(1, round(window_s / interval_s)))
        self._gauge = gauge
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    @property
    def lag_s(self) -> float:
        return max(self._recent, default=0.0)

    def start(self) -> None:
        """Start measuring on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        clock = self._clock or loop.time
        while True:
            before = clock()
            await asyncio.sleep(self.interval_s)
            self.record(clock() - before - self.interval_s)

    def record(self, lag_s: float) -> None:
        self._recent.append(max(lag_s, 0.0))
        if self._gauge is not None:
            self._gauge.set(self.lag_s)
