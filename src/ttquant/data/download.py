"""Download OHLCV bars and trades from an exchange through ccxt into the catalog.

Pages are fetched oldest first and written to the catalog every ``flush_pages`` pages, each
write atomic and deduplicating, so an interrupted download keeps what it fetched and the next run
resumes from the last stored row instead of starting over. ccxt's own throttle keeps requests
within the exchange's published rate limit; when the exchange still answers "too many requests"
(HTTP 429/418) or the network fails, the page is retried after an exponentially growing pause,
and after ``retries`` failures the download stops with one line saying where it stopped.

``api_url`` replaces the scheme and host of every REST endpoint ccxt knows for the exchange (a
mirror, a proxy, or a loopback server in tests).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import polars as pl

from ttquant.core.errors import ConfigError, DataError
from ttquant.core.time import NANOS_PER_MILLI, ns_to_iso
from ttquant.data.catalog import Catalog
from ttquant.data.schema import DataType
from ttquant.model.data import parse_step
from ttquant.model.instruments import instrument_id

__all__ = ["DownloadResult", "Downloader"]

_ONE_HOUR_MS: Final = 3_600_000
_AGGRESSOR: Final = {"buy": 1, "sell": 2}


@dataclass(frozen=True, slots=True)
class DownloadResult:
    instrument: str
    data_type: DataType
    rows: int  # rows fetched and stored
    requests: int  # pages fetched (retries not counted)
    retries: int
    resumed_from_ns: int | None  # where an earlier download's data made this one start


class Downloader:
    """Fetch one exchange's data into a catalog."""

    def __init__(
        self,
        catalog: Catalog,
        exchange: str,
        *,
        api_url: str | None = None,
        page_limit: int = 1000,
        flush_pages: int = 20,
        retries: int = 5,
        backoff_s: float = 1.0,
    ) -> None:
        self.catalog = catalog
        self.venue = exchange.upper()
        self.page_limit = page_limit
        self.flush_pages = flush_pages
        self.retries = retries
        self.backoff_s = backoff_s
        self._exchange = _make_exchange(exchange, api_url)
        self._markets_loaded = False
        self.requests = 0
        self.retried = 0

    def ohlcv(
        self, symbol: str, timeframe: str, since_ns: int, until_ns: int | None = None
    ) -> DownloadResult:
        """Bars of ``timeframe`` with ``since_ns <= open < until_ns`` (default: now)."""
        step_ns = parse_step(timeframe)
        data_type = DataType.bars(step_ns)
        iid = instrument_id(symbol, self.venue)
        start_ns, resumed = self._resume_point(iid, data_type, since_ns)
        end_ns = until_ns if until_ns is not None else time.time_ns()
        self._load_markets(symbol)
        since_ms = _ceil_ms(start_ns)
        pages: list[list[Any]] = []
        rows = 0
        while since_ms * NANOS_PER_MILLI < end_ns:
            candles = self._call(
                "fetch_ohlcv", symbol, since_ms, timeframe, since_ms, self.page_limit
            )
            candles = [c for c in candles if c[0] >= since_ms and c[0] * NANOS_PER_MILLI < end_ns]
            if not candles:
                break
            pages.append(candles)
            since_ms = int(candles[-1][0]) + step_ns // NANOS_PER_MILLI
            if len(pages) >= self.flush_pages:
                rows += self._store_bars(iid, data_type, pages)
        rows += self._store_bars(iid, data_type, pages)
        return DownloadResult(iid, data_type, rows, self.requests, self.retried, resumed)

    def trades(self, symbol: str, since_ns: int, until_ns: int | None = None) -> DownloadResult:
        """Trades with ``since_ns <= time < until_ns`` (default: now)."""
        data_type = DataType("trades")
        iid = instrument_id(symbol, self.venue)
        start_ns, resumed = self._resume_point(iid, data_type, since_ns)
        end_ms = _ceil_ms(until_ns if until_ns is not None else time.time_ns())
        self._load_markets(symbol)
        since_ms = start_ns // NANOS_PER_MILLI
        pages: list[list[dict[str, Any]]] = []
        rows = 0
        last_ids: set[str] = set()
        while since_ms < end_ms:
            window_end = min(end_ms, since_ms + _ONE_HOUR_MS)
            until = {"until": window_end - 1}
            trades = self._call("fetch_trades", symbol, since_ms, since_ms, self.page_limit, until)
            fresh = [t for t in trades if t["timestamp"] < end_ms and str(t["id"]) not in last_ids]
            if not fresh:  # nothing new: move past what was seen, or on by the empty window
                since_ms = max((int(t["timestamp"]) + 1 for t in trades), default=window_end)
                last_ids = set()
                continue
            pages.append(fresh)
            newest = max(int(t["timestamp"]) for t in fresh)
            # trades of the newest millisecond may continue on the next page: ask from it again
            # and skip the ones already seen
            last_ids = {str(t["id"]) for t in fresh if int(t["timestamp"]) == newest}
            since_ms = newest if len(trades) >= self.page_limit else newest + 1
            if len(pages) >= self.flush_pages:
                rows += self._store_trades(iid, pages)
        rows += self._store_trades(iid, pages)
        return DownloadResult(iid, data_type, rows, self.requests, self.retried, resumed)

    # -- internals ------------------------------------------------------------------------------
    def _resume_point(self, iid: str, data_type: DataType, since_ns: int) -> tuple[int, int | None]:
        """Start at the last stored row when it is later than ``since_ns``: that row is fetched
        again (a bar stored before it closed gets its final values)."""
        last = self.catalog.last_ts(iid, data_type)
        if last is not None and last > since_ns:
            return last, last
        return since_ns, None

    def _load_markets(self, symbol: str) -> None:
        if self._markets_loaded:
            return
        self._call("load_markets", symbol, 0)
        self._markets_loaded = True
        if symbol not in self._exchange.markets:
            raise ConfigError(f"{self.venue} has no market {symbol!r}")

    def _call(self, method: str, symbol: str, since_ms: int, *args: Any) -> Any:
        """``exchange.method(symbol, *args)`` (``load_markets()``: no arguments), retried with
        growing pauses on rate limiting and network errors; ``since_ms`` is for the message."""
        import ccxt

        attempt = 0
        while True:
            try:
                call = getattr(self._exchange, method)
                result = call() if method == "load_markets" else call(symbol, *args)
                if method != "load_markets":
                    self.requests += 1
                return result
            except ccxt.OperationFailed as exc:  # rate limits, network, "try again" answers
                attempt += 1
                if attempt > self.retries:
                    raise DataError(
                        f"{self.venue} {symbol}: download stopped at "
                        f"{ns_to_iso(since_ms * NANOS_PER_MILLI)} after {self.retries} retries "
                        f"({type(exc).__name__}: {_short(exc)}); what was fetched is stored, "
                        "run again to resume"
                    ) from None
                self.retried += 1
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            except ccxt.BadSymbol:
                raise ConfigError(f"{self.venue} has no market {symbol!r}") from None
            except ccxt.ExchangeError as exc:
                raise DataError(
                    f"{self.venue} {symbol}: the exchange refused the request "
                    f"({type(exc).__name__}: {_short(exc)})"
                ) from None

    def _store_bars(self, iid: str, data_type: DataType, pages: list[list[Any]]) -> int:
        if not pages:
            return 0
        rows = np.array([c[:6] for page in pages for c in page], dtype=np.float64)
        pages.clear()
        ts = rows[:, 0].astype(np.int64) * NANOS_PER_MILLI
        close = ts + data_type.step
        frame = pl.DataFrame(
            {
                "ts_event": ts,
                "ts_init": close,
                "open": rows[:, 1],
                "high": rows[:, 2],
                "low": rows[:, 3],
                "close": rows[:, 4],
                "volume": rows[:, 5],
                "complete": close <= time.time_ns(),  # the running candle is not final yet
            }
        )
        return self.catalog.write(iid, data_type, frame).rows

    def _store_trades(self, iid: str, pages: list[list[dict[str, Any]]]) -> int:
        if not pages:
            return 0
        trades = [t for page in pages for t in page]
        pages.clear()
        ts = np.array([t["timestamp"] for t in trades], dtype=np.int64) * NANOS_PER_MILLI
        frame = pl.DataFrame(
            {
                "ts_event": ts,
                "ts_init": ts,
                "price": np.array([t["price"] for t in trades], dtype=np.float64),
                "size": np.array([t["amount"] for t in trades], dtype=np.float64),
                "aggressor": np.array(
                    [_AGGRESSOR.get(t.get("side") or "", 0) for t in trades], dtype=np.int8
                ),
                "trade_id": [str(t["id"]) if t.get("id") is not None else "" for t in trades],
            }
        )
        return self.catalog.write(iid, DataType("trades"), frame).rows


def _make_exchange(exchange: str, api_url: str | None) -> Any:
    import ccxt

    config: dict[str, Any] = {"enableRateLimit": True}  # ccxt paces requests to the venue's limit
    if exchange.lower() not in ccxt.exchanges:
        raise ConfigError(f"unknown exchange {exchange!r} (ccxt ids such as binance, okx)")
    instance = getattr(ccxt, exchange.lower())(config)
    if api_url is not None:
        instance.urls["api"] = _rehost(instance.urls["api"], api_url)
    return instance


def _rehost(urls: Any, base: str) -> Any:
    """Every URL in ccxt's (nested) ``urls['api']`` with its scheme and host taken from ``base``."""
    if isinstance(urls, dict):
        return {k: _rehost(v, base) for k, v in urls.items()}
    if isinstance(urls, str) and urls.startswith("http"):
        target = urlsplit(base)
        parts = urlsplit(urls)
        return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))
    return urls


def _ceil_ms(ns: int) -> int:
    return -(-ns // NANOS_PER_MILLI)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text[:200]
