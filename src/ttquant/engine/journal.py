"""The node's write-ahead journal: what must survive a crash the instant it happens.

The records store commits in batches (a fraction of a second behind), which is right for
history but not for two things recovery cannot do without:

* **sends** — an order is journaled *before* its request leaves (the adapter's
  ``save_before_send``), with its venue client id and full spec. After a crash every order that
  might exist at the venue is known, even one sent a microsecond before the kill;
* **strategy state** — the variables a strategy declares (``state_vars``), written when they
  change.

Each record is a length- and CRC-prefixed msgpack frame appended with one ``os.write`` to a
file opened ``O_APPEND`` (a few microseconds; it survives the process being killed, and with
``fsync=True`` the machine losing power). Reading stops at the first torn or corrupt frame,
which a crash mid-write leaves at the end, and cuts it off. A clean stop compacts the journal
to what is still needed: the latest state of each strategy and the sends of orders left open.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from ttquant.core.errors import StoreError
from ttquant.engine.order_spec import order_spec, rebuild_order
from ttquant.model.enums import OrderSide, OrderType, TimeInForce, TrailingOffsetType
from ttquant.model.orders import Order

_HEADER = struct.Struct("<II")  # payload length, crc32 of the payload
_MAX_FRAME = 16 * 1024 * 1024


class SentOrder(msgspec.Struct, frozen=True, kw_only=True, tag="sent"):
    """An order about to be sent: its ids at both ends and everything needed to rebuild it."""

    client_order_id: str
    venue_client_id: str
    strategy_id: str
    instrument_id: str
    venue: str
    side: OrderSide
    order_type: OrderType
    quantity: float
    price: float | None
    trigger_price: float | None
    time_in_force: TimeInForce
    post_only: bool
    reduce_only: bool
    expire_ns: int | None
    exit_reason: str
    tags: tuple[str, ...]
    ts_init: int
    trailing_offset: float | None = None
    trailing_offset_type: TrailingOffsetType = TrailingOffsetType.PRICE

    @classmethod
    def of(cls, order: Order, venue_client_id: str, venue: str) -> SentOrder:
        return cls(venue_client_id=venue_client_id, venue=venue, **order_spec(order))

    def rebuild(self) -> Order:
        """A fresh (INITIALIZED) order with this spec."""
        return rebuild_order(self)


class StrategyState(msgspec.Struct, frozen=True, kw_only=True, tag="state"):
    """The declared variables of one strategy, as they were after a callback changed them."""

    strategy_id: str
    values: dict[str, Any]
    ts: int


Record = SentOrder | StrategyState
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Record)


class Journal:
    """An append-only journal file; one writer (the node's kernel thread)."""

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        self.recovered = read_journal(path, repair=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def append(self, record: Record) -> None:
        frame = frame_bytes(_encoder.encode(record))
        try:
            os.write(self._fd, frame)
            if self.fsync:
                os.fsync(self._fd)
        except OSError as exc:
            raise StoreError(f"journal {self.path}: write failed ({exc.strerror})") from None

    def compact(self, keep: Iterable[Record]) -> None:
        """Replace the journal with ``keep`` (atomically: a crash leaves the old or the new)."""
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as handle:
            for record in keep:
                handle.write(frame_bytes(_encoder.encode(record)))
            handle.flush()
            os.fsync(handle.fileno())
        os.close(self._fd)
        os.replace(tmp, self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def frame_bytes(payload: bytes) -> bytes:
    """``payload`` framed for an append-only file: length, CRC-32, bytes."""
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_frames(data: bytes) -> tuple[list[bytes], int]:
    """The whole frames at the start of ``data`` and the length they cover (a torn or corrupt
    frame, and everything after it, is not returned)."""
    frames: list[bytes] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        payload = data[start : start + length]
        if length > _MAX_FRAME or len(payload) < length or zlib.crc32(payload) != crc:
            break
        frames.append(payload)
        offset = start + length
    return frames, offset


def read_journal(path: Path, *, repair: bool = False) -> list[Record]:
    """Every whole record in ``path`` (none if it does not exist); ``repair`` cuts a torn tail."""
    if not path.exists():
        return []
    data = path.read_bytes()
    frames, good = read_frames(data)
    records: list[Record] = []
    for payload in frames:
        try:
            records.append(_decoder.decode(payload))
        except msgspec.DecodeError:
            good = sum(_HEADER.size + len(p) for p in frames[: len(records)])
            break
    if repair and good < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(good)
    return records
