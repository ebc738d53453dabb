"""Importers on real data written in each format, and precise errors for broken files."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from pathlib import Path

import msgspec
import pandas as pd
import pytest

from ttquant.core.errors import ConfigError, DataError
from ttquant.data.importers import ImportOptions, import_file, unified_symbol
from ttquant.data.schema import DataType

MS = 1_000_000


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def minutes(shared_data: Path) -> list[dict[str, str]]:
    rows = _csv_rows(shared_data / "bars_1m" / "binance_spot_SUIUSDT_1m_2024.csv.gz")
    return rows[:1440]  # 2024-01-01


@pytest.fixture(scope="module")
def spot_trades(shared_data: Path) -> list[dict[str, str]]:
    rows = _csv_rows(shared_data / "ticks" / "binance_BTC_trades_20240808-09.csv.gz")
    return [r for r in rows if r["market"] == "spot"][:3000]


def _zip(path: Path, member: str, text: str) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, text)
    return path


def _klines_text(rows: list[dict[str, str]], header: bool, scale: int = 1) -> str:
    lines = []
    if header:
        lines.append(
            "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
            "taker_buy_volume,taker_buy_quote_volume,ignore"
        )
    for r in rows:
        t = int(r["ts"])
        lines.append(
            f"{t * scale},{r['open']},{r['high']},{r['low']},{r['close']},{r['volume']},"
            f"{(t + 59_999) * scale},0,0,0,0,0"
        )
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("header", "scale"), [(False, 1), (True, 1), (False, 1000)])
def test_binance_klines_zip(
    tmp_path: Path, minutes: list[dict[str, str]], header: bool, scale: int
) -> None:
    path = _zip(
        tmp_path / "SUIUSDT-1m-2024-01-01.zip",
        "SUIUSDT-1m-2024-01-01.csv",
        _klines_text(minutes, header, scale),
    )
    (item,) = import_file(path)
    assert (item.instrument, item.data_type) == ("SUI/USDT@BINANCE", DataType.bars("1m"))
    frame = item.frame
    assert frame["ts_event"].to_list() == [int(r["ts"]) * MS for r in minutes]
    assert frame["ts_init"].to_list() == [(int(r["ts"]) + 60_000) * MS for r in minutes]
    for name in ("open", "high", "low", "close", "volume"):
        assert frame[name].to_list() == [float(r[name]) for r in minutes], name
    assert frame["complete"].all()


def test_binance_trades_and_agg_trades(
    tmp_path: Path, spot_trades: list[dict[str, str]], shared_data: Path
) -> None:
    text = "".join(
        f"{r['trade_id']},{r['price']},{r['qty']},0,{r['trade_ts_ms']},{r['is_buyer_maker']},True\n"
        for r in spot_trades
    )
    path = _zip(tmp_path / "BTCUSDT-trades-2024-08-08.zip", "BTCUSDT-trades-2024-08-08.csv", text)
    (item,) = import_file(path)
    assert (item.instrument, item.data_type.kind) == ("BTC/USDT@BINANCE", "trades")
    assert item.frame["trade_id"].to_list() == [r["trade_id"] for r in spot_trades]
    assert item.frame["price"].to_list() == [float(r["price"]) for r in spot_trades]
    assert item.frame["size"].to_list() == [float(r["qty"]) for r in spot_trades]
    maker = [r["is_buyer_maker"] == "True" for r in spot_trades]
    assert item.frame["aggressor"].to_list() == [2 if m else 1 for m in maker]

    # aggTrades in the futures layout (header, 7 columns), from real REST aggTrade objects
    raw = shared_data / "raw_messages" / "freqtrade"
    trades = json.loads(gzip.decompress(next(raw.iterdir()).read_bytes()))[:2000]
    agg = [t["info"] for t in trades]
    lines = [
        "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
    ]
    lines += [f"{a['a']},{a['p']},{a['q']},{a['f']},{a['l']},{a['T']},{a['m']}" for a in agg]
    path = tmp_path / "futures" / "um" / "XRPETH-aggTrades-2019-10-11.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    (item,) = import_file(path)
    assert item.instrument == "XRP/ETH:ETH@BINANCE"  # a USDⓈ-M folder: a linear perpetual
    assert item.frame["ts_event"].to_list() == [int(a["T"]) * MS for a in agg]
    assert item.frame["trade_id"].to_list() == [str(a["a"]) for a in agg]
    assert item.frame["aggressor"].to_list() == [2 if a["m"] else 1 for a in agg]


def test_freqtrade_json_gz_and_feather(tmp_path: Path, minutes: list[dict[str, str]]) -> None:
    rows = [
        [int(r["ts"]), *(float(r[n]) for n in ("open", "high", "low", "close", "volume"))]
        for r in minutes
    ]
    folder = tmp_path / "binance"
    folder.mkdir()
    (folder / "SUI_USDT-1m.json").write_bytes(msgspec.json.encode(rows))
    (folder / "SUI_USDT-5m.json.gz").write_bytes(gzip.compress(msgspec.json.encode(rows[::5])))
    pdf = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])
    pdf["date"] = pd.to_datetime(pdf["date"], unit="ms", utc=True)
    pdf.to_feather(folder / "SUI_USDT-1m.feather")
    json_item = import_file(folder / "SUI_USDT-1m.json")[0]
    feather_item = import_file(folder / "SUI_USDT-1m.feather")[0]
    gz_item = import_file(folder / "SUI_USDT-5m.json.gz")[0]
    assert json_item.instrument == feather_item.instrument == "SUI/USDT@BINANCE"
    assert json_item.frame.equals(feather_item.frame)
    assert json_item.frame["close"].to_list() == [r[4] for r in rows]
    assert gz_item.data_type == DataType.bars("5m")
    assert gz_item.frame.height == 288


def test_freqtrade_trades_json(tmp_path: Path, shared_data: Path) -> None:
    source = _csv_rows(
        shared_data / "ticks" / "freqtrade_binance_XRPETH_aggtrades_20191011-13.csv.gz"
    )
    rows = [
        [
            int(r["timestamp_ms"]),
            r["id"],
            None,
            r["side"],
            float(r["price"]),
            float(r["amount"]),
            float(r["cost"]),
        ]
        for r in source
    ]
    path = tmp_path / "binance" / "XRP_ETH-trades.json"
    path.parent.mkdir()
    path.write_bytes(msgspec.json.encode(rows))
    (item,) = import_file(path)
    assert (item.instrument, item.frame.height) == ("XRP/ETH@BINANCE", 12_477)
    assert item.frame["trade_id"].to_list() == [r["id"] for r in source]
    assert item.frame["aggressor"].to_list() == [1 if r["side"] == "buy" else 2 for r in source]


def test_generic_table_with_a_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text(
        "Time,B,A,BQ,AQ\n2024-01-01T00:00:00.5,1.1,1.2,5,6\n2024-01-01T00:00:01,1.1,1.3,5,7\n"
    )
    (item,) = import_file(
        path,
        ImportOptions(
            symbol="EUR/USD",
            venue="OANDA",
            data_type="quotes",
            columns={
                "ts_event": "Time",
                "bid_price": "B",
                "ask_price": "A",
                "bid_size": "BQ",
                "ask_size": "AQ",
            },
            timezone="Europe/London",  # winter: London is UTC
        ),
    )
    assert item.frame["ts_event"].to_list() == [
        1_704_067_200_500_000_000,
        1_704_067_201_000_000_000,
    ]
    assert item.frame["ask_size"].to_list() == [6.0, 7.0]


def test_unified_symbols() -> None:
    assert unified_symbol("BTCUSDT") == "BTC/USDT"
    assert unified_symbol("ETHBTC") == "ETH/BTC"
    assert unified_symbol("BTCUSDT", "linear") == "BTC/USDT:USDT"
    assert unified_symbol("BTCUSD_PERP", "inverse") == "BTC/USD:BTC"
    assert unified_symbol("BTCUSD_240927", "inverse") == "BTC/USD:BTC-240927"


# ------------------------------------------------------------------------------ bad files


def test_a_truncated_gzip_is_named_as_such(tmp_path: Path, shared_data: Path) -> None:
    whole = (shared_data / "bars_1m" / "binance_spot_SUIUSDT_1m_2024.csv.gz").read_bytes()
    path = tmp_path / "bars.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(
        DataError, match=r"bars.csv.gz: truncated gzip file: the compressed data ends"
    ):
        import_file(path, ImportOptions(symbol="SUI/USDT", venue="BINANCE", data_type="bars"))


def test_a_corrupt_zip_is_named_as_such(tmp_path: Path, minutes: list[dict[str, str]]) -> None:
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.csv", _klines_text(minutes, False))
    data = bytearray(good.getvalue())
    data[len(data) // 3] ^= 0xFF  # one flipped byte in the compressed member
    path = tmp_path / "SUIUSDT-1m-2024-01-01.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"SUIUSDT-1m-2024-01-01.zip: corrupt"):
        import_file(path)


def test_wrong_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text("time,cost,qty\n1704067200000,5,1\n")
    with pytest.raises(
        DataError, match=r"trades.csv: line 1: missing column for price \(one of price"
    ):
        import_file(path, ImportOptions(symbol="BTC/USDT", venue="X", data_type="trades"))
    binance = tmp_path / "BTCUSDT-1m-2024-01-01.csv"
    binance.write_text("1704067200000,1,2,0.5,1.5\n")
    with pytest.raises(DataError, match=r"line 1: 5 columns, but a Binance klines file has 11"):
        import_file(binance)


def test_mixed_timestamp_units_are_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(
        "ts,open,high,low,close\n"
        "1704067200000,1,1,1,1\n1704067260000,1,1,1,1\n1704067320,1,1,1,1\n1704067380000,1,1,1,1\n"
    )
    with pytest.raises(
        DataError,
        match=r"bars.csv: line 4: timestamp 1704067320 looks like seconds but most timestamps "
        r"are in milliseconds \(mixed units\)",
    ):
        import_file(path, ImportOptions(symbol="BTC/USDT", venue="X", data_type="bars_1m"))


def test_other_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("time,price,qty,side\n1704067200000,1,1,buy\n1704067200001,1,1,up\n")
    with pytest.raises(DataError, match=r"t.csv: line 3: side 'up' is not buy/sell"):
        import_file(path, ImportOptions(symbol="BTC/USDT", venue="X", data_type="trades"))
    path.write_text("time,price,qty\n1704067200000,1,1\n1704067200001,x,1\n")
    with pytest.raises(DataError, match=r"line 3: price 'x' is not a number"):
        import_file(path, ImportOptions(symbol="BTC/USDT", venue="X", data_type="trades"))
    with pytest.raises(ConfigError, match="say what the file holds"):
        import_file(path, ImportOptions(symbol="BTC/USDT", venue="X"))
    with pytest.raises(DataError, match="file not found"):
        import_file(tmp_path / "missing.csv")
    (tmp_path / "bin.csv").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(DataError, match="binary content"):
        import_file(tmp_path / "bin.csv")
