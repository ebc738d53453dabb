"""Binance parsers fed every kind of real message we have: live captures and the API's examples.

Values are checked against independent derivations of the same captures (the shared ``ticks``
CSVs were made from the raw feed by other code) and against the documented examples.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import msgspec
import pytest
from tests.conftest import SHARED_DATA

from ttquant.model.data import Bar, QuoteTick
from ttquant.model.enums import AccountType, AggressorSide, LiquiditySide, OrderSide, OrderType
from ttquant.venues.binance import messages as m
from ttquant.venues.binance import parse
from ttquant.venues.binance.adapter import BinanceAdapter, BinanceConfig
from ttquant.venues.reports import ReportStatus

FEEDS = SHARED_DATA / "raw_feeds" / "hftbacktest_binance"
CAPTURES = SHARED_DATA / "raw_messages" / "cryptofeed_captures"
FIXTURES = SHARED_DATA / "raw_messages" / "nautilus_fixtures" / "binance"
IID = "BTC/USDT@BINANCE"

_frame = msgspec.json.Decoder(m.Envelope)
_trade = msgspec.json.Decoder(m.Trade, strict=False)
_agg = msgspec.json.Decoder(m.AggTrade, strict=False)
_ticker = msgspec.json.Decoder(m.BookTicker, strict=False)
_depth = msgspec.json.Decoder(m.DepthUpdate, strict=False)
_kline = msgspec.json.Decoder(m.Kline, strict=False)
_exec = msgspec.json.Decoder(m.ExecutionReport, strict=False)
_otu = msgspec.json.Decoder(m.OrderTradeUpdate, strict=False)


def _frames(path: Path) -> list[tuple[int, str, bytes]]:
    out = []
    with gzip.open(path, "rb") as handle:
        for line in handle:
            ts, _, body = line.partition(b" ")
            frame = _frame.decode(body)
            if frame.data:
                out.append((int(ts), frame.stream, bytes(frame.data)))
    return out


@pytest.fixture(scope="module")
def spot_frames() -> list[tuple[int, str, bytes]]:
    return _frames(FEEDS / "spot_btcusdt_20240808.jsonl.gz") + _frames(
        FEEDS / "spot_btcusdt_20240809.jsonl.gz"
    )


def _reference(name: str, market: str) -> list[dict[str, str]]:
    with gzip.open(SHARED_DATA / "ticks" / name, "rt") as handle:
        return [row for row in csv.DictReader(handle) if row["market"] == market]


def test_every_spot_trade_matches_the_derived_tick_file(spot_frames: list) -> None:
    ticks = [
        parse.trade_tick(_trade.decode(data), IID, ts)
        for ts, stream, data in spot_frames
        if stream.endswith("@trade")
    ]
    reference = _reference("binance_BTC_trades_20240808-09.csv.gz", "spot")
    assert len(ticks) == len(reference) == 19_904
    for tick, row in zip(ticks, reference, strict=True):
        assert tick.trade_id == row["trade_id"]
        assert tick.price == float(row["price"]) and tick.size == float(row["qty"])
        assert tick.ts_event == int(row["trade_ts_ms"]) * 1_000_000
        assert tick.ts_init == int(row["local_ts_ns"])
        seller_aggressed = row["is_buyer_maker"] == "True"
        assert tick.aggressor_side is (
            AggressorSide.SELLER if seller_aggressed else AggressorSide.BUYER
        )


def test_every_futures_book_ticker_matches_the_derived_quote_file() -> None:
    frames = _frames(FEEDS / "usdm_btcusdt_20240808.jsonl.gz")
    quotes = [
        parse.quote_tick(_ticker.decode(d), "BTC/USDT:USDT@BINANCEUSDM", ts)
        for ts, stream, d in frames
        if stream.endswith("@bookTicker")
    ]
    reference = _reference("binance_BTC_bookticker_20240808-09.csv.gz", "usdm")
    assert len(quotes) == len(reference) == 66_089
    for quote, row in zip(quotes, reference, strict=True):
        assert (quote.bid_price, quote.bid_size) == (float(row["bid_px"]), float(row["bid_qty"]))
        assert (quote.ask_price, quote.ask_size) == (float(row["ask_px"]), float(row["ask_qty"]))
        assert quote.ts_event == int(row["txn_ts_ms"]) * 1_000_000


def test_spot_book_ticker_without_exchange_time_is_stamped_on_arrival(spot_frames: list) -> None:
    ts, _, data = next(f for f in spot_frames if f[1].endswith("@bookTicker"))
    quote = parse.quote_tick(_ticker.decode(data), IID, ts)
    assert quote.ts_event == quote.ts_init == ts


def test_every_depth_diff_decodes_with_ordered_update_ids(spot_frames: list) -> None:
    diffs = [_depth.decode(d) for _, s, d in spot_frames if "@depth" in s]
    assert len(diffs) == 3_451 + 3_044
    assert all(d.first_id <= d.last_id for d in diffs)
    assert all(b[1] >= 0 for d in diffs for b in d.bids + d.asks)


def test_cryptofeed_capture_kinds_decode() -> None:
    """The 2021 combined stream: depth, bookTicker, 1m klines and aggTrades of four symbols."""
    kinds: dict[str, int] = {}
    bars: list[Bar] = []
    for line in (CAPTURES / "BINANCE.ws.1.0.txt").read_bytes().splitlines():
        head, sep, body = line.partition(b": ")
        if not sep or b" " in head:
            continue
        frame = _frame.decode(body)
        kind = frame.stream.split("@")[1]
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind == "aggTrade":
            tick = parse.trade_tick(_agg.decode(frame.data), "X@BINANCE", 0)
            assert tick.price > 0 and tick.size > 0
        elif kind.startswith("kline"):
            bar = parse.closed_bar(_kline.decode(frame.data), "X@BINANCE", 0)
            if bar is not None:
                bars.append(bar)
        elif kind == "bookTicker":
            quote = parse.quote_tick(_ticker.decode(frame.data), "X@BINANCE", 1)
            assert quote.bid_price < quote.ask_price
        else:
            _depth.decode(frame.data)
    assert set(kinds) == {"depth", "bookTicker", "kline_1m", "aggTrade"}
    assert not bars  # the capture's 12 seconds close no candle


def test_closed_kline_becomes_a_bar_and_an_open_one_does_not() -> None:
    closed = _kline.decode(
        (FIXTURES / "futures/market_data_json/kline_stream_closed.json").read_bytes()
    )
    bar = parse.closed_bar(closed, "BTC/USDT:USDT@BINANCEUSDM", 0)
    assert isinstance(bar, Bar)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        0.001,
        0.0025,
        0.001,
        0.002,
        1000.0,
    )
    assert bar.ts_event == 1638747660000 * 1_000_000
    assert bar.ts_init == 1638747720000 * 1_000_000  # the close: T + 1 ms
    assert str(bar.bar_type) == "BTC/USDT:USDT@BINANCEUSDM:1m"
    opened = _kline.decode(
        (FIXTURES / "futures/market_data_json/kline_stream_open.json").read_bytes()
    )
    assert parse.closed_bar(opened, "BTC/USDT:USDT@BINANCEUSDM", 0) is None


@pytest.mark.parametrize(
    "name",
    [
        "trade_stream.json",
        "agg_trade_stream.json",
        "book_ticker_stream.json",
        "depth_update_stream.json",
    ],
)
def test_futures_stream_examples_decode(name: str) -> None:
    raw = (FIXTURES / "futures/market_data_json" / name).read_bytes()
    decoder = {
        "trade_stream.json": _trade,
        "agg_trade_stream.json": _agg,
        "book_ticker_stream.json": _ticker,
        "depth_update_stream.json": _depth,
    }[name]
    decoded = decoder.decode(raw)
    if isinstance(decoded, m.DepthUpdate):
        assert (decoded.first_id, decoded.last_id, decoded.prev_last_id) == (157, 160, 149)
    elif isinstance(decoded, m.BookTicker):
        assert isinstance(parse.quote_tick(decoded, IID, 0), QuoteTick)
    else:
        assert parse.trade_tick(decoded, IID, 0).aggressor_side is AggressorSide.SELLER


def test_execution_report_trade_carries_the_fill() -> None:
    report = parse.execution_report(
        _exec.decode((FIXTURES / "spot/user_data_json/execution_report_trade.json").read_bytes())
    )
    assert report.status is ReportStatus.FILLED
    assert (report.venue_client_id, report.venue_order_id) == (
        "x-TD67BGP9-T0000000000000",
        "12345678",
    )
    assert report.filled_qty == 1.0 and report.order_type is OrderType.LIMIT
    fill = report.fill
    assert fill is not None
    assert (fill.trade_id, fill.last_qty, fill.last_px) == ("98765432", 1.0, 2500.0)
    assert (fill.commission, fill.commission_currency) == (0.001, "ETH")
    assert fill.liquidity_side is LiquiditySide.MAKER and fill.side is OrderSide.BUY


@pytest.mark.parametrize(
    ("name", "status", "order_type"),
    [
        ("execution_report_new.json", ReportStatus.NEW, OrderType.LIMIT),
        ("execution_report_canceled.json", ReportStatus.CANCELED, OrderType.LIMIT),
        ("execution_report_expired.json", ReportStatus.EXPIRED, None),
        ("execution_report_stop_loss.json", None, OrderType.STOP_LIMIT),
    ],
)
def test_execution_report_states(
    name: str, status: ReportStatus | None, order_type: OrderType | None
) -> None:
    report = parse.execution_report(
        _exec.decode((FIXTURES / "spot/user_data_json" / name).read_bytes())
    )
    assert report.fill is None
    if status is not None:
        assert report.status is status
    if order_type is not None:
        assert report.order_type is order_type


def test_cancel_report_names_the_order_by_its_original_client_id() -> None:
    raw = json.loads((FIXTURES / "spot/user_data_json/execution_report_canceled.json").read_text())
    raw.update(c="cancelRequest1", C="ttqOurOrder1")
    report = parse.execution_report(_exec.decode(json.dumps(raw).encode()))
    assert report.venue_client_id == "ttqOurOrder1"


@pytest.mark.parametrize(
    ("name", "status", "filled", "has_fill"),
    [
        ("order_update_new.json", None, None, False),
        ("order_update_trade.json", ReportStatus.PARTIALLY_FILLED, 0.001, True),
        ("order_update_trade_partial.json", None, None, True),
        ("order_update_calculated.json", None, None, None),
        ("order_update_adl.json", None, None, None),
        ("order_update_insurance.json", None, None, None),
        ("order_update_delivery.json", None, None, None),
        ("order_update_settlement.json", None, None, None),
    ],
)
def test_futures_order_trade_updates(
    name: str, status: ReportStatus | None, filled: float | None, has_fill: bool | None
) -> None:
    update = _otu.decode((FIXTURES / "futures/user_data_json" / name).read_bytes())
    report = parse.execution_report(update.order)
    if status is not None:
        assert report.status is status
    if filled is not None:
        assert report.filled_qty == filled
    if has_fill is not None:
        assert (report.fill is not None) is has_fill


def test_account_messages_become_account_states() -> None:
    position = msgspec.json.decode(
        (FIXTURES / "spot/user_data_json/account_position.json").read_bytes(),
        type=m.AccountPosition,
        strict=False,
    )
    state = parse.spot_account_state(position, "BINANCE", "USDT", 0)
    assert state.account_type is AccountType.CASH
    assert state.balances == {"USDT": (12_500.0, 2_500.0), "ETH": (5.0, 0.0)}
    update = msgspec.json.decode(
        (FIXTURES / "futures/user_data_json/account_update.json").read_bytes(),
        type=m.AccountUpdate,
        strict=False,
    )
    futures = parse.futures_account_state(update, "BINANCEUSDM", "USDT", 0)
    assert futures.balances == {"USDT": (122_624.12345678, 0.0)}
    positions = parse.position_reports(update, {"BTCUSDT": "BTC/USDT:USDT@BINANCEUSDM"}, 0)
    assert [(p.quantity, p.entry_price) for p in positions] == [(0.0, 0.0)]  # one-way (BOTH) only


def test_rest_answers_decode() -> None:
    rest = FIXTURES / "spot/http_json"
    full = msgspec.json.decode(
        (rest / "new_order_full_response.json").read_bytes(), type=m.RestOrder, strict=False
    )
    report = parse.rest_order(full, 0)
    fills = parse.rest_order_fills(full, report.ts_event)
    assert report.status is ReportStatus.FILLED and report.filled_qty == 10.0
    assert sum(f.last_qty for f in fills) == report.filled_qty
    assert [f.trade_id for f in fills] == ["56", "57", "58", "59", "60"]
    cancel = msgspec.json.decode(
        (rest / "cancel_order_response.json").read_bytes(), type=m.RestOrder, strict=False
    )
    assert (
        parse.rest_order(cancel, 0).venue_client_id == "myOrder1"
    )  # origClientOrderId, not the cancel's
    trades = msgspec.json.decode(
        (rest / "account_trades_response.json").read_bytes(), type=list[m.RestTrade], strict=False
    )
    fill = parse.rest_trade(trades[0], "myOrder1")
    assert (fill.side, fill.liquidity_side, fill.commission_currency) == (
        OrderSide.BUY,
        LiquiditySide.TAKER,
        "BNB",
    )
    for name in ("open_orders_response.json", "all_orders_response.json"):
        orders = msgspec.json.decode(
            (rest / name).read_bytes(), type=list[m.RestOrder], strict=False
        )
        assert all(parse.rest_order(o, 0).quantity > 0 for o in orders)
    account = msgspec.json.decode(
        (rest / "account_response.json").read_bytes(), type=m.SpotAccount, strict=False
    )
    assert parse.spot_account_state(account, "BINANCE", "USDT", 0).balances
    snapshot = msgspec.json.decode(
        (rest / "depth_response.json").read_bytes(), type=m.DepthSnapshot, strict=False
    )
    assert snapshot.bids and snapshot.asks
    futures = FIXTURES / "futures/http_json"
    order = msgspec.json.decode(
        (futures / "order_response.json").read_bytes(), type=m.RestOrder, strict=False
    )
    assert parse.rest_order(order, 0).status is ReportStatus.NEW
    risk = msgspec.json.decode(
        (futures / "position_risk.json").read_bytes(), type=list[m.PositionRisk], strict=False
    )
    [pos] = parse.position_reports(risk, {"BTCUSDT": "BTC/USDT:USDT@BINANCEUSDM"}, 0)
    assert (pos.quantity, pos.entry_price) == (0.001, 50000.0)
    balances = msgspec.json.decode(
        (futures / "balance.json").read_bytes(), type=list[m.FuturesAssetBalance], strict=False
    )
    assert (
        parse.futures_account_state(balances, "BINANCEUSDM", "USDT", 0).balances["USDT"][0]
        == 122.12345678
    )


def test_wrapped_user_events_are_unwrapped() -> None:
    """WebSocket-API subscriptions wrap events as {"subscriptionId", "event"}: same handling."""
    from ttquant.testvenue.instruments import BINANCE_SPOT_BTCUSDT

    adapter = BinanceAdapter(BinanceConfig(), [BINANCE_SPOT_BTCUSDT])
    states: list[object] = []
    adapter.set_event_handler(states.append)
    adapter._on_user_message(
        (FIXTURES / "spot/user_data_json/account_position_wrapped.json").read_bytes()
    )
    assert len(states) == 1 and getattr(states[0], "balances", None) == {"ETH": (10_000.0, 0.0)}
