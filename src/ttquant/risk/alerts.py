"""Alerts: levels, suppression of repeats, escalation by frequency, and a bounded history.

Anything that needs a human raises an alert with a *key* naming what it is about
(``"risk.halted.trend"``, ``"feed.stale.BTC/USDT@BINANCE"``). Repeats of a key are the same
problem, not news: within ``suppress_window`` of the last delivered alert of that key, a repeat
at the same or a lower level is counted and not delivered; the next delivered alert says how
many were held back. A problem that keeps coming back is worse than one that happened once:
every ``escalate_after`` occurrences of a key within ``escalation_window`` raise its level one
step (info → warning → critical → emergency), and a higher level is always delivered.

This module decides and records; it does no I/O. Delivered alerts go to subscribers (the
channels of :mod:`ttquant.monitor.channels`); a subscriber that raises is logged and counted,
never allowed to break the code that raised the alert. Time comes from an injectable clock
(nanoseconds), the kernel's in a backtest.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import msgspec

from ttquant.core.errors import ConfigError
from ttquant.core.time import ns_to_iso

_MINUTE_NS = 60_000_000_000
log = logging.getLogger("ttquant.alerts")


class AlertLevel(IntEnum):
    INFO = 10
    WARNING = 20
    CRITICAL = 30
    EMERGENCY = 40

    @property
    def label(self) -> str:
        return self.name.lower()

    def raised(self, steps: int) -> AlertLevel:
        """This level ``steps`` higher, at most EMERGENCY."""
        levels = list(AlertLevel)
        return levels[min(levels.index(self) + steps, len(levels) - 1)]

    @classmethod
    def parse(cls, value: str | int | AlertLevel) -> AlertLevel:
        if isinstance(value, AlertLevel):
            return value
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        if isinstance(value, int) and value in cls._value2member_map_:
            return cls(value)
        names = ", ".join(level.label for level in cls)
        raise ConfigError(f"alert level must be one of {names}, got {value!r}")


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """One delivered alert.

    ``repeats``: occurrences of the key in the escalation window, this one included.
    ``suppressed``: occurrences held back since the key's previous delivered alert.
    ``escalated_from``: the level it was raised at, when frequency raised it.
    """

    key: str
    level: AlertLevel
    message: str
    ts_ns: int
    source: str = ""
    repeats: int = 1
    suppressed: int = 0
    escalated_from: AlertLevel | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (levels by name, time in ISO-8601 UTC)."""
        return {
            "key": self.key,
            "level": self.level.label,
            "message": self.message,
            "time": ns_to_iso(self.ts_ns),
            "ts_ns": self.ts_ns,
            "source": self.source,
            "repeats": self.repeats,
            "suppressed": self.suppressed,
            "escalated_from": None if self.escalated_from is None else self.escalated_from.label,
        }

    def text(self) -> str:
        """One human line (chat messages, logs)."""
        parts = [f"[{self.level.label.upper()}] {self.key}: {self.message}"]
        if self.escalated_from is not None:
            parts.append(f"(escalated from {self.escalated_from.label}: {self.repeats} times)")
        if self.suppressed:
            parts.append(f"(+{self.suppressed} repeats held back)")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    suppress_window_ns: int = 5 * _MINUTE_NS
    escalate_after: int = 3
    escalation_window_ns: int = 15 * _MINUTE_NS
    history_size: int = 1000

    def __post_init__(self) -> None:
        for name in ("suppress_window_ns", "escalation_window_ns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"alert policy {name} must be a duration >= 0 ns, got {value!r}")
        for name in ("escalate_after", "history_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"alert policy {name} must be an integer >= 1, got {value!r}")


@dataclass(slots=True)
class _KeyState:
    recent: deque[int]  # times of the key's occurrences inside the escalation window
    last_delivered_ns: int | None = None
    last_level: AlertLevel = AlertLevel.INFO
    held_back: int = 0


AlertSink = Callable[[Alert], None]


class AlertManager:
    """Decides which alerts to deliver, remembers them, and hands them to subscribers."""

    def __init__(
        self, policy: AlertPolicy | None = None, clock: Callable[[], int] = time.time_ns
    ) -> None:
        self.policy = policy or AlertPolicy()
        self._clock = clock
        self._keys: dict[str, _KeyState] = {}
        self._history: deque[Alert] = deque(maxlen=self.policy.history_size)
        self._sinks: list[AlertSink] = []
        self.delivered: Counter[AlertLevel] = Counter()
        self.suppressed = 0
        self.sink_failures = 0

    def subscribe(self, sink: AlertSink) -> None:
        """Call ``sink(alert)`` for every delivered alert."""
        self._sinks.append(sink)

    def alert(
        self,
        key: str,
        level: AlertLevel | str,
        message: str,
        *,
        source: str = "",
    ) -> Alert | None:
        """Raise an alert; the alert delivered, or None when it was suppressed."""
        if not key:
            raise ConfigError("an alert needs a key naming what it is about")
        base = AlertLevel.parse(level)
        now = self._clock()
        policy = self.policy
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _KeyState(deque())
        recent = state.recent
        recent.append(now)
        while recent and recent[0] <= now - policy.escalation_window_ns:
            recent.popleft()
        cap = policy.escalate_after * len(AlertLevel)  # enough to reach the top level
        while len(recent) > cap:
            recent.popleft()
        effective = base.raised(len(recent) // policy.escalate_after)
        last = state.last_delivered_ns
        if (
            last is not None
            and now - last < policy.suppress_window_ns
            and effective <= state.last_level
        ):
            state.held_back += 1
            self.suppressed += 1
            return None
        delivered = Alert(
            key=key,
            level=effective,
            message=message,
            ts_ns=now,
            source=source,
            repeats=len(recent),
            suppressed=state.held_back,
            escalated_from=base if effective is not base else None,
        )
        state.last_delivered_ns, state.last_level, state.held_back = now, effective, 0
        self._history.append(delivered)
        self.delivered[effective] += 1
        for sink in self._sinks:
            try:
                sink(delivered)
            except Exception:
                self.sink_failures += 1
                log.exception("alert subscriber %r failed on %s", sink, key)
        return delivered

    def history(
        self, *, level: AlertLevel | str | None = None, key: str | None = None
    ) -> list[Alert]:
        """Delivered alerts, oldest first (at most ``history_size``), at or above ``level``."""
        floor = None if level is None else AlertLevel.parse(level)
        return [
            a
            for a in self._history
            if (floor is None or a.level >= floor) and (key is None or a.key == key)
        ]
