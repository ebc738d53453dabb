"""The latest prices in shared memory, readable by any local process without asking anyone.

One writer (the market data process) keeps, per instrument, the last bid, ask, sizes, trade
price and time in a fixed slot of a POSIX shared-memory block; any number of readers (a risk
dashboard, a strategy in another language, a shell) map the block and read a slot in about a
microsecond. No lock is shared between them: each slot is a **seqlock**. The writer makes the
slot's sequence number odd, writes the fields, and makes it even again; a reader copies the
fields between two reads of the sequence and retries if they differ or are odd, so it never
returns a half-written quote and never slows the writer down.

Layout (little-endian): a 64-byte header (magic, version, slot count, slots in use), a table of
instrument ids (64 bytes each), then the slots (64 bytes each: sequence, ts, bid, ask, last,
bid size, ask size). Stores become visible in program order on x86-64 (TSO), which the seqlock
relies on; the block is not meant for weakly ordered CPUs.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path

from ttquant.core.errors import ConfigError, DataError

_SHM_DIR = Path("/dev/shm")
MAGIC = b"TTQPRICE"
VERSION = 1
_HEADER = struct.Struct("<8sIII")  # magic, version, slots, used
_HEADER_SIZE = 64
_NAME_SIZE = 64
_SLOT_SIZE = 64
_SEQ = struct.Struct("<Q")
_FIELDS = struct.Struct("<qddddd")  # ts, bid, ask, last, bid size, ask size
_NAN = float("nan")
_MAX_SPINS = 1_000_000  # a writer holds a slot for well under a microsecond


@dataclass(frozen=True, slots=True)
class PriceSnapshot:
    instrument_id: str
    ts_ns: int
    bid: float
    ask: float
    last: float
    bid_size: float
    ask_size: float


def _size(slots: int) -> int:
    return _HEADER_SIZE + slots * (_NAME_SIZE + _SLOT_SIZE)


class PriceBoard:
    """The writer's side: creates (or takes over) the block and updates slots."""

    def __init__(self, name: str, slots: int = 64) -> None:
        if not 1 <= slots <= 4096:
            raise ConfigError(f"shared price board {name!r}: slots must be 1..4096, got {slots}")
        try:  # a block left by a writer that crashed: take it over
            stale = shared_memory.SharedMemory(name=name)
            stale.close()
            stale.unlink()
        except FileNotFoundError:
            pass
        self.name = name
        self.slots = slots
        self._shm = shared_memory.SharedMemory(name=name, create=True, size=_size(slots))
        self._buf: memoryview = self._shm.buf  # type: ignore[assignment]  # None only once closed
        self._index: dict[str, int] = {}
        self._state: list[list[float]] = []  # per slot: bid, ask, last, bid size, ask size
        _HEADER.pack_into(self._buf, 0, MAGIC, VERSION, slots, 0)

    def _slot(self, instrument_id: str) -> int:
        index = self._index.get(instrument_id)
        if index is not None:
            return index
        index = len(self._index)
        if index >= self.slots:
            raise DataError(f"shared price board {self.name!r} is full ({self.slots} instruments)")
        encoded = instrument_id.encode()[:_NAME_SIZE]
        start = _HEADER_SIZE + index * _NAME_SIZE
        self._buf[start : start + _NAME_SIZE] = encoded.ljust(_NAME_SIZE, b"\0")
        self._index[instrument_id] = index
        self._state.append([_NAN, _NAN, _NAN, _NAN, _NAN])
        _HEADER.pack_into(self._buf, 0, MAGIC, VERSION, self.slots, index + 1)  # name first
        return index

    def quote(
        self,
        instrument_id: str,
        bid: float,
        ask: float,
        bid_size: float,
        ask_size: float,
        ts_ns: int,
    ) -> None:
        index = self._slot(instrument_id)
        state = self._state[index]
        state[0], state[1], state[3], state[4] = bid, ask, bid_size, ask_size
        self._write(index, ts_ns, state)

    def trade(self, instrument_id: str, price: float, ts_ns: int) -> None:
        index = self._slot(instrument_id)
        state = self._state[index]
        state[2] = price
        self._write(index, ts_ns, state)

    def _write(self, index: int, ts_ns: int, s: list[float]) -> None:
        buf = self._buf
        offset = _HEADER_SIZE + self.slots * _NAME_SIZE + index * _SLOT_SIZE
        seq = _SEQ.unpack_from(buf, offset)[0]
        _SEQ.pack_into(buf, offset, seq + 1)  # odd: being written
        _FIELDS.pack_into(buf, offset + 8, ts_ns, s[0], s[1], s[2], s[3], s[4])
        _SEQ.pack_into(buf, offset, seq + 2)  # even: consistent

    def close(self) -> None:
        del self._buf
        self._shm.close()
        with contextlib.suppress(FileNotFoundError):
            self._shm.unlink()


class PriceReader:
    """A reader's side: maps an existing block read-only and reads slots.

    The block is mapped straight from ``/dev/shm`` rather than through ``SharedMemory``, whose
    resource tracker would remove the writer's block when a reader process exits.
    """

    def __init__(self, name: str) -> None:
        path = _SHM_DIR / name.lstrip("/")
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise DataError(
                f"no shared price board {name!r}: is the market data process running?"
            ) from None
        try:
            self._map = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        self.name = name
        self._buf = memoryview(self._map)
        magic, version, slots, _ = _HEADER.unpack_from(self._buf, 0)
        if magic != MAGIC or version != VERSION:
            raise DataError(f"shared memory {name!r} is not a version {VERSION} price board")
        self.slots = slots
        self._index: dict[str, int] = {}
        self.retries = 0

    def instruments(self) -> list[str]:
        self._refresh()
        return list(self._index)

    def _refresh(self) -> None:
        used = _HEADER.unpack_from(self._buf, 0)[3]
        for index in range(len(self._index), used):
            start = _HEADER_SIZE + index * _NAME_SIZE
            name = bytes(self._buf[start : start + _NAME_SIZE]).rstrip(b"\0").decode()
            self._index[name] = index

    def read(self, instrument_id: str) -> PriceSnapshot | None:
        """The latest prices of ``instrument_id``, None if the writer has not seen it yet."""
        index = self._index.get(instrument_id)
        if index is None:
            self._refresh()
            index = self._index.get(instrument_id)
            if index is None:
                return None
        buf = self._buf
        offset = _HEADER_SIZE + self.slots * _NAME_SIZE + index * _SLOT_SIZE
        for _ in range(_MAX_SPINS):
            before = _SEQ.unpack_from(buf, offset)[0]
            if before & 1:
                self.retries += 1
                continue
            fields = _FIELDS.unpack_from(buf, offset + 8)
            if _SEQ.unpack_from(buf, offset)[0] == before:
                return PriceSnapshot(instrument_id, *fields)
            self.retries += 1
        raise DataError(
            f"shared price board {self.name!r}: slot of {instrument_id} stays mid-update "
            "(did the writer die while writing it?)"
        )

    def close(self) -> None:
        self._buf.release()
        self._map.close()
