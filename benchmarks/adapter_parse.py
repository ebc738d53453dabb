"""Feed message handling rates of the native adapters, on the real recorded feeds.

Each message goes through the adapter's own handler exactly as it arrives from the socket
(bytes in): envelope decode, message decode, book maintenance (Binance update-id sync; OKX
book plus CRC32 checksum on every update) and event creation, delivered to a no-op data
handler. No network: the measured figure is the parsing ceiling of one core.
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from ttquant.testvenue.instruments import (
    BINANCE_SPOT_BTCUSDT,
    BINANCE_USDM_BTCUSDT,
    OKX_SPOT_BTCUSDT,
)
from ttquant.venues.binance import BinanceAdapter, BinanceConfig
from ttquant.venues.binance.depth import DepthSync
from ttquant.venues.binance.messages import DepthSnapshot, DepthUpdate, Envelope
from ttquant.venues.book import OrderBook
from ttquant.venues.okx import OkxAdapter, OkxConfig
from ttquant.venues.okx.book import OkxBookSync

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FEEDS = DATA / "raw_feeds" / "hftbacktest_binance"


def _binance_messages(name: str) -> tuple[list[bytes], list[bytes], bytes]:
    """Depth frames before the snapshot line (buffered by a syncing adapter), the frames after
    it, and the snapshot."""
    before: list[bytes] = []
    after: list[bytes] = []
    snapshot = b""
    with gzip.open(FEEDS / name, "rb") as handle:
        for line in handle:
            body = line.partition(b" ")[2].rstrip(b"\n")
            if b'"stream"' not in body:
                snapshot = snapshot or body
            elif snapshot:
                after.append(body)
            elif b"@depth" in body[:40]:
                before.append(body)
    return before, after, snapshot


def _okx_messages() -> list[bytes]:
    out = []
    path = DATA / "raw_messages" / "cryptofeed_captures" / "OKX.ws.1.0.txt"
    for line in path.read_bytes().splitlines():
        head, sep, body = line.partition(b": ")
        if sep and b" " not in head and b'"arg"' in body and b'"event"' not in body:
            out.append(body)
    return out


def _rate(
    handle: Callable[[bytes], None], messages: list[bytes], repeat: int, reset: Callable[[], None]
) -> float:
    best = 0.0
    for _ in range(repeat):
        reset()
        start = time.perf_counter()
        for message in messages:
            handle(message)
        best = max(best, len(messages) / (time.perf_counter() - start))
    return best


def binance(market: str, name: str, repeat: int) -> float:
    futures = market == "usdm"
    inst = BINANCE_USDM_BTCUSDT if futures else BINANCE_SPOT_BTCUSDT
    adapter = BinanceAdapter(BinanceConfig(market=market), [inst])
    adapter.set_data_handler(lambda event: None)
    adapter._streams.update(
        {
            "btcusdt@bookTicker": adapter._quote_handler(inst.id),
            "btcusdt@trade": adapter._trade_handler(inst.id),
            f"btcusdt@depth@{'0ms' if futures else '100ms'}": adapter._depth_handler("BTCUSDT"),
        }
    )
    before, frames, snapshot = _binance_messages(name)
    buffered = [
        msgspec.json.decode(
            msgspec.json.decode(f, type=Envelope).data, type=DepthUpdate, strict=False
        )
        for f in before
    ]

    def reset() -> None:  # the book as the adapter syncs it: buffered diffs, then the snapshot
        sync = adapter._depth["BTCUSDT"] = DepthSync(OrderBook(inst.id), futures)
        for diff in buffered:
            sync.on_update(diff)
        sync.on_snapshot(msgspec.json.decode(snapshot, type=DepthSnapshot, strict=False))

    return _rate(adapter._on_market_message, frames, repeat, reset)


def okx(repeat: int) -> float:
    adapter = OkxAdapter(OkxConfig(), [OKX_SPOT_BTCUSDT])
    adapter.set_data_handler(lambda event: None)

    adapter._instrument_of.update(
        {"BTC-USD-220527": OKX_SPOT_BTCUSDT.id, "UNI-USD-SWAP": OKX_SPOT_BTCUSDT.id}
    )
    messages = _okx_messages() * 20  # the capture repeated: its snapshots restart every book

    def reset() -> None:
        for symbol in ("BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP"):
            adapter._books[symbol] = OkxBookSync(symbol)

    return _rate(adapter._on_public, messages, repeat, reset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [
        (
            "Binance spot: depth@100ms + bookTicker + trade",
            binance("spot", "spot_btcusdt_20240808.jsonl.gz", args.repeat),
        ),
        (
            "Binance USDⓈ-M: depth@0ms + bookTicker + trade",
            binance("usdm", "usdm_btcusdt_20240808.jsonl.gz", args.repeat),
        ),
        ("OKX: books (checksum) + tickers + trades", okx(args.repeat)),
    ]
    for label, rate in rows:
        print(f"{label:<50} {rate / 1e3:8.1f}k msg/s")


if __name__ == "__main__":
    main()
