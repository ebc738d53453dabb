"""Recorded exchange feeds, loaded for replay by the test venue.

Two recording formats are read, both kept byte-identical to what the exchange sent:

* hftbacktest captures (``<recv_ns> <json>`` per line): Binance combined-stream frames plus one
  REST depth snapshot line (no ``stream`` key);
* cryptofeed captures (``<recv_s>: <json>`` per line, ``... <-`` lines for what was sent): a
  WebSocket session, with REST depth snapshots in a companion ``.http`` file (Binance) or book
  snapshots inside the stream (OKX).

A replay starts where the venue's book can be known: at the first snapshot.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import msgspec

from ttquant.core.errors import DataError


class FeedRecord(msgspec.Struct, frozen=True, gc=False):
    """One recorded message: when it arrived, where it belongs, and its exact bytes.

    ``channel`` is ``symbol@kind`` for Binance (``btcusdt@depth``) and ``channel:instId`` for
    OKX (``books:BTC-USDT``). ``payload`` is the message body a subscriber receives: Binance's
    ``data`` object, OKX's whole push.
    """

    ts_ns: int
    channel: str
    payload: bytes


class Recording(msgspec.Struct):
    records: list[FeedRecord]
    snapshots: dict[str, bytes]  # Binance: venue symbol -> REST depth snapshot body

    @property
    def span_ns(self) -> int:
        return self.records[-1].ts_ns - self.records[0].ts_ns if self.records else 0


class _Frame(msgspec.Struct):
    stream: str = ""
    data: msgspec.Raw = msgspec.Raw()


class _OkxArg(msgspec.Struct):
    channel: str
    instId: str = ""  # noqa: N815  (OKX's spelling)


class _OkxPush(msgspec.Struct):
    arg: _OkxArg | None = None
    event: str = ""


class _SnapshotId(msgspec.Struct):
    lastUpdateId: int  # noqa: N815  (Binance's spelling)


class _UpdateId(msgspec.Struct):
    u: int


_frame = msgspec.json.Decoder(_Frame)
_snapshot_id = msgspec.json.Decoder(_SnapshotId)
_update_id = msgspec.json.Decoder(_UpdateId)
_okx_push = msgspec.json.Decoder(_OkxPush)


def _open_lines(path: Path) -> Iterator[bytes]:
    if not path.is_file():
        raise DataError(f"recorded feed {path} does not exist")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        yield from handle


def _binance_channel(stream: str) -> str:
    """``btcusdt@depth@100ms`` -> ``btcusdt@depth``; ``btcusdt@kline_1m`` unchanged."""
    symbol, _, kind = stream.partition("@")
    return f"{symbol}@{kind.split('@')[0]}"


def load_hftbacktest(paths: list[Path]) -> Recording:
    """Binance captures of hftbacktest's collector, concatenated in the order given.

    The replay starts with the first depth diff the snapshot does not already contain: the
    collector took the snapshot while diffs were arriving, so the diff that straddles it was
    recorded just before the snapshot line.
    """
    records: list[FeedRecord] = []
    snapshots: dict[str, bytes] = {}
    snapshot_at = -1
    symbol = ""
    for path in paths:
        for lineno, line in enumerate(_open_lines(path), 1):
            ts_text, _, body = line.rstrip(b"\n").partition(b" ")
            try:
                ts_ns = int(ts_text)
                frame = _frame.decode(body)
            except (ValueError, msgspec.DecodeError) as exc:
                raise DataError(f"{path}:{lineno}: not a '<ns> <json>' feed line ({exc})") from exc
            if not frame.data:  # a REST depth snapshot
                if snapshot_at < 0:
                    snapshots[symbol.upper()] = body
                    snapshot_at = len(records)
                continue
            symbol = frame.stream.partition("@")[0]
            records.append(FeedRecord(ts_ns, _binance_channel(frame.stream), bytes(frame.data)))
    if snapshot_at < 0:
        raise DataError(f"no depth snapshot line in {', '.join(map(str, paths))}")
    last_id = _snapshot_id.decode(next(iter(snapshots.values()))).lastUpdateId
    start = snapshot_at
    for i in range(snapshot_at - 1, -1, -1):
        record = records[i]
        if record.channel.endswith("@depth") and _update_id.decode(record.payload).u > last_id:
            start = i
    return Recording(records=records[start:], snapshots=snapshots)


def _cryptofeed_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(receive ns, json) of incoming messages; connect and outgoing lines skipped."""
    for line in _open_lines(path):
        head, sep, body = line.rstrip(b"\n").partition(b": ")
        if not sep or b" " in head.strip():
            continue  # "<url> <-> ts" or "<url> <- ts: {...}"
        try:
            ts_ns = int(float(head) * 1e9)
        except ValueError:
            continue
        yield ts_ns, body


def load_cryptofeed_binance(ws_path: Path, http_path: Path) -> Recording:
    """A cryptofeed Binance session and its REST depth snapshots; replay from the last snapshot."""
    snapshots: dict[str, bytes] = {}
    snap_ts = 0
    for lineno, line in enumerate(_open_lines(http_path), 1):
        if not line.strip():
            continue
        url, _, rest = line.rstrip(b"\n").partition(b" -> ")
        ts_text, _, body = rest.partition(b": ")
        try:
            symbol = url.split(b"symbol=")[1].split(b"&")[0].decode()
            snap_ts = max(snap_ts, int(float(ts_text) * 1e9))
        except (IndexError, ValueError) as exc:
            raise DataError(f"{http_path}:{lineno}: not a '<url> -> <ts>: <json>' line") from exc
        snapshots[symbol] = body
    records = []
    for ts_ns, body in _cryptofeed_lines(ws_path):
        frame = _frame.decode(body)
        if frame.data and ts_ns >= snap_ts:
            records.append(FeedRecord(ts_ns, _binance_channel(frame.stream), bytes(frame.data)))
    return Recording(records=records, snapshots=snapshots)


def load_cryptofeed_okx(ws_path: Path) -> Recording:
    """A cryptofeed OKX v5 public session; replay from the first book snapshot."""
    records = []
    started = False
    for ts_ns, body in _cryptofeed_lines(ws_path):
        push = _okx_push.decode(body)
        if push.arg is None or push.event:
            continue  # subscribe acknowledgements
        if push.arg.channel == "books" and b'"action":"snapshot"' in body:
            started = True
        if started:
            records.append(FeedRecord(ts_ns, f"{push.arg.channel}:{push.arg.instId}", body))
    if not started:
        raise DataError(f"no OKX book snapshot in {ws_path}")
    return Recording(records=records, snapshots={})
