"""Keeping a local Binance book in step with the venue: snapshot + diffs by update id.

Binance's documented procedure, for both markets:

1. buffer the diff stream, then fetch a REST snapshot (``lastUpdateId``);
2. if the snapshot is older than the first buffered diff, fetch it again;
3. drop buffered diffs the snapshot already contains (``u <= lastUpdateId``; futures
   ``u < lastUpdateId``);
4. the first diff applied must straddle the snapshot (``U <= lastUpdateId + 1 <= u``; futures
   ``U <= lastUpdateId <= u``);
5. afterwards every diff must follow the previous one: spot ``U == previous u + 1``, futures
   ``pu == previous u``. Anything else is a gap: the book is discarded and rebuilt from step 1.
"""

from __future__ import annotations

from enum import StrEnum

from ttquant.venues.binance.messages import DepthSnapshot, DepthUpdate
from ttquant.venues.book import OrderBook


class DepthState(StrEnum):
    WAITING = "WAITING"  # buffering diffs until a snapshot arrives
    SYNCED = "SYNCED"


class SyncResult(StrEnum):
    BUFFERED = "BUFFERED"
    APPLIED = "APPLIED"
    IGNORED = "IGNORED"  # older than the book
    GAP = "GAP"  # the book is now invalid: resync
    SNAPSHOT_TOO_OLD = "SNAPSHOT_TOO_OLD"  # fetch another snapshot
    SYNCED = "SYNCED"  # the snapshot plus buffered diffs make a valid book


class DepthSync:
    """Rebuilds one symbol's book from a snapshot and the diff stream, detecting gaps."""

    _MAX_BUFFER = 10_000

    def __init__(self, book: OrderBook, futures: bool) -> None:
        self.book = book
        self.futures = futures
        self.state = DepthState.WAITING
        self.buffer: list[DepthUpdate] = []
        self.gaps = 0  # gaps detected so far (monitoring, tests)

    def reset(self) -> None:
        """Forget the book and start buffering for a new snapshot."""
        self.state = DepthState.WAITING
        self.buffer.clear()
        self.book.clear()

    def on_update(self, update: DepthUpdate) -> SyncResult:
        if self.state is DepthState.WAITING:
            if len(self.buffer) >= self._MAX_BUFFER:
                del self.buffer[: self._MAX_BUFFER // 2]
            self.buffer.append(update)
            return SyncResult.BUFFERED
        book = self.book
        if update.last_id <= book.update_id:
            return SyncResult.IGNORED
        follows = (
            update.prev_last_id == book.update_id
            if self.futures
            else update.first_id == book.update_id + 1
        )
        if not follows:
            self.gaps += 1
            self.reset()
            return SyncResult.GAP
        self._apply(update)
        return SyncResult.APPLIED

    def on_snapshot(self, snapshot: DepthSnapshot) -> SyncResult:
        """Start the book from ``snapshot`` and the buffered diffs that follow it."""
        last = snapshot.last_update_id
        buffered = self.buffer
        if buffered and buffered[0].first_id > last + (0 if self.futures else 1):
            return SyncResult.SNAPSHOT_TOO_OLD
        self.book.reset(snapshot.bids, snapshot.asks, last)
        if self.futures:
            pending = [u for u in buffered if u.last_id >= last]
        else:
            pending = [u for u in buffered if u.last_id > last]
        self.buffer = []
        self.state = DepthState.SYNCED
        first = True
        for update in pending:
            if first:
                straddles = update.first_id <= last + (0 if self.futures else 1) <= update.last_id
                if not straddles:
                    self.gaps += 1
                    self.reset()
                    return SyncResult.GAP
                self._apply(update)
                first = False
                continue
            if self.on_update(update) is SyncResult.GAP:
                return SyncResult.GAP
        return SyncResult.SYNCED

    def _apply(self, update: DepthUpdate) -> None:
        book = self.book
        book.apply(update.bids, update.asks)
        book.update_id = update.last_id
        book.ts_event = update.event_ms * 1_000_000
