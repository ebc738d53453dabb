"""Importers: market data files of known formats turned into catalog frames.

Formats (``format="auto"`` tells them apart by magic bytes, file name and columns):

* ``table``: any CSV/Parquet/Feather of bars, trades or quotes. Columns are matched by common
  names (``ts``/``timestamp``/``time``..., ``qty``/``amount``..., ``bid``/``bid_px``...) or mapped
  explicitly (``columns={"ts_event": "Time", "size": "Qty"}``). Epoch timestamps in s, ms, us or
  ns are told apart by magnitude; text timestamps are ISO 8601 in ``timezone``.
* ``binance``: Binance public data dumps (data.binance.vision): klines, trades and aggTrades, zip
  or CSV, with or without a header, spot (ms or, from 2025, us times) and futures.
* ``freqtrade``: freqtrade's data files, OHLCV and trades, JSON (optionally gzipped) or Feather.
* ``shared``: the trade and book-ticker CSVs of several Binance markets in one file (columns
  ``market``, ``symbol``); each market and symbol becomes its own instrument.

Exchange symbols become ccxt-style symbols (``BTCUSDT`` → ``BTC/USDT``; a USDⓈ-M perpetual →
``BTC/USDT:USDT``; ``BTCUSD_PERP`` → ``BTC/USD:BTC``) so that imported and downloaded data of an
instrument land in the same place; pass ``symbol`` to choose another name.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

import msgspec
import numpy as np
import polars as pl

from ttquant.core.errors import ConfigError, DataError
from ttquant.data.bars import infer_step_ns
from ttquant.data.columns import NS_PER_UNIT, Locator, first_line, floats, timestamps_ns
from ttquant.data.schema import DataType
from ttquant.data.sources import csv_frame, read_content
from ttquant.model.data import parse_step
from ttquant.model.instruments import instrument_id

__all__ = ["FORMATS", "ImportOptions", "Imported", "import_file", "unified_symbol"]

FORMATS: Final = ("auto", "table", "binance", "freqtrade", "shared")

_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "ts_event": (
        "ts_event",
        "ts",
        "timestamp",
        "time",
        "date",
        "datetime",
        "open_time",
        "timestamp_utc",
        "timestamp_ms",
        "transact_time",
        "trade_ts_ms",
        "trade_time",
        "datetime_ny",
    ),
    "ts_init": ("ts_init", "local_ts_ns", "ts_recv", "local_timestamp", "recv_time"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "v", "vol"),
    "price": ("price", "p", "last_price"),
    "size": ("size", "qty", "quantity", "amount", "q", "volume"),
    "side": ("side", "aggressor_side", "aggressor", "is_buyer_maker", "buyer_maker", "m"),
    "trade_id": ("trade_id", "id", "agg_trade_id", "a", "tid"),
    "bid_price": ("bid_price", "bid", "bid_px", "bidprice", "best_bid_price"),
    "ask_price": ("ask_price", "ask", "ask_px", "askprice", "best_ask_price"),
    "bid_size": ("bid_size", "bid_qty", "bid_amount", "bidsize", "best_bid_qty"),
    "ask_size": ("ask_size", "ask_qty", "ask_amount", "asksize", "best_ask_qty"),
}
_REQUIRED: Final = {
    "bars": ("ts_event", "open", "high", "low", "close"),
    "trades": ("ts_event", "price", "size"),
    "quotes": ("ts_event", "bid_price", "ask_price"),
}
_OPTIONAL: Final = {
    "bars": ("volume",),
    "trades": ("ts_init", "side", "trade_id"),
    "quotes": ("ts_init", "bid_size", "ask_size"),
}
_BUYER: Final = frozenset({"buy", "b", "buyer", "bid"})
_SELLER: Final = frozenset({"sell", "s", "seller", "ask"})
_TRUE: Final = frozenset({"true", "1", "t", "yes"})
_FALSE: Final = frozenset({"false", "0", "f", "no"})
_QUOTE_ASSETS: Final = (
    "FDUSD",
    "USDT",
    "USDC",
    "BUSD",
    "TUSD",
    "USDP",
    "DAI",
    "BTC",
    "ETH",
    "BNB",
    "EUR",
    "TRY",
    "BRL",
    "GBP",
    "JPY",
    "AUD",
    "USD",
)
_BINANCE_NAME: Final = re.compile(
    r"(?P<symbol>[A-Z0-9_]+)-(?P<what>\d+[smhdw]|1mo|trades|aggTrades)-\d{4}-\d{2}(-\d{2})?"
    r"\.(zip|csv)$"
)
_BINANCE_COLUMNS: Final = {
    "klines": (
        "open_time",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "close_time",
        "quote_volume",
        "count",
        "taker_buy_volume",
        "taker_buy_quote_volume",
        "ignore",
    ),
    "trades": ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match"),
    "aggTrades": (
        "agg_trade_id",
        "price",
        "quantity",
        "first_trade_id",
        "last_trade_id",
        "transact_time",
        "is_buyer_maker",
        "is_best_match",
    ),
}
_FREQTRADE_NAME: Final = re.compile(
    r"(?P<pair>[A-Za-z0-9]+(_[A-Za-z0-9]+){1,2})-(?P<what>\d+[smhdwM]|trades)(-\w+)?"
    r"\.(json|json\.gz|jsongz|feather)$"
)
_FREQTRADE_TRADE_COLUMNS: Final = ("timestamp", "id", "type", "side", "price", "amount", "cost")
_FREQTRADE_TRADE_MAP: Final = {"ts_event": "timestamp", "size": "amount", "trade_id": "id"}
_FREQTRADE_OHLCV_COLUMNS: Final = ("date", "open", "high", "low", "close", "volume")
_SHARED_MARKETS: Final = {"spot": "spot", "usdm": "linear", "cm": "inverse"}


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """What the file itself may not say; every field is optional where the format says it."""

    format: str = "auto"
    symbol: str | None = None  # ccxt-style, e.g. BTC/USDT; default: from the file
    venue: str | None = None  # default: BINANCE for Binance formats, else required
    data_type: str | None = None  # bars, bars_1m, trades or quotes (table format)
    columns: Mapping[str, str] = field(default_factory=dict)  # catalog column -> file column
    timestamp_unit: str | None = None  # s, ms, us or ns; default: by magnitude
    timezone: str = "UTC"  # of text timestamps without an offset


@dataclass(frozen=True, slots=True)
class Imported:
    instrument: str
    data_type: DataType
    frame: pl.DataFrame


def import_file(path: str | Path, options: ImportOptions | None = None) -> list[Imported]:
    """The data of one file, one entry per instrument and data type it holds."""
    opts = options or ImportOptions()
    if opts.format not in FORMATS:
        raise ConfigError(f"unknown format {opts.format!r}; expected one of {', '.join(FORMATS)}")
    if opts.timestamp_unit is not None and opts.timestamp_unit not in NS_PER_UNIT:
        raise ConfigError(
            f"timestamp unit must be one of {', '.join(NS_PER_UNIT)}; got {opts.timestamp_unit!r}"
        )
    p = Path(path)
    data, kind = read_content(p)
    fmt = opts.format if opts.format != "auto" else _detect(p, data, kind)
    if fmt == "binance":
        return [_binance(p, data, kind, opts)]
    if fmt == "freqtrade":
        return [_freqtrade(p, data, kind, opts)]
    frame, loc = _table_frame(p, data, kind)
    if fmt == "shared" or ("market" in frame.columns and "symbol" in frame.columns):
        return _shared(frame, loc, opts)
    return _table(frame, loc, opts)


def unified_symbol(raw: str, market: str = "spot") -> str:
    """A ccxt-style symbol for an exchange symbol: BTCUSDT → BTC/USDT, and for derivatives
    (``market`` linear or inverse) BTCUSDT → BTC/USDT:USDT, BTCUSD_PERP → BTC/USD:BTC."""
    if "/" in raw:
        return raw
    name, _, suffix = raw.partition("_")
    expiry = "" if suffix in ("", "PERP") else f"-{suffix}"
    for quote in _QUOTE_ASSETS:
        if name.endswith(quote) and len(name) > len(quote):
            base = name[: -len(quote)]
            if market == "linear":
                return f"{base}/{quote}:{quote}{expiry}"
            if market == "inverse":
                return f"{base}/{quote}:{base}{expiry}"
            return f"{base}/{quote}"
    return raw


# ------------------------------------------------------------------------------ detection


def _detect(path: Path, data: bytes, kind: str) -> str:
    if _BINANCE_NAME.search(path.name):
        return "binance"
    if _FREQTRADE_NAME.search(path.name) or kind == "ipc" or data.lstrip()[:1] == b"[":
        return "freqtrade"
    return "table"


def _table_frame(path: Path, data: bytes, kind: str) -> tuple[pl.DataFrame, Locator]:
    try:
        if kind == "parquet":
            return pl.read_parquet(io.BytesIO(data)), Locator(str(path), is_parquet=True)
        if kind == "ipc":
            return pl.read_ipc(io.BytesIO(data)), Locator(str(path), is_parquet=True)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"{path}: unreadable {kind} file: {first_line(exc)}") from None
    return csv_frame(data, path, has_header=True), Locator(str(path), is_parquet=False)


# ------------------------------------------------------------------------------ table


def _resolve_columns(
    frame: pl.DataFrame, kind: str, mapping: Mapping[str, str], loc: Locator
) -> dict[str, str]:
    """Catalog column -> file column for the required and the present optional columns."""
    by_lower: dict[str, str] = {}
    for name in frame.columns:
        by_lower.setdefault(name.strip().lower(), name)
    unknown = [k for k in mapping if k not in _ALIASES]
    if unknown:
        raise ConfigError(
            f"unknown column mapping {unknown[0]!r}; map one of {', '.join(_ALIASES)}"
        )
    found: dict[str, str] = {}
    where = "" if loc.is_parquet else "line 1: "
    for target in (*_REQUIRED[kind], *_OPTIONAL[kind]):
        if target in mapping:
            source = by_lower.get(mapping[target].strip().lower())
            if source is None:
                raise loc.file_error(
                    f"{where}no column {mapping[target]!r} (mapped to {target}); columns: "
                    + ", ".join(frame.columns)
                )
            found[target] = source
            continue
        taken = set(found.values())
        match = next(
            (by_lower[a] for a in _ALIASES[target] if a in by_lower and by_lower[a] not in taken),
            None,
        )
        if match is not None:
            found[target] = match
        elif target in _REQUIRED[kind]:
            raise loc.file_error(
                f"{where}missing column for {target} (one of {', '.join(_ALIASES[target])}; "
                f"or map it); columns found: {', '.join(frame.columns)}"
            )
    return found


def _table(frame: pl.DataFrame, loc: Locator, opts: ImportOptions) -> list[Imported]:
    if opts.data_type is None:
        raise ConfigError(f"{loc.source}: say what the file holds: bars, bars_STEP, trades, quotes")
    kind = opts.data_type.strip().lower()
    kind = "bars" if kind.startswith("bars") else kind
    if kind not in _REQUIRED:
        raise ConfigError(f"unknown data type {opts.data_type!r}: bars, bars_STEP, trades, quotes")
    if "symbol" in frame.columns and opts.symbol is None:
        symbols = frame["symbol"].unique(maintain_order=True).to_list()
        return [
            _converted(frame.filter(pl.col("symbol") == s), loc, opts, kind, str(s), "spot")
            for s in symbols
        ]
    if opts.symbol is None:
        raise ConfigError(f"{loc.source}: the file names no symbol; give one (e.g. BTC/USDT)")
    return [_converted(frame, loc, opts, kind, opts.symbol, "spot")]


def _converted(
    frame: pl.DataFrame, loc: Locator, opts: ImportOptions, kind: str, symbol: str, market: str
) -> Imported:
    venue = opts.venue
    if venue is None:
        raise ConfigError(f"{loc.source}: give the venue the data comes from (e.g. BINANCE)")
    columns = _resolve_columns(frame, kind, opts.columns, loc)
    iid = instrument_id(opts.symbol or unified_symbol(symbol, market), venue)
    if frame.height == 0:
        raise loc.file_error("no data rows")
    ts = timestamps_ns(frame[columns["ts_event"]], opts.timestamp_unit, opts.timezone, loc)
    if kind == "bars":
        return _bars_frame(iid, ts, frame, columns, loc, opts.data_type or "bars")
    if kind == "trades":
        return Imported(iid, DataType("trades"), _trades_frame(ts, frame, columns, loc, opts))
    ts_init = _ts_init(ts, frame, columns, loc, opts)
    sizes = {
        name: floats(frame[columns[name]], name, loc) if name in columns else np.zeros(frame.height)
        for name in ("bid_size", "ask_size")
    }
    quotes = pl.DataFrame(
        {
            "ts_event": ts,
            "ts_init": ts_init,
            "bid_price": floats(frame[columns["bid_price"]], "bid_price", loc),
            "ask_price": floats(frame[columns["ask_price"]], "ask_price", loc),
            **sizes,
        }
    )
    return Imported(iid, DataType("quotes"), quotes)


def _bars_frame(
    iid: str,
    ts: np.ndarray,
    frame: pl.DataFrame,
    columns: Mapping[str, str],
    loc: Locator,
    data_type: str,
) -> Imported:
    text = data_type.strip().lower()
    step = parse_step(text.removeprefix("bars_")) if text.startswith("bars_") else infer_step_ns(ts)
    prices = {n: floats(frame[columns[n]], n, loc) for n in ("open", "high", "low", "close")}
    volume = (
        floats(frame[columns["volume"]], "volume", loc)
        if "volume" in columns
        else np.zeros(frame.height)
    )
    bars = pl.DataFrame(
        {
            "ts_event": ts,
            "ts_init": ts + step,
            **prices,
            "volume": volume,
            "complete": np.ones(frame.height, dtype=np.bool_),
        }
    )
    return Imported(iid, DataType.bars(step), bars)


def _trades_frame(
    ts: np.ndarray,
    frame: pl.DataFrame,
    columns: Mapping[str, str],
    loc: Locator,
    opts: ImportOptions,
) -> pl.DataFrame:
    side = (
        _aggressor(frame[columns["side"]], loc)
        if "side" in columns
        else np.zeros(frame.height, dtype=np.int8)
    )
    ids = (
        frame[columns["trade_id"]].cast(pl.String).str.strip_chars().fill_null("")
        if "trade_id" in columns
        else pl.Series(values=[""] * frame.height, dtype=pl.String)
    )
    return pl.DataFrame(
        {
            "ts_event": ts,
            "ts_init": _ts_init(ts, frame, columns, loc, opts),
            "price": floats(frame[columns["price"]], "price", loc),
            "size": floats(frame[columns["size"]], "size", loc),
            "aggressor": side,
            "trade_id": ids,
        }
    )


def _ts_init(
    ts: np.ndarray,
    frame: pl.DataFrame,
    columns: Mapping[str, str],
    loc: Locator,
    opts: ImportOptions,
) -> np.ndarray:
    """The receive time when the file has one, else the event time."""
    if "ts_init" not in columns:
        return ts
    return timestamps_ns(frame[columns["ts_init"]], None, opts.timezone, loc)


def _aggressor(column: pl.Series, loc: Locator) -> np.ndarray:
    """0 unknown, 1 buyer, 2 seller, from a side (buy/sell) or a buyer-is-maker flag."""
    name = column.name.strip().lower()
    maker_flag = "maker" in name or name == "m"
    if column.dtype == pl.Boolean:
        flags = column.to_numpy()
        return np.where(flags, 2, 1).astype(np.int8) if maker_flag else flags.astype(np.int8)
    text = column.cast(pl.String).str.strip_chars().str.to_lowercase().fill_null("")
    if maker_flag:
        table = {**dict.fromkeys(_TRUE, 2), **dict.fromkeys(_FALSE, 1), "": 0}
    else:
        table = {**dict.fromkeys(_BUYER, 1), **dict.fromkeys(_SELLER, 2), "": 0, "none": 0}
    codes = text.replace_strict(table, default=-1, return_dtype=pl.Int8).to_numpy()
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        expected = "true/false" if maker_flag else "buy/sell"
        raise loc.error(int(bad[0]), f"side {column[int(bad[0])]!r} is not {expected}")
    return codes


# ------------------------------------------------------------------------------ shared data


def _shared(frame: pl.DataFrame, loc: Locator, opts: ImportOptions) -> list[Imported]:
    """One instrument per market and symbol of the shared Binance tick/quote files."""
    kind = "quotes" if "bid_px" in frame.columns or "bid_price" in frame.columns else "trades"
    if kind == "trades" and "trade_ts_ms" in frame.columns:
        frame = frame.drop("event_ts_ms", strict=False)  # the trade's own time is the event
    if kind == "quotes" and "txn_ts_ms" in frame.columns:
        # spot book tickers carry no exchange time: they are stamped when received
        frame = frame.with_columns(
            pl.when(pl.col("txn_ts_ms").fill_null("") == "")
            .then((pl.col("local_ts_ns").cast(pl.Int64) // 1_000_000).cast(pl.String))
            .otherwise(pl.col("txn_ts_ms"))
            .alias("txn_ts_ms")
        ).drop("event_ts_ms", strict=False)
        opts = replace(opts, columns={"ts_event": "txn_ts_ms", **opts.columns})
    venue_opts = opts if opts.venue else replace(opts, venue="BINANCE")
    out = []
    groups = frame.group_by(["market", "symbol"], maintain_order=True)
    for (market, symbol), part in groups:
        unified = _SHARED_MARKETS.get(str(market))
        if unified is None:
            raise loc.file_error(f"unknown market {market!r} (expected spot, usdm or cm)")
        sub = replace(venue_opts, data_type=kind)
        out.append(_converted(part, loc, sub, kind, str(symbol), unified))
    return out


# ------------------------------------------------------------------------------ Binance


def _binance(path: Path, data: bytes, kind: str, opts: ImportOptions) -> Imported:
    if kind != "text":
        raise DataError(f"{path}: a Binance dump is CSV (optionally zipped); this is {kind}")
    match = _BINANCE_NAME.search(path.name)
    what = match.group("what") if match else None
    first = data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    fields = first.split(",")
    has_header = not _is_number(fields[0])
    content = (
        what if what in ("trades", "aggTrades") else "klines" if what else _guess_binance(fields)
    )
    names = _BINANCE_COLUMNS[content]
    if not (len(names) - 1 <= len(fields) <= len(names)):
        raise DataError(
            f"{path}: line 1: {len(fields)} columns, but a Binance {content} file has "
            f"{len(names) - 1} (futures) or {len(names)} (spot)"
        )
    frame = csv_frame(data, path, has_header=has_header)
    frame.columns = list(names[: frame.width])
    loc = Locator(str(path), is_parquet=False, header=has_header)
    market = "linear" if "/futures/um/" in str(path) else "spot"
    market = "inverse" if "/futures/cm/" in str(path) else market
    raw = match.group("symbol") if match else None
    if opts.symbol is None and raw is None:
        raise ConfigError(f"{path}: the file name does not give the symbol; give one")
    symbol = opts.symbol or unified_symbol(str(raw), market)
    sub = replace(opts, symbol=symbol, venue=opts.venue or "BINANCE", columns={})
    if content == "klines":
        step = what if what and what != "1mo" else None
        data_type = f"bars_{step}" if step else "bars"
        return _converted(frame, loc, replace(sub, data_type=data_type), "bars", symbol, market)
    side = "is_buyer_maker"
    mapping = {
        "ts_event": "time" if content == "trades" else "transact_time",
        "price": "price",
        "size": "qty" if content == "trades" else "quantity",
        "side": side,
        "trade_id": "id" if content == "trades" else "agg_trade_id",
    }
    sub = replace(sub, columns=mapping, data_type="trades")
    return _converted(frame, loc, sub, "trades", symbol, market)


def _guess_binance(fields: Sequence[str]) -> str:
    """Klines have 12 columns; trades 6-7 and aggTrades 7-8 (by their header names if any)."""
    if len(fields) >= 11:
        return "klines"
    lowered = [f.lower() for f in fields]
    if "agg_trade_id" in lowered or len(fields) == 8:
        return "aggTrades"
    return "trades"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------ freqtrade


def _freqtrade(path: Path, data: bytes, kind: str, opts: ImportOptions) -> Imported:
    match = _FREQTRADE_NAME.search(path.name)
    if opts.symbol is None and match is None:
        raise ConfigError(f"{path}: not a freqtrade file name (PAIR-TIMEFRAME.json); give a symbol")
    symbol = opts.symbol or _freqtrade_symbol(match.group("pair") if match else "")
    # freqtrade keeps data in user_data/data/<exchange>/[futures/]
    folder = path.parent.parent if path.parent.name == "futures" else path.parent
    venue = opts.venue or folder.name
    what = match.group("what") if match else None
    is_trades = what == "trades"
    loc = Locator(str(path), is_parquet=True)
    if kind == "ipc":
        frame, _ = _table_frame(path, data, kind)
    elif kind == "text":
        frame = _freqtrade_json(data, path, is_trades)
    else:
        raise DataError(f"{path}: a freqtrade file is JSON or Feather; this is {kind}")
    sub = replace(
        opts,
        symbol=symbol,
        venue=venue.upper(),
        data_type="trades" if is_trades else (f"bars_{what}" if what else "bars"),
        columns={"ts_event": "timestamp", "size": "amount", "trade_id": "id"}
        if is_trades
        else {"ts_event": "date"},
    )
    if what is not None and what.endswith("M"):  # freqtrade's month timeframe
        raise ConfigError(f"{path}: monthly bars vary in length; import daily bars instead")
    return _converted(frame, loc, sub, "trades" if is_trades else "bars", symbol, "spot")


def _freqtrade_symbol(pair: str) -> str:
    """``BTC_USDT`` → ``BTC/USDT``; ``BTC_USDT_USDT`` (futures) → ``BTC/USDT:USDT``."""
    parts = pair.split("_")
    return f"{parts[0]}/{parts[1]}:{parts[2]}" if len(parts) == 3 else f"{parts[0]}/{parts[1]}"


def _freqtrade_json(data: bytes, path: Path, is_trades: bool) -> pl.DataFrame:
    """freqtrade's JSON: a list of rows, [date, o, h, l, c, v] or its trade columns."""
    try:
        rows = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    names = _FREQTRADE_TRADE_COLUMNS if is_trades else _FREQTRADE_OHLCV_COLUMNS
    if not isinstance(rows, list) or not rows:
        raise DataError(f"{path}: expected a non-empty JSON list of rows")
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            raise DataError(
                f"{path}: row {i + 1}: expected a list of {len(names)} values, got {row!r}"
            )
    try:
        return pl.DataFrame(rows, schema=list(names), orient="row", infer_schema_length=None)
    except (pl.exceptions.PolarsError, TypeError):  # mixed types: text, converted per column
        text = [[None if v is None else str(v) for v in row] for row in rows]
        return pl.DataFrame(text, schema=dict.fromkeys(names, pl.String), orient="row")
