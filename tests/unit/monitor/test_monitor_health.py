"""Liveness and readiness decisions, and the event-loop lag probe on a real loop."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from prometheus_client import Gauge

from ttquant.monitor.health import HealthLimits, LoopLagProbe, NodeHealth, liveness, readiness
from ttquant.monitor.metrics import Metrics

LIMITS = HealthLimits(max_loop_lag_s=0.2, max_loop_stall_s=2.0, max_feed_age_s=30.0)


def test_ready_needs_store_venues_and_fresh_feeds() -> None:
    assert readiness(0.01, LIMITS, store_error=None, node=None).ok
    node = NodeHealth(
        venues_connected={"BINANCE": True, "OKX": False},
        feed_age_s={"BTC/USDT@BINANCE": 2.0, "ETH/USDT@OKX": 45.0, "SOL/USDT@OKX": math.inf},
    )
    report = readiness(0.01, LIMITS, store_error=None, node=node)
    assert not report.ok
    failed = {c.name: c.detail for c in report.failed}
    assert set(failed) == {"venue:OKX", "feed:ETH/USDT@OKX", "feed:SOL/USDT@OKX"}
    assert failed["feed:ETH/USDT@OKX"] == "last data 45.0s ago (limit 30s)"
    assert failed["feed:SOL/USDT@OKX"] == "no data yet"
    down = readiness(0.01, LIMITS, store_error="connection refused", node=None)
    assert [c.name for c in down.failed] == ["store"]
    assert down.failed[0].detail == "connection refused"


def test_alive_until_the_loop_stalls() -> None:
    assert liveness(1.9, LIMITS).ok  # late: not ready, but no reason to restart
    assert not readiness(1.9, LIMITS, store_error=None, node=None).ok
    report = liveness(2.5, LIMITS)
    assert not report.ok
    assert report.checks[0].detail == "lag 2500.0 ms (limit 2000 ms)"


def test_probe_measures_a_blocked_loop() -> None:
    """A callback blocking the loop for 0.5 s shows as at least 0.45 s of lag (the probe may
    have slept up to one interval of it) and stays visible for a whole window: the 20 later
    measurements that push it out take at least one interval each. Both bounds hold however
    slow or loaded the machine is; only conditions are waited for, with generous timeouts."""
    interval_s, window_s, block_s = 0.05, 1.0, 0.5
    seen = block_s - interval_s
    gauge: Gauge = Metrics().event_loop_lag.labels("test")  # type: ignore[assignment]
    probe = LoopLagProbe(interval_s=interval_s, gauge=gauge, window_s=window_s)

    async def until(condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(30):
            while not condition():
                await asyncio.sleep(0.01)

    async def scenario() -> tuple[float, float, float, float]:
        loop = asyncio.get_running_loop()
        probe.start()
        await asyncio.sleep(0.2)
        calm = probe.lag_s
        time.sleep(block_s)  # a callback that blocks the loop
        unblocked = loop.time()
        await until(lambda: probe.lag_s >= seen)
        blocked = probe.lag_s
        await until(lambda: probe.lag_s < seen)  # the window has passed
        visible_s = loop.time() - unblocked
        after = probe.lag_s
        await probe.stop()
        return calm, blocked, visible_s, after

    calm, blocked, visible_s, after = asyncio.run(scenario())
    assert calm < seen
    assert blocked >= seen
    assert visible_s >= window_s - 1e-3
    assert after < blocked
    assert gauge._value.get() == probe.lag_s  # type: ignore[attr-defined]
