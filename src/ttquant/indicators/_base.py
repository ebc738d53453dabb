"""Base classes of the streaming (bar-by-bar) indicators.

``value`` and ``ready`` are plain slots, not properties: the event-driven kernel reads them on
every bar, and a slot read is several times cheaper than a property call. The family bases below
differ only in which bar fields :meth:`handle_bar` passes to ``update``, so the kernel can bind
any indicator to a bar stream without knowing its inputs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol


class BarLike(Protocol):
    """What :meth:`Indicator.handle_bar` needs from a bar (any object with these attributes)."""

    @property
    def open(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def close(self) -> float: ...
    @property
    def volume(self) -> float: ...


class TimedBarLike(BarLike, Protocol):
    """A bar that also carries its event time (epoch nanoseconds, UTC)."""

    @property
    def ts_event(self) -> int: ...


class Indicator(ABC):
    """Streaming indicator: ``value`` is NaN and ``ready`` False until enough input was seen.

    ``ready`` always equals ``not isnan(value)``; multi-output indicators expose their other
    lines as further attributes, each NaN until it is defined.
    """

    __slots__ = ("ready", "value")

    value: float
    ready: bool

    @abstractmethod
    def reset(self) -> None:
        """Forget all input, as if just constructed."""

    @abstractmethod
    def handle_bar(self, bar: BarLike) -> float:
        """Update from a bar's fields and return ``value``."""


class CloseIndicator(Indicator):
    """An indicator of one price series; bars feed their close."""

    __slots__ = ()

    @abstractmethod
    def update(self, close: float) -> float:
        """Add one observation and return ``value``."""

    def handle_bar(self, bar: BarLike) -> float:
        return self.update(bar.close)


class HLIndicator(Indicator):
    """An indicator of the high/low range of each bar."""

    __slots__ = ()

    @abstractmethod
    def update(self, high: float, low: float) -> float:
        """Add one bar and return ``value``."""

    def handle_bar(self, bar: BarLike) -> float:
        return self.update(bar.high, bar.low)


class HLCIndicator(Indicator):
    """An indicator of high, low and close."""

    __slots__ = ()

    @abstractmethod
    def update(self, high: float, low: float, close: float) -> float:
        """Add one bar and return ``value``."""

    def handle_bar(self, bar: BarLike) -> float:
        return self.update(bar.high, bar.low, bar.close)


class HLCVIndicator(Indicator):
    """An indicator of high, low, close and volume."""

    __slots__ = ()

    @abstractmethod
    def update(self, high: float, low: float, close: float, volume: float) -> float:
        """Add one bar and return ``value``."""

    def handle_bar(self, bar: BarLike) -> float:
        return self.update(bar.high, bar.low, bar.close, bar.volume)


class CloseVolumeIndicator(Indicator):
    """An indicator of close and volume."""

    __slots__ = ()

    @abstractmethod
    def update(self, close: float, volume: float) -> float:
        """Add one bar and return ``value``."""

    def handle_bar(self, bar: BarLike) -> float:
        return self.update(bar.close, bar.volume)
