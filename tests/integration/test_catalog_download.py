"""``Downloader`` through ccxt against a loopback server that answers in Binance's REST format
with real data: pagination, rate limiting, retries and incremental resume."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import polars as pl
import pytest
from tests.conftest import BTC_1M, SHARED_DATA

from ttquant.core.errors import ConfigError, DataError
from ttquant.data.bars import load_ohlcv
from ttquant.data.catalog import Catalog
from ttquant.data.download import Downloader
from ttquant.data.schema import DataType

MS = 1_000_000
BTC = "BTC/USDT@BINANCE"
DAY_MS = 86_400_000


@dataclass
class BinanceRest:
    """Binance spot REST (exchangeInfo, klines, aggTrades) over real shared data."""

    klines: np.ndarray  # rows: open_ms, o, h, l, c, v
    trades: list[dict[str, Any]]
    exchange_info: bytes
    requests: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    too_many_at: set[int] = field(default_factory=set)  # data request numbers answered 429
    down_after: int | None = None  # data requests served before the server answers 503
    url: str = ""

    def data_requests(self) -> list[tuple[float, str, dict[str, str]]]:
        return [r for r in self.requests if not r[1].endswith("exchangeInfo")]

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, bytes]:
        self.requests.append((time.monotonic(), path, query))
        if path.endswith("exchangeInfo"):
            if path.startswith("/api/"):
                return 200, self.exchange_info
            return 200, b'{"timezone":"UTC","serverTime":0,"rateLimits":[],"symbols":[]}'
        n = len(self.data_requests())
        if n in self.too_many_at:
            return 429, b'{"code":-1003,"msg":"Too many requests; current limit is 1200."}'
        if self.down_after is not None and n > self.down_after:
            return 503, b'{"code":-1001,"msg":"Service unavailable."}'
        if query.get("symbol") != "BTCUSDT":
            return 400, b'{"code":-1121,"msg":"Invalid symbol."}'
        limit = min(int(query.get("limit", 500)), 1000)
        start = int(query.get("startTime", 0))
        end = int(query.get("endTime", 2**62))
        if path == "/api/v3/klines":
            rows = self.klines[(self.klines[:, 0] >= start) & (self.klines[:, 0] <= end)][:limit]
            body: list[Any] = [
                [
                    int(r[0]),
                    *(f"{x:.8f}" for x in r[1:6]),
                    int(r[0]) + 59_999,
                    "0",
                    0,
                    "0",
                    "0",
                    "0",
                ]
                for r in rows
            ]
        elif path == "/api/v3/aggTrades":
            body = [t for t in self.trades if start <= t["T"] <= end][:limit]
        else:
            return 404, b'{"code":-1,"msg":"not found"}'
        return 200, json.dumps(body).encode()


@pytest.fixture
def binance() -> Iterator[BinanceRest]:
    bars = load_ohlcv(BTC_1M).slice_time(None, 1_641_168_000 * 10**9)  # 2022-01-01 and 02
    klines = np.column_stack(
        [bars.ts // MS, bars.open, bars.high, bars.low, bars.close, bars.volume]
    )
    ticks = pl.read_csv(
        SHARED_DATA / "ticks" / "binance_BTC_trades_20240808-09.csv.gz", infer_schema=False
    ).with_columns(
        pl.col("trade_id", "trade_ts_ms").cast(pl.Int64), pl.col("is_buyer_maker") == "True"
    )
    spot = ticks.filter(pl.col("market") == "spot").sort("trade_ts_ms", "trade_id")
    trades = [
        {
            "a": r["trade_id"],
            "p": str(r["price"]),
            "q": str(r["qty"]),
            "f": r["trade_id"],
            "l": r["trade_id"],
            "T": r["trade_ts_ms"],
            "m": r["is_buyer_maker"],
            "M": True,
        }
        for r in spot.iter_rows(named=True)
    ]
    capture = SHARED_DATA / "raw_messages" / "cryptofeed_captures" / "BINANCE.0.txt.gz"
    first_line = gzip.decompress(capture.read_bytes()).split(b"\n", 1)[0]
    info = first_line.split(b": ", 1)[1]  # "<url> -> <ts>: <body>"
    server_state = BinanceRest(klines, trades, info)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            status, body = server_state.answer(parts.path, query)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server_state
    server.shutdown()
    server.server_close()


def _downloader(tmp_path: Path, server: BinanceRest, **kwargs: Any) -> Downloader:
    options = {"page_limit": 500, "backoff_s": 0.01, **kwargs}
    return Downloader(Catalog(tmp_path), "binance", api_url=server.url, **options)


def test_ohlcv_is_paginated_throttled_and_stored(tmp_path: Path, binance: BinanceRest) -> None:
    since = 1_640_995_200 * 10**9  # 2022-01-01
    result = _downloader(tmp_path, binance).ohlcv("BTC/USDT", "1m", since, since + 2 * DAY_MS * MS)
    assert (result.rows, result.requests, result.retries) == (2880, 6, 0)
    stored = Catalog(tmp_path).read(BTC, DataType.bars("1m"))
    assert stored["ts_event"].to_list() == (binance.klines[:, 0].astype(np.int64) * MS).tolist()
    for i, name in enumerate(("open", "high", "low", "close", "volume"), start=1):
        assert np.allclose(stored[name].to_numpy(), binance.klines[:, i], rtol=1e-12, atol=1e-8)
    assert stored["complete"].all()
    starts = [int(q["startTime"]) for _, _, q in binance.data_requests()]
    assert starts == [since // MS + 500 * 60_000 * k for k in range(6)]  # each page after the last


def test_rate_limit_answers_are_retried(tmp_path: Path, binance: BinanceRest) -> None:
    binance.too_many_at = {2, 3}
    since = 1_640_995_200 * 10**9
    result = _downloader(tmp_path, binance).ohlcv("BTC/USDT", "1m", since, since + DAY_MS * MS)
    assert (result.rows, result.retries) == (1440, 2)


def test_an_interrupted_download_resumes_from_the_catalog(
    tmp_path: Path, binance: BinanceRest
) -> None:
    since = 1_640_995_200 * 10**9
    until = since + 2 * DAY_MS * MS
    binance.down_after = 3
    with pytest.raises(DataError, match=r"download stopped at 2022-01-0.* run again to resume"):
        _downloader(tmp_path, binance, retries=2, flush_pages=1).ohlcv(
            "BTC/USDT", "1m", since, until
        )
    stored = Catalog(tmp_path).read(BTC, DataType.bars("1m"))
    assert stored.height == 1500  # three pages were fetched and kept
    binance.down_after = None
    binance.requests.clear()
    result = _downloader(tmp_path, binance).ohlcv("BTC/USDT", "1m", since, until)
    last_stored = int(stored["ts_event"][-1])
    assert result.resumed_from_ns == last_stored
    assert int(binance.data_requests()[0][2]["startTime"]) == last_stored // MS
    assert Catalog(tmp_path).read(BTC, DataType.bars("1m")).height == 2880


def test_trades_download_pages_through_every_trade(tmp_path: Path, binance: BinanceRest) -> None:
    first, last = binance.trades[0]["T"], binance.trades[-1]["T"]
    result = _downloader(tmp_path, binance, page_limit=1000).trades(
        "BTC/USDT", first * MS, (last + 1) * MS
    )
    stored = Catalog(tmp_path).read(BTC, DataType("trades"))
    assert result.rows >= len(binance.trades)  # pages overlap on a shared millisecond
    assert stored["trade_id"].to_list() == [str(t["a"]) for t in binance.trades]
    assert stored["aggressor"].to_list() == [2 if t["m"] else 1 for t in binance.trades]


def test_an_unknown_symbol_is_one_clear_error(tmp_path: Path, binance: BinanceRest) -> None:
    with pytest.raises(ConfigError, match="BINANCE has no market 'NOPE/USDT'"):
        _downloader(tmp_path, binance).ohlcv("NOPE/USDT", "1m", 0, 10**18)
