"""Token buckets for order and modify rates, on whatever clock the kernel runs.

The level is kept in integer units of ``1 / (limit * window)`` tokens, so a bucket refilled in
ten thousand nanosecond steps holds exactly what it would after one step of the same length:
in a backtest a burst inside one simulated second passes exactly ``burst`` plus the tokens that
second refilled, never one more from float rounding.
"""

from __future__ import annotations


class TokenBucket:
    """``limit`` tokens per ``window_ns``, holding at most ``capacity`` (full at the start)."""

    __slots__ = ("_capacity", "_last", "_level", "_limit", "_window", "capacity", "limit")

    def __init__(self, limit: int, window_ns: int, capacity: int, now_ns: int) -> None:
        self.limit = limit
        self.capacity = capacity
        self._limit = limit
        self._window = window_ns  # units per token
        self._capacity = capacity * window_ns
        self._level = self._capacity
        self._last = now_ns

    def refill(self, now_ns: int) -> None:
        elapsed = now_ns - self._last
        if elapsed > 0:  # a wall clock stepped back adds nothing
            level = self._level + elapsed * self._limit
            self._level = level if level < self._capacity else self._capacity
            self._last = now_ns

    def has(self, tokens: int) -> bool:
        """Whether ``tokens`` are available now (call :meth:`refill` first)."""
        return self._level >= tokens * self._window

    def take(self, tokens: int) -> None:
        self._level -= tokens * self._window

    @property
    def tokens(self) -> float:
        """Tokens available at the last refill (fractional while one is being refilled)."""
        return self._level / self._window
