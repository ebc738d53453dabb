"""Request budgets kept in step with the counters a venue reports in its response headers.

Binance counts request weight per minute and orders per 10 s / minute / day, and returns the
running totals in headers (``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S``, ...). The venue's
number is the truth (other processes may share the key); between responses we add our own
requests to it. A request that would exceed a budget waits for the window to roll over instead
of earning a ban (HTTP 418). Windows are aligned to the epoch, as Binance's are.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping

import msgspec

from ttquant.core.errors import ConfigError


class LimitRule(msgspec.Struct, frozen=True):
    """One counter: at most ``limit`` units per ``interval_s``, reported in ``header``."""

    header: str
    limit: int
    interval_s: float
    counts_orders: bool = False  # False: counts request weight


class _Window:
    __slots__ = ("index", "rule", "used")

    def __init__(self, rule: LimitRule) -> None:
        self.rule = rule
        self.index = -1
        self.used = 0

    def roll(self, now: float) -> None:
        index = math.floor(now / self.rule.interval_s)
        if index != self.index:
            self.index = index
            self.used = 0

    def ends_at(self) -> float:
        return (self.index + 1) * self.rule.interval_s


class RequestBudget:
    """Waits as needed so that no rule's counter goes over its limit."""

    def __init__(
        self,
        rules: list[LimitRule],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        for rule in rules:
            if rule.limit <= 0 or rule.interval_s <= 0:
                raise ConfigError(f"rate limit {rule.header}: limit and interval must be positive")
        self._windows = [_Window(r) for r in rules]
        self._clock = clock
        self._sleep = sleep
        self._blocked_until = 0.0
        self.waited_s = 0.0  # total time spent waiting for budget (exposed for monitoring)

    async def acquire(self, weight: int, orders: int = 0) -> None:
        """Reserve ``weight`` (and ``orders`` order-count units), waiting for budget if needed."""
        while True:
            now = self._clock()
            wait_until = self._blocked_until
            for window in self._windows:
                window.roll(now)
                cost = orders if window.rule.counts_orders else weight
                if cost and window.used + cost > window.rule.limit:
                    wait_until = max(wait_until, window.ends_at())
            if wait_until <= now:
                break
            self.waited_s += wait_until - now
            await self._sleep(wait_until - now)
        for window in self._windows:
            window.used += orders if window.rule.counts_orders else weight

    def update(self, headers: Mapping[str, str]) -> None:
        """Adopt the venue's running totals from a response's headers."""
        now = self._clock()
        for window in self._windows:
            value = headers.get(window.rule.header)
            if value is None:
                continue
            try:
                used = int(value)
            except ValueError:
                continue
            window.roll(now)
            window.used = used

    def block_for(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (the venue said so: HTTP 429/418 with Retry-After)."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def used(self, header: str) -> int:
        for window in self._windows:
            if window.rule.header.lower() == header.lower():
                window.roll(self._clock())
                return window.used
        raise KeyError(header)
