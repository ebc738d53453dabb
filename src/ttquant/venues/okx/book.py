"""OKX books: snapshot and updates, verified by OKX's CRC32 checksum (and sequence ids).

OKX sends, with every book message, a CRC32 over the best 25 levels of the book as it should
be after the message: ``bid1px:bid1sz:ask1px:ask1sz:...`` (a side with fewer levels simply
contributes fewer), using the price and size strings exactly as sent, read as a signed 32-bit
integer. A mismatch means our book has diverged: it is thrown away and the channel
resubscribed, which brings a fresh snapshot. Newer messages also chain ``prevSeqId`` to the
previous ``seqId``; a break there is a gap as well.
"""

from __future__ import annotations

import zlib
from enum import StrEnum

from ttquant.venues.book import BookSide, OrderBook
from ttquant.venues.okx.messages import BookData, BookLevel

CHECKSUM_LEVELS = 25


def checksum_text(bids: BookSide, asks: BookSide, levels: int = CHECKSUM_LEVELS) -> str:
    """The string OKX's checksum is computed over."""
    assert bids.texts is not None and asks.texts is not None, "books for checksums keep text"
    bid_prices, ask_prices = bids.prices(levels), asks.prices(levels)
    parts: list[str] = []
    for i in range(max(len(bid_prices), len(ask_prices))):
        if i < len(bid_prices):
            parts.extend(bids.texts[bid_prices[i]])
        if i < len(ask_prices):
            parts.extend(asks.texts[ask_prices[i]])
    return ":".join(parts)


def checksum(book: OrderBook) -> int:
    value = zlib.crc32(checksum_text(book.bids, book.asks).encode())
    return value - (1 << 32) if value >= 1 << 31 else value


class BookResult(StrEnum):
    APPLIED = "APPLIED"
    MISMATCH = "MISMATCH"  # checksum or sequence broken: resubscribe
    WAITING = "WAITING"  # an update before any snapshot


class OkxBookSync:
    """One instrument's book, rebuilt from OKX's snapshot/update pushes."""

    def __init__(self, instrument_id: str) -> None:
        self.book = OrderBook(instrument_id, keep_text=True)
        self.has_snapshot = False
        self.seq_id = -1
        self.mismatches = 0  # checksum or sequence failures so far (monitoring, tests)
        self.checked = 0  # messages whose checksum was verified

    def reset(self) -> None:
        self.book.clear()
        self.has_snapshot = False
        self.seq_id = -1

    def on_message(self, action: str, data: BookData) -> BookResult:
        if action == "snapshot":
            self.book.clear()
            self.has_snapshot = True
        elif not self.has_snapshot:
            return BookResult.WAITING
        elif data.prevSeqId >= 0 and self.seq_id >= 0 and data.prevSeqId != self.seq_id:
            return self._broken()
        _apply(self.book.bids, data.bids)
        _apply(self.book.asks, data.asks)
        self.seq_id = data.seqId
        self.book.update_id = data.seqId
        self.book.ts_event = int(data.ts) * 1_000_000
        if data.checksum is not None:
            if checksum(self.book) != data.checksum:
                return self._broken()
            self.checked += 1
        return BookResult.APPLIED

    def _broken(self) -> BookResult:
        self.mismatches += 1
        self.reset()
        return BookResult.MISMATCH


def _apply(side: BookSide, levels: list[BookLevel]) -> None:
    for px, sz, *_ in levels:
        side.set(float(px), float(sz), (px, sz))
