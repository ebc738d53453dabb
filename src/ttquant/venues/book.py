"""A level-2 order book as an adapter rebuilds it from a snapshot and diffs.

Levels are kept in a dict (price -> size) plus a sorted key list, so an update costs a dict
write and, only for a new or vanished level, a bisect; the top of the book is a slice. Venues
that checksum their book over the exact price and size strings (OKX) keep the strings too.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

import msgspec

Level = tuple[float, float]


class BookDepth(msgspec.Struct, frozen=True, gc=False):
    """The best ``n`` levels of a book after an update, best first."""

    instrument_id: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    update_id: int
    ts_event: int
    ts_init: int


class BookSide:
    """One side of a book; bids are stored under negated keys so both sides sort ascending."""

    __slots__ = ("_keys", "_sign", "sizes", "texts")

    def __init__(self, is_bid: bool, keep_text: bool = False) -> None:
        self._sign = -1.0 if is_bid else 1.0
        self._keys: list[float] = []
        self.sizes: dict[float, float] = {}
        self.texts: dict[float, tuple[str, str]] | None = {} if keep_text else None

    def __len__(self) -> int:
        return len(self._keys)

    def set(self, price: float, size: float, text: tuple[str, str] | None = None) -> None:
        """Set a level's size; size 0 deletes it (deleting a missing level is not an error)."""
        sizes = self.sizes
        if size == 0.0:
            if sizes.pop(price, None) is not None:
                keys = self._keys
                del keys[bisect_left(keys, self._sign * price)]
                if self.texts is not None:
                    self.texts.pop(price, None)
            return
        if price not in sizes:
            insort(self._keys, self._sign * price)
        sizes[price] = size
        if self.texts is not None and text is not None:
            self.texts[price] = text

    def clear(self) -> None:
        self._keys.clear()
        self.sizes.clear()
        if self.texts is not None:
            self.texts.clear()

    def prices(self, n: int | None = None) -> list[float]:
        keys = self._keys if n is None else self._keys[:n]
        sign = self._sign
        return [sign * k for k in keys]

    def top(self, n: int | None = None) -> list[Level]:
        sizes = self.sizes
        return [(p, sizes[p]) for p in self.prices(n)]

    def best(self) -> Level | None:
        if not self._keys:
            return None
        price = self._sign * self._keys[0]
        return price, self.sizes[price]


class OrderBook:
    """Bids and asks of one instrument and the venue update id the book is current to."""

    __slots__ = ("asks", "bids", "instrument_id", "ts_event", "update_id")

    def __init__(self, instrument_id: str, keep_text: bool = False) -> None:
        self.instrument_id = instrument_id
        self.bids = BookSide(True, keep_text)
        self.asks = BookSide(False, keep_text)
        self.update_id = 0
        self.ts_event = 0

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self.update_id = 0

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        for price, size in bids:
            self.bids.set(price, size)
        for price, size in asks:
            self.asks.set(price, size)

    def reset(self, bids: Iterable[Level], asks: Iterable[Level], update_id: int) -> None:
        self.clear()
        self.apply(bids, asks)
        self.update_id = update_id

    def depth(self, levels: int, ts_init: int) -> BookDepth:
        return BookDepth(
            instrument_id=self.instrument_id,
            bids=tuple(self.bids.top(levels)),
            asks=tuple(self.asks.top(levels)),
            update_id=self.update_id,
            ts_event=self.ts_event,
            ts_init=ts_init,
        )

    @property
    def crossed(self) -> bool:
        bid, ask = self.bids.best(), self.asks.best()
        return bid is not None and ask is not None and bid[0] >= ask[0]
