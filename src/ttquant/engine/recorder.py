"""Record live market data into the catalog, crash-safely, for replay through a backtest.

Events are kept exactly as the kernel handled them (``ts_event`` from the venue, ``ts_init``
when the node received them), in two steps:

1. every ``flush_interval`` the new events are appended to a **spool** file as CRC-checked
   frames (one ``os.write``): a crash loses at most that interval, and a torn last frame is cut
   off when the spool is read back;
2. every ``commit_interval`` (and at a clean stop) the spool is written into the catalog
   (``Catalog.write``: a temporary file renamed over the partition, never half a file) and
   emptied. A spool found at start (the previous run crashed) is committed first.

Committing twice is harmless: the catalog replaces trades by trade id, bars by open time and
quotes by the time span they cover, so a crash between the catalog write and the spool reset
leaves no duplicates.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import msgspec
import polars as pl

from ttquant.core.errors import ConfigError
from ttquant.data.catalog import Catalog
from ttquant.data.schema import DataType, bar_frame
from ttquant.engine.journal import frame_bytes, read_frames
from ttquant.model.data import Bar, QuoteTick, TradeTick
from ttquant.model.enums import AggressorSide

Recorded = QuoteTick | TradeTick | Bar
_AGGRESSOR = {AggressorSide.NONE: 0, AggressorSide.BUYER: 1, AggressorSide.SELLER: 2}


class _Batch(msgspec.Struct, array_like=True):
    """One spool frame: the events of one flush, as the structs the kernel used."""

    quotes: list[QuoteTick]
    trades: list[TradeTick]
    bars: list[Bar]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Batch)


class Recorder:
    """Spool and commit the market data one node handles."""

    def __init__(
        self,
        catalog: Catalog | str | Path,
        spool: Path,
        *,
        flush_interval: float = 1.0,
        commit_interval: float = 60.0,
    ) -> None:
        if flush_interval <= 0 or commit_interval < flush_interval:
            raise ConfigError("recorder: need 0 < flush_interval <= commit_interval")
        self.catalog = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
        self.spool = spool
        self.flush_interval = flush_interval
        self.commit_interval = commit_interval
        self.recorded = 0
        self.committed = 0
        self._batch = _Batch([], [], [])
        spool.parent.mkdir(parents=True, exist_ok=True)
        self.recovered = self._commit_spool()  # what a crashed run left behind
        self._fd = os.open(spool, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._next_flush = time.monotonic() + flush_interval
        self._next_commit = time.monotonic() + commit_interval

    def record(self, event: object) -> None:
        """Keep ``event`` if it is market data the catalog holds (quotes, trades, bars)."""
        kind = type(event)
        if kind is QuoteTick:
            self._batch.quotes.append(event)  # type: ignore[arg-type]
        elif kind is TradeTick:
            self._batch.trades.append(event)  # type: ignore[arg-type]
        elif kind is Bar:
            self._batch.bars.append(event)  # type: ignore[arg-type]
        else:
            return
        self.recorded += 1

    def tick(self) -> None:
        """Flush and commit when due (the node calls this about every flush interval)."""
        now = time.monotonic()
        if now >= self._next_flush:
            self.flush()
            self._next_flush = now + self.flush_interval
        if now >= self._next_commit:
            self.commit()
            self._next_commit = now + self.commit_interval

    def flush(self) -> None:
        """Append the events recorded since the last flush to the spool."""
        batch = self._batch
        if not (batch.quotes or batch.trades or batch.bars):
            return
        os.write(self._fd, frame_bytes(_encoder.encode(batch)))
        self._batch = _Batch([], [], [])

    def commit(self) -> int:
        """Write the spool into the catalog and empty it; the number of events written."""
        self.flush()
        written = self._commit_spool()
        os.ftruncate(self._fd, 0)
        return written

    def close(self) -> None:
        self.commit()
        os.close(self._fd)
        self.spool.unlink(missing_ok=True)

    def _commit_spool(self) -> int:
        if not self.spool.exists():
            return 0
        frames, _ = read_frames(self.spool.read_bytes())
        quotes: dict[str, list[QuoteTick]] = {}
        trades: dict[str, list[TradeTick]] = {}
        bars: dict[tuple[str, int], list[Bar]] = {}
        for payload in frames:
            batch = _decoder.decode(payload)
            for q in batch.quotes:
                quotes.setdefault(q.instrument_id, []).append(q)
            for t in batch.trades:
                trades.setdefault(t.instrument_id, []).append(t)
            for b in batch.bars:
                bars.setdefault((b.bar_type.instrument_id, b.bar_type.step), []).append(b)
        written = 0
        for iid, qs in quotes.items():
            self.catalog.write(iid, DataType("quotes"), _quote_frame(qs))
            written += len(qs)
        for iid, ts in trades.items():
            self.catalog.write(iid, DataType("trades"), _trade_frame(ts))
            written += len(ts)
        for (iid, step), bs in bars.items():
            self.catalog.write(iid, DataType.bars(step), bar_frame(bs))
            written += len(bs)
        self.committed += written
        return written


def _quote_frame(quotes: list[QuoteTick]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts_event": [q.ts_event for q in quotes],
            "ts_init": [q.ts_init for q in quotes],
            "bid_price": [q.bid_price for q in quotes],
            "ask_price": [q.ask_price for q in quotes],
            "bid_size": [q.bid_size for q in quotes],
            "ask_size": [q.ask_size for q in quotes],
        }
    )


def _trade_frame(trades: list[TradeTick]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts_event": [t.ts_event for t in trades],
            "ts_init": [t.ts_init for t in trades],
            "price": [t.price for t in trades],
            "size": [t.size for t in trades],
            "aggressor": pl.Series([_AGGRESSOR[t.aggressor_side] for t in trades], dtype=pl.Int8),
            "trade_id": [t.trade_id for t in trades],
        }
    )
