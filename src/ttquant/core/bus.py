"""The message bus: topics, wildcard subscriptions, synchronous deterministic dispatch.

Every component talks through the bus so that backtest, paper and live wire the same way. Dispatch
is synchronous and ordered (by priority, then subscription order), which makes a backtest a pure
function of its input. Topic matching is resolved once per topic and cached, so publishing on a hot
topic costs a dict lookup and a loop over handlers.

Topics are dot-separated words such as ``data.bars.BTC/USDT@BINANCE:1m``; patterns may use ``*``
(any run of characters) and ``?`` (one character), as in :mod:`fnmatch`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

Handler = Callable[[Any], None]


@dataclass(order=True, frozen=True, slots=True)
class Subscription:
    """One handler on one topic pattern; ordered by priority (higher first), then by sequence."""

    sort_key: tuple[int, int]
    pattern: str = field(compare=False)
    handler: Handler = field(compare=False)


class MessageBus:
    """Publish/subscribe with cached topic resolution, plus point-to-point endpoints."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._resolved: dict[str, list[Handler]] = {}
        self._endpoints: dict[str, Handler] = {}
        self._sequence = 0
        self.published_count = 0

    def subscribe(self, pattern: str, handler: Handler, priority: int = 0) -> None:
        """Call ``handler(message)`` for every message published on a topic matching ``pattern``."""
        for sub in self._subscriptions:
            if sub.pattern == pattern and sub.handler == handler:
                return
        self._sequence += 1
        self._subscriptions.append(Subscription((-priority, self._sequence), pattern, handler))
        self._subscriptions.sort()
        self._refresh()

    def unsubscribe(self, pattern: str, handler: Handler) -> None:
        self._subscriptions = [
            s for s in self._subscriptions if not (s.pattern == pattern and s.handler == handler)
        ]
        self._refresh()

    def _refresh(self) -> None:
        # update the cached lists in place: event loops that hold them stay current
        for topic, handlers in self._resolved.items():
            handlers[:] = self._match(topic)

    def _match(self, topic: str) -> list[Handler]:
        return [
            s.handler
            for s in self._subscriptions
            if s.pattern == topic or fnmatchcase(topic, s.pattern)
        ]

    def has_subscribers(self, topic: str) -> bool:
        return bool(self.handlers_for(topic))

    def handlers_for(self, topic: str) -> list[Handler]:
        """The handlers a message on ``topic`` reaches, in dispatch order.

        The list is cached and kept current when subscriptions change, so a data loop may hold
        it and dispatch without a lookup per message. Do not modify it.
        """
        handlers = self._resolved.get(topic)
        if handlers is None:
            handlers = self._resolved[topic] = self._match(topic)
        return handlers

    def publish(self, topic: str, message: object) -> None:
        self.published_count += 1
        for handler in self.handlers_for(topic):
            handler(message)

    def register(self, endpoint: str, handler: Handler) -> None:
        """Register the single receiver of point-to-point messages sent to ``endpoint``."""
        self._endpoints[endpoint] = handler

    def send(self, endpoint: str, message: object) -> None:
        try:
            handler = self._endpoints[endpoint]
        except KeyError:
            raise KeyError(f"no component registered at endpoint {endpoint!r}") from None
        self.published_count += 1
        handler(message)
